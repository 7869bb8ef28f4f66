"""The note graph: links resolved the Obsidian way, kept in step with sync, read back
as related notes (CLI, Library, REST), exported, and used by search when asked."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from sqlalchemy import select

import mnemo
from mnemo.catalog.models import Document, Edge
from mnemo.config import Settings


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


VAULT = {
    "Alpha.md": "---\naliases: [AI, Thinking machines]\ntags: [ml]\n---\n# Alpha\n\n"
    "See [[Beta#Method]] and [[Beta#^k3]] and [[Nowhere]]. #ml\n",
    "Beta.md": "# Beta\n\n## Method\n\nBack to [[AI]], and [the gamma](sub/Gamma%20one.md#Part).\n",
    "sub/Gamma one.md": "# Gamma\n\n## Part\n\nEmbeds ![[Beta]] and links [[Delta]]. #ml\n",
    "sub/Delta.md": "# Delta near\n\nI am beside Gamma.\n",
    "far/away/Delta.md": "# Delta far\n\nI am far from everyone.\n",
    "Epsilon.md": "# Epsilon\n\n[[Delta]] from the top resolves to the shortest path.\n",
}


def edges(settings: Settings) -> list[tuple[str, str, str, str | None, str | None]]:
    """(source file, kind, origin, target file or None, anchor) for every edge."""
    with mnemo.Library(settings) as library, library.catalog.session() as session:
        paths = dict(session.execute(select(Document.id, Document.path)).all())
        root = Path(settings.home).parent / "vault"
        rel = lambda p: str(Path(p).relative_to(root)) if p else None
        return sorted(
            (
                (rel(paths[e.source_id]), e.kind, e.origin, rel(paths.get(e.target_id)), e.anchor)
                for e in session.scalars(select(Edge).where(Edge.kind != "semantic"))
            ),
            key=str,
        )


@pytest.fixture
def vault(tmp_path: Path, settings: Settings) -> Path:
    root = tmp_path / "vault"
    write(root, VAULT)
    report = mnemo.add([root], settings)
    assert report.counts["indexed"] == len(VAULT)
    return root


def test_links_resolve_like_obsidian(vault: Path, settings: Settings) -> None:
    found = edges(settings)
    # headings and block references are kept with the link
    assert ("Alpha.md", "link", "wikilink", "Beta.md", "Method") in found
    assert ("Alpha.md", "link", "wikilink", "Beta.md", "^k3") in found
    # an alias from front matter; a Markdown link with an escaped space and a heading
    assert ("Beta.md", "link", "wikilink", "Alpha.md", None) in found
    assert ("Beta.md", "link", "markdown", "sub/Gamma one.md", "Part") in found
    # an embed; two files named Delta: the one beside the linking note wins ...
    assert ("sub/Gamma one.md", "embed", "wikilink", "Beta.md", None) in found
    assert ("sub/Gamma one.md", "link", "wikilink", "sub/Delta.md", None) in found
    # ... and from elsewhere the shortest path
    assert ("Epsilon.md", "link", "wikilink", "sub/Delta.md", None) in found
    # a link to nothing is a missing note; tags are edges too
    assert ("Alpha.md", "link", "wikilink", None, None) in found
    assert ("Alpha.md", "tag", "tag", None, None) in found

    # removing the nearer Delta sends links named Delta to the other one
    with mnemo.Library(settings) as library:
        library.remove_document("sub/Delta.md")
    found = edges(settings)
    assert ("Epsilon.md", "link", "wikilink", "far/away/Delta.md", None) in found
    assert ("sub/Gamma one.md", "link", "wikilink", "far/away/Delta.md", None) in found


def test_sync_updates_only_what_changed(vault: Path, settings: Settings) -> None:
    with mnemo.Library(settings) as library, library.catalog.session() as session:
        before = {e.id: (e.source_id, e.target_id) for e in session.scalars(select(Edge))}
        beta = session.scalar(select(Document.id).where(Document.path.endswith("/Beta.md")))
        epsilon = session.scalar(
            select(Document.id).where(Document.path.endswith("/Epsilon.md"))
        )
    # an edit rewrites the edited note's edges only
    (vault / "Epsilon.md").write_text("# Epsilon\n\nNow about [[Alpha]] instead.\n")
    mnemo.sync(settings)
    with mnemo.Library(settings) as library, library.catalog.session() as session:
        after = {e.id: (e.source_id, e.target_id) for e in session.scalars(select(Edge))}
    kept = {i for i in before if i in after and before[i] == after[i]}
    # (SQLite may give the new edge the id of the one it replaced: compare by source)
    of_epsilon = {i for i, (source, _) in before.items() if source == epsilon}
    assert len(of_epsilon) == 1
    assert kept == set(before) - of_epsilon
    assert ("Epsilon.md", "link", "wikilink", "Alpha.md", None) in edges(settings)

    # a new note turns earlier links to it from missing into real ones
    write(vault, {"Nowhere.md": "# Nowhere\n\nNow somewhere.\n"})
    mnemo.sync(settings)
    assert ("Alpha.md", "link", "wikilink", "Nowhere.md", None) in edges(settings)

    # a deleted note: its edges go, and links to it become missing notes
    (vault / "Beta.md").unlink()
    mnemo.sync(settings)
    found = edges(settings)
    assert not [e for e in found if e[0] == "Beta.md"]
    assert ("Alpha.md", "link", "wikilink", None, "Method") in found
    with mnemo.Library(settings) as library:
        assert "beta" in library.related("Alpha.md").missing
        assert not [p for p in library.links("Alpha.md").links if p.endswith("Beta.md")]


def test_related_says_why(vault: Path, settings: Settings, cli) -> None:
    with mnemo.Library(settings) as library:
        found = library.related("Beta.md")
    assert [Path(c.path).name for c in found.links] == ["Alpha.md", "Gamma one.md"]
    assert {Path(c.path).name for c in found.backlinks} == {"Alpha.md", "Gamma one.md"}
    why = {Path(c.path).name: c.why for c in found.backlinks}
    assert why["Gamma one.md"] == "it embeds this note, by wikilink"
    with mnemo.Library(settings) as library:
        tags = library.related("Alpha.md").shared_tags
    assert [(Path(c.path).name, c.why) for c in tags] == [("Gamma one.md", "shares #ml")]

    proc = cli("related", "Alpha.md")
    assert proc.returncode == 0, proc.stderr
    assert "Links to missing notes" in proc.stdout and "nowhere" in proc.stdout
    assert "section Method" in proc.stdout
    assert cli("related", "no-such-note.md").returncode != 0
    data = json.loads(cli("related", "Alpha.md", "--json").stdout)
    assert data["missing"] == ["nowhere"]


def test_graph_export_round_trips(vault: Path, settings: Settings, cli, tmp_path: Path) -> None:
    out = tmp_path / "graph.graphml"
    assert cli("graph", "export", "-o", str(out)).returncode == 0
    graph = nx.read_graphml(out)
    paths = {d.get("path") for _, d in graph.nodes(data=True)}
    assert str(vault / "Beta.md") in paths
    assert {d["kind"] for _, d in graph.nodes(data=True)} == {"document", "missing", "tag"}
    data = json.loads(cli("graph", "export", "--format", "json").stdout)
    kinds = {e["kind"] for e in data["edges"]}
    assert {"link", "embed", "tag"} <= kinds
    bad = cli("graph", "export", "--format", "dot")
    assert bad.returncode != 0 and "graphml, json" in bad.stderr


def test_rest_related_and_graph(vault: Path, settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from mnemo.server.app import create_app

    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        docs = client.get("/collections/default/documents").json()
        beta = next(
            d["id"]
            for d in (docs["documents"] if isinstance(docs, dict) else docs)
            if d["path"].endswith("/Beta.md")
        )
        found = client.get(f"/collections/default/documents/{beta}/related")
        assert found.status_code == 200
        assert {Path(c["path"]).name for c in found.json()["backlinks"]} == {
            "Alpha.md",
            "Gamma one.md",
        }
        graph = client.get("/collections/default/graph?format=graphml")
        assert graph.status_code == 200 and "<graphml" in graph.text
        assert client.get("/collections/default/documents/nope/related").status_code == 404


def test_close_notes_not_linked_and_graph_aware_search(
    tmp_path: Path, dense_settings: Settings
) -> None:
    root = tmp_path / "vault"
    write(
        root,
        {
            "Cats.md": "# Cats\n\nCats are small domestic felines that hunt mice and sleep a lot.\n",
            "Kittens.md": "# Kittens\n\nKittens are young domestic cats; felines that sleep and hunt mice.\n",
            "Zebra.md": "# Zebra\n\nThe zebra quagga grazes on the savanna. See [[Trains]].\n",
            "Trains.md": "# Trains\n\nSteam locomotives pulled carriages along iron rails.\n",
            "Soup.md": "# Soup\n\nA recipe: onions, carrots and stock simmered for an hour.\n",
        },
    )
    mnemo.add([root], dense_settings)
    with mnemo.Library(dense_settings) as library:
        similar = library.related("Cats.md").similar
    assert [Path(c.path).name for c in similar][:1] == ["Kittens.md"]
    assert "not linked yet" in similar[0].why

    def found(settings: Settings) -> list[str]:
        hits = mnemo.search("quagga", settings, k=3, mode="bm25").hits
        return [Path(h.path).name for h in hits]

    assert found(dense_settings) == ["Zebra.md"]  # off by default
    on = mnemo.load_settings(
        dense_settings.home, {"ingest": {"workers": 1}, "graph": {"retrieval_weight": 0.5}}
    )
    assert found(on) == ["Zebra.md", "Trains.md"]


def test_a_papers_reference_list_cites_documents_of_the_collection(
    tmp_path: Path, settings: Settings
) -> None:
    from docgen import pdf

    root = tmp_path / "vault"
    write(
        root,
        {
            "sleep.md": "# Mechanisms of feline sleep regulation\n\nCats sleep a lot.\n",
            "short.md": "# Cats\n\nA title too short to count as a citation.\n",
        },
    )
    pdf(
        root / "review.pdf",
        [
            ["A review of animal sleep.", "Cats sleep more than dogs [1]."],
            [
                "References",
                "[1] A. Author. Mechanisms of Feline Sleep Regulation. J. Sleep, 2020.",
                "[2] B. Author. Cats. 2019.",
            ],
        ],
    )
    mnemo.add([root], settings)
    found = edges(settings)
    assert ("review.pdf", "citation", "title", "sleep.md", None) in found
    assert not [e for e in found if e[1] == "citation" and e[3] == "short.md"]
    with mnemo.Library(settings) as library:
        back = library.related("sleep.md").backlinks
    assert [(Path(c.path).name, c.why) for c in back] == [
        ("review.pdf", "it cites this note, by title in its references")
    ]


def _own_edges(settings: Settings) -> list[tuple]:
    with mnemo.Library(settings) as library, library.catalog.session() as session:
        return sorted(
            (
                (e.source_id, e.kind, e.origin, e.target, e.target_id, e.anchor)
                for e in session.scalars(select(Edge).where(Edge.kind != "semantic"))
            ),
            key=str,
        )


def test_incremental_edges_equal_a_full_rebuild_after_random_edits(
    tmp_path: Path, settings: Settings
) -> None:
    """Each sync reads only the notes the changed links may name; after every step the
    edges equal those worked out again from every note (same seed, same steps)."""
    import random

    rng = random.Random(18)
    root = tmp_path / "vault"
    names = [f"n{i}" for i in range(12)] + ["Same", "Other", "Café Crème", "50%_off"]
    folders = ["", "a/", "a/b/", "c/"]
    files: dict[str, str] = {}

    def note(name: str) -> str:
        links = []
        for _ in range(rng.randint(1, 4)):
            target = rng.choice(names + ["alias one", "Ghost", "a/Same", "../Other"])
            shape = rng.random()
            if shape < 0.6:
                links.append(f"[[{target}]]")
            elif shape < 0.8:
                links.append(f"![[{target}#Part]]")
            else:
                links.append(f"[x]({target.replace(' ', '%20')}.md)")
        front = "---\naliases: [alias one]\n---\n" if rng.random() < 0.15 else ""
        return f"{front}# {name}\n\n{' '.join(links)}\n"

    for name in names:
        path = rng.choice(folders) + name + ".md"
        files[path] = note(name)
    files["c/Same.md"] = note("Same")  # two notes of one name
    write(root, files)
    mnemo.add([root], settings)
    for step in range(12):
        action = rng.choice(["edit", "edit", "new", "delete", "move"])
        path = rng.choice(sorted(files))
        if action == "edit":
            files[path] = note(path)
            write(root, {path: files[path]})
        elif action == "new":
            new = rng.choice(folders) + rng.choice(["Ghost", "alias one", "n3", "Other"]) + ".md"
            files[new] = note(new)
            write(root, {new: files[new]})
        elif action == "delete":
            (root / path).unlink()
            del files[path]
        else:
            new = rng.choice(folders) + Path(path).name
            if new not in files:
                (root / new).parent.mkdir(parents=True, exist_ok=True)
                (root / path).rename(root / new)
                files[new] = files.pop(path)
        mnemo.sync(settings)
        incremental = _own_edges(settings)
        with mnemo.Library(settings) as library:
            library.rebuild_graph()
        assert incremental == _own_edges(settings), f"step {step}: {action} {path}"
