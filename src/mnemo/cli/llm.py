"""`mnemo llm test`: is the language model that writes answers reachable, and how fast."""

from __future__ import annotations

import typer

from mnemo.cli.context import library
from mnemo.cli.render import out

llm_app = typer.Typer(help="Check the language model that writes answers.")


@llm_app.command("test")
def test(ctx: typer.Context) -> None:
    """Send the configured model a tiny request; show its reply, the time and the tokens."""
    found = library(ctx).check_llm()
    if found is None:
        out.print(
            "no LLM configured: answers are extractive (set llm.provider to openai-compatible "
            "or anthropic, e.g. MNEMO_LLM__PROVIDER=openai-compatible, and llm.model)",
            markup=False,
        )
        return
    completion, usage = found.reply, found.reply.usage
    out.print(found.described, markup=False)
    out.print(
        f"answered in {found.seconds:.2f} s: {usage.input_tokens} tokens in, "
        f"{usage.output_tokens} out, finish reason {completion.finish_reason or 'unknown'}",
        markup=False,
    )
    out.print(f"reply: {completion.text.strip() or '(empty)'}", markup=False)
