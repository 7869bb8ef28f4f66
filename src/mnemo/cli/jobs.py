"""`mnemo jobs`: the server's ingestion jobs, listed and cancelled from the terminal."""

from __future__ import annotations

import typer

from mnemo.cli.context import COLLECTION, JSON, library
from mnemo.cli.render import out, print_json

jobs_app = typer.Typer(help="Ingestion jobs of `mnemo serve`: list and cancel them.")


@jobs_app.command("list")
def list_(ctx: typer.Context, collection: str | None = COLLECTION, as_json: bool = JSON) -> None:
    """Jobs, newest first: state, files done, and why one failed."""
    found = library(ctx).jobs(collection=collection)
    if as_json:
        print_json(found)
        return
    if not found:
        out.print("No ingestion jobs: `mnemo serve` runs the ones clients submit.")
        return
    from rich.table import Table

    table = Table("id", "collection", "state", "files", "created", "process", "error")
    for job in found:
        job_state = job.state + (" (cancelling)" if job.cancel_requested else "")
        table.add_row(
            job.id,
            job.collection,
            job_state,
            f"{job.files_done}/{job.files_total}",
            job.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            job.runner,
            job.error or "",
        )
    out.print(table)


@jobs_app.command("cancel")
def cancel(ctx: typer.Context, job_id: str = typer.Argument(..., help="The job's id.")) -> None:
    """Cancel a job: a queued one at once, a running one at its next file."""
    job = library(ctx).cancel_job(job_id)
    if job.cancel_requested:
        out.print(f"job {job.id} asked to stop: the server stops it at its next file")
    elif job.state == "cancelled":
        out.print(f"job {job.id} cancelled")
    else:
        out.print(f"job {job.id} had already ended ({job.state}); nothing to cancel")
