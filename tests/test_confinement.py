"""Symbolic links never lead ingestion out of where it may read.

A server reads only below ``server.allowed_roots`` (and its own uploads and
notes), whatever links inside those folders point to; the CLI follows links that
stay inside the source folder and reports the others (``ingest.symlinks``).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from mnemo import api
from mnemo.config import load_settings
from mnemo.library import Library
from mnemo.server.mcp_server import _Tools
from serverutil import serving


def _outside(root: Path) -> Path:
    """A folder beside the allowed one, holding a secret."""
    outside = root / "outside"
    outside.mkdir()
    (outside / "shadow.txt").write_text("root:$6$saltsalt$secrethash:19000:0:99999:7:::\n")
    (outside / "deep").mkdir()
    (outside / "deep" / "keys.md").write_text("# Keys\n\nThe vault password is hunter2-falcon.\n")
    return outside


def _allowed_with_links(root: Path, outside: Path) -> Path:
    allowed = root / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "sub" / "owls.md").write_text("# Owls\n\nOwls can turn their heads 270 degrees.\n")
    (allowed / "sub" / "etclink").symlink_to(outside)  # a folder link leaving the root
    (allowed / "sub" / "pw.txt").symlink_to(outside / "shadow.txt")  # a file link
    (allowed / "sub" / "proc.txt").symlink_to("/proc/self/status")
    (allowed / "inside.md").symlink_to(allowed / "sub" / "owls.md")  # stays inside: fine
    return allowed


def _wait(client: httpx.Client, job_id: str) -> dict[str, object]:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_server_never_reads_through_a_link_out_of_allowed_roots(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    allowed = _allowed_with_links(tmp_path, outside)
    settings = load_settings(
        tmp_path / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "server": {"allowed_roots": [str(allowed)]},
        },
    )
    api.create_collection("default", settings)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        submitted = client.post("/collections/default/sources", json={"path": str(allowed)})
        assert submitted.status_code == 202, submitted.text
        job = _wait(client, submitted.json()["id"])
        assert job["state"] == "done", job
        problems = {f["path"]: f for f in job["report"]["files"] if f["outcome"] != "indexed"}
        for name in ("sub/etclink", "sub/pw.txt", "sub/proc.txt"):
            reason = problems[str(allowed / name)]["reason"]
            assert "server.allowed_roots" in reason
            assert str(outside) not in reason  # the target is not disclosed to the client
        docs = client.get("/collections/default/documents").json()
        paths = {d["path"] for d in docs}
        # the link that stays inside is followed (the first path reaching a file keeps it)
        assert paths == {str(allowed / "inside.md")}
        assert not any("shadow" in p or "keys.md" in p or "proc" in p for p in paths)
        for doc in docs:
            text = client.get(f"/collections/default/documents/{doc['id']}").text
            assert "secrethash" not in text and "hunter2" not in text and "VmRSS" not in text
        found = client.post("/collections/default/search", json={"query": "password hunter2"})
        assert found.status_code == 200 and found.json()["hits"] == []


def test_server_follow_policy_still_stops_at_allowed_roots(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    allowed = _allowed_with_links(tmp_path, outside)
    elsewhere = allowed / "sub" / "more"
    elsewhere.mkdir()
    (elsewhere / "herons.md").write_text("# Herons\n\nHerons wait for fish.\n")
    (allowed / "herons-link").symlink_to(elsewhere)  # a link that stays inside the root
    settings = load_settings(
        tmp_path / "home",
        {
            "ingest": {"workers": 1, "symlinks": "follow"},
            "embedding": {"backend": "none"},
            "server": {"allowed_roots": [str(allowed)]},
        },
    )
    report = api.add([allowed], settings, confine=[allowed])
    indexed = {r.path for r in report.outcomes if r.outcome == "indexed"}
    assert not any("shadow" in p or "keys.md" in p or "proc" in p for p in indexed)
    assert str(allowed / "herons-link" / "herons.md") in indexed or str(
        elsewhere / "herons.md"
    ) in indexed
    assert {r.outcome for r in report.outcomes if "etclink" in r.path} == {"skipped"}


def test_mcp_add_document_is_confined_too(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    allowed = _allowed_with_links(tmp_path, outside)
    settings = load_settings(
        tmp_path / "home",
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "server": {"allowed_roots": [str(allowed)]},
        },
    )
    result = _Tools(Library(settings)).add_document(path=str(allowed / "sub"))
    reasons = {p.path: p.reason for p in result.problems}
    assert "server.allowed_roots" in (reasons[str(allowed / "sub" / "pw.txt")] or "")
    assert "server.allowed_roots" in (reasons[str(allowed / "sub" / "etclink")] or "")
    names = {os.path.basename(d.path) for d in api.documents(settings)}
    assert names == {"owls.md"}


def test_a_server_source_outside_the_roots_is_refused_whole(tmp_path: Path) -> None:
    """A job queued while a folder was allowed reads nothing once it no longer is."""
    outside = _outside(tmp_path)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {"workers": 1}, "embedding": {"backend": "none"},
         "server": {"allowed_roots": [str(allowed)]}},
    )
    report = api.add([outside], settings, confine=[allowed])
    assert report.counts["indexed"] == 0
    assert [r.outcome for r in report.outcomes] == ["skipped"]
    assert "server.allowed_roots" in (report.outcomes[0].reason or "")


@pytest.mark.parametrize(
    ("policy", "followed"), [("within", False), ("follow", True), ("skip", False)]
)
def test_cli_links_leaving_a_source_follow_the_setting(
    tmp_path: Path, policy: str, followed: bool
) -> None:
    outside = _outside(tmp_path)
    vault = tmp_path / "vault"
    (vault / "daily").mkdir(parents=True)
    (vault / "daily" / "today.md").write_text("# Today\n\nBought oat milk.\n")
    (vault / "papers").symlink_to(outside / "deep")  # leaves the vault
    (vault / "today-link.md").symlink_to(vault / "daily" / "today.md")  # stays inside
    settings = load_settings(
        tmp_path / "home",
        {"ingest": {"workers": 1, "symlinks": policy}, "embedding": {"backend": "none"}},
    )
    report = api.add([vault], settings)
    by_path = {r.path: r for r in report.outcomes}
    keys = str(vault / "papers" / "keys.md")
    if followed:
        assert by_path[keys].outcome == "indexed"
    else:
        assert keys not in by_path
    if policy == "within":
        link = by_path[str(vault / "papers")]
        assert link.outcome == "skipped" and 'ingest.symlinks = "follow"' in (link.reason or "")
        # a link that stays inside the vault is followed; the same file is indexed once
        pair = [by_path[str(vault / "daily" / "today.md")], by_path[str(vault / "today-link.md")]]
        assert sorted(o.outcome for o in pair) == ["indexed", "skipped"]
    if policy == "skip":
        assert report.excluded >= 2  # both links left out and counted


def test_old_follow_symlinks_setting_still_loads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "mnemo.toml").write_text("[ingest]\nfollow_symlinks = false\n")
    assert load_settings(home).ingest.symlinks == "skip"
