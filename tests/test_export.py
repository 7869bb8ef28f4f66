"""Getting knowledge back out: whole collections to an archive and back, answers as
Obsidian notes with links to their sources, results and lists as CSV/JSON."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from tests.docgen import pdf

import mnemo
from mnemo.config import Settings
from mnemo.transfer.archive import ArchiveError

NOTES = {
    "Cats.md": "# Cats\n\nCats sleep sixteen hours a day and hunt at dusk. See [[Dogs]].\n",
    "Dogs.md": "# Dogs\n\nDogs were domesticated from wolves thousands of years ago.\n",
    "Tea.md": "# Tea\n\nGreen tea is steamed; black tea is oxidised before drying. #drinks\n",
}


def make_vault(root: Path) -> Path:
    for name, text in NOTES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    pdf(root / "felines.pdf", [["An essay on felines."], ["Cats sleep most of the day, page two."]])
    return root


def results(settings: Settings, query: str) -> list[tuple[str, float]]:
    hits = mnemo.search(query, settings, k=5).hits
    return [(h.path, round(h.score, 5)) for h in hits]


def test_export_wipe_import_gives_the_same_search_results(
    tmp_path: Path, dense_settings: Settings
) -> None:
    vault = make_vault(tmp_path / "vault")
    mnemo.add([vault], dense_settings)
    with mnemo.Library(dense_settings) as library:
        library.start_conversation("About cats")
    queries = ["how long do cats sleep", "wolves", "oxidised tea"]
    before = {q: results(dense_settings, q) for q in queries}
    with mnemo.Library(dense_settings) as library:
        archive = tmp_path / "out" / "notes.zip"
        counts = library.export_collection(archive)
        related_before = [c.path for c in library.related("Cats.md").links]
    assert counts["documents"] == 4 and counts["conversations"] == 1
    assert counts["embeddings"] > 0  # the vectors travel: nothing is embedded again

    shutil.rmtree(dense_settings.home)  # another machine: an empty home
    with mnemo.Library(dense_settings) as library:
        name, counts, _ = library.import_collection(archive)
        assert name == "default"
        assert [c.title for c in library.conversations()] == ["About cats"]
        assert [c.path for c in library.related("Cats.md").links] == related_before
    assert {q: results(dense_settings, q) for q in queries} == before
    assert before["wolves"][0][0].endswith("Dogs.md")

    with mnemo.Library(dense_settings) as library:  # a second import needs another name
        with pytest.raises(ArchiveError, match="exists already"):
            library.import_collection(archive)
        assert library.import_collection(archive, name="copy")[0] == "copy"
    copy = mnemo.load_settings(dense_settings.home, {"collection": "copy"})
    assert results(copy, "wolves") == before["wolves"]


def test_import_checks_the_archive(tmp_path: Path, settings: Settings, cli) -> None:
    mnemo.add([make_vault(tmp_path / "vault")], settings)
    archive = tmp_path / "a.zip"
    assert cli("export", "collection", str(archive)).returncode == 0

    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(newer, "w") as out:
        for item in src.namelist():
            data = src.read(item)
            if item == "manifest.json":
                manifest = json.loads(data)
                manifest["schema"] = "9999"
                data = json.dumps(manifest).encode()
            out.writestr(item, data)
    proc = cli("import", str(newer), "--as", "other")
    assert proc.returncode == 2
    assert "newer Mnemo" in proc.stderr and "upgrade" in proc.stderr
    assert "Traceback" not in proc.stderr

    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    proc = cli("import", str(junk))
    assert proc.returncode == 2 and "not a Mnemo archive" in proc.stderr

    proc = cli("import", str(archive), "--as", "restored")
    assert proc.returncode == 0, proc.stderr
    assert "Imported collection 'restored': 4 document(s)" in proc.stdout


def test_answer_note_links_back_to_its_sources(tmp_path: Path, settings: Settings) -> None:
    vault = make_vault(tmp_path / "vault")
    (vault / ".obsidian").mkdir()
    mnemo.add([vault], settings)
    with mnemo.Library(settings) as library:
        answer = library.ask("how long do cats sleep")
        note = library.answer_note(answer, vault / "Answers")
    text = note.read_text()
    assert note.parent == vault / "Answers" and note.name == "how long do cats sleep.md"
    assert text.startswith('---\ntitle: "how long do cats sleep"')
    assert "[^1]: [[Cats#Cats|Cats]]" in text  # a note of the vault: a wikilink to the section
    assert f"(file://{vault / 'felines.pdf'}#page=1)" in text  # a PDF: a file link to the page
    assert "[[Dogs]]" not in text  # links quoted from a source are not the answer's links
    assert "[^1]:" in text

    # written into the vault, the note is indexed like any other and links to its source
    mnemo.sync(settings)
    with mnemo.Library(settings) as library:
        backlinks = {Path(c.path).name for c in library.related("Cats.md").backlinks}
    assert "how long do cats sleep.md" in backlinks


def test_results_and_lists_as_csv_and_json(tmp_path: Path, settings: Settings, cli) -> None:
    mnemo.add([make_vault(tmp_path / "vault")], settings)
    proc = cli("export", "search", "wolves", "-k", "2")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows[0]["rank"] == "1" and rows[0]["path"].endswith("Dogs.md")
    out = tmp_path / "docs.json"
    assert cli("export", "docs", "--format", "json", "-o", str(out)).returncode == 0
    docs = json.loads(out.read_text())
    assert sorted(Path(d["path"]).name for d in docs) == [
        "Cats.md",
        "Dogs.md",
        "Tea.md",
        "felines.pdf",
    ]
    assert {d["state"] for d in docs} == {"indexed"}
    bad = cli("export", "docs", "--format", "xml")
    assert bad.returncode == 2 and "csv, json" in bad.stderr
