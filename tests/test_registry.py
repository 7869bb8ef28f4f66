"""One registry shape for every pluggable part.

Each kind gets a third-party plugin installed the way pip installs one (a
dist-info with an entry_points.txt on sys.path), which is then chosen by the
settings and actually used: a parser indexes its files, an embedder embeds, an
LLM provider answers through ``mnemo.ask``, a store holds the index, a reranker
reorders hits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mnemo
from mnemo.config import load_settings
from mnemo.errors import ConfigError
from mnemo.ingest.parsers import PARSERS
from mnemo.registry import EMBEDDERS, LLM_PROVIDERS, RERANKERS, STORES, Registry
from mnemo.server.uploads import check_upload, extensions_for

ALL = [PARSERS, EMBEDDERS, LLM_PROVIDERS, STORES, RERANKERS]
Install = Callable[[str, str, str, str], None]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(dist, module source, group, "name = module:register")``."""

    def add(dist: str, source: str, group: str, entry: str) -> None:
        site = tmp_path / f"site-{dist}"
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir(parents=True)
        module = entry.split("=")[1].strip().split(":")[0]
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
        monkeypatch.syspath_prepend(str(site))  # spawned parser workers inherit sys.path
        for registry in ALL:
            registry.reload()

    yield add
    for registry in ALL:
        registry.reload()


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# -- names, and the messages built from them ------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        (
            "embedding",
            "backend",
            "unknown embedding backend 'x': choose one of none, onnx, openai-compatible, sentence-transformers",
        ),
        (
            "llm",
            "provider",
            "unknown LLM provider 'x': choose one of anthropic, none, openai-compatible",
        ),
        ("index", "backend", "unknown index backend 'x': choose one of lancedb, milvus"),
        ("search", "reranker", "unknown reranker 'x': choose one of cross-encoder, none"),
    ],
)
def test_unknown_names_in_settings_list_the_choices(
    home: Path, section: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(home, {section: {key: "x"}})
    assert str(caught.value) == f"invalid settings: {section}.{key} (from flag): {message}"


def test_get_of_an_unknown_name_is_a_mnemo_error_listing_the_choices() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^unknown parser 'x': choose one of csv, docx, epub, html, image, mail, "
        r"markdown, mbox, notebook, ods, pdf, pptx, text, transcript, xlsx$",
    ):
        PARSERS.get("x")
    registry: Registry[int] = Registry("widget", "mnemo.test_widgets")
    registry.register("b", 2)
    registry.register("a", 1)
    assert (registry.names(), registry.get("b"), "a" in registry, "c" in registry) == (
        ["a", "b"],
        2,
        True,
        False,
    )
    with pytest.raises(ConfigError, match="^unknown widget 'c': choose one of a, b$"):
        registry.get("c")


def test_a_plugin_that_fails_to_load_is_named_in_one_line(install: Install, home: Path) -> None:
    install(
        "brokenplugin",
        "import not_a_module_anywhere\n",
        "mnemo.embedders",
        "broken = brokenplugin:register",
    )
    settings = load_settings(home)  # built-in names are checked without loading plugins
    assert settings.embedding.backend == "onnx"
    with pytest.raises(ConfigError) as caught:
        load_settings(home, {"embedding": {"backend": "broken"}})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        "embedding backend plugin 'broken' (brokenplugin:register, from brokenplugin, "
        "entry point group mnemo.embedders) failed to load: ModuleNotFoundError: "
    )
    assert message.endswith("fix or uninstall brokenplugin")


def test_import_and_settings_load_no_heavy_module(home: Path) -> None:
    code = f"""
import json, sys
import mnemo
from mnemo.config import load_settings
settings = load_settings({str(home)!r}, {{
    "embedding": {{"backend": "openai-compatible"}}, "llm": {{"provider": "anthropic"}},
    "index": {{"backend": "lancedb"}}, "search": {{"reranker": "cross-encoder"}},
}})
heavy = ["torch", "lancedb", "sentence_transformers", "transformers", "fastapi", "openai",
         "anthropic", "pyarrow", "numpy"]
print(json.dumps([name for name in heavy if name in sys.modules]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


# -- a plugin of each kind, chosen by the settings and used --------------------------

PARSER_PLUGIN = """
from mnemo.ingest.parsers.base import ParsedDocument, Section

def parse(data, path, limits):
    lines = data.decode().splitlines()
    title = lines[0].removeprefix("TITLE:").strip()
    body = "\\n".join(line.removeprefix("STEP:").strip() for line in lines[1:])
    return ParsedDocument(text=body, sections=[Section((title,), 0, len(body))], title=title)

def register(register):
    register(["recipe"], "recipe", parse, "text/x-recipe")
"""


def test_parser_plugin_indexes_its_files_and_uploads_accept_them(
    install: Install, tmp_path: Path, home: Path
) -> None:
    install("recipeplugin", PARSER_PLUGIN, "mnemo.parsers", "recipe = recipeplugin:register")
    assert "recipe" in PARSERS.names()
    root = write(
        tmp_path / "docs",
        {
            "soup.recipe": "TITLE: Nettle soup\nSTEP: Blanch the nettles.\nSTEP: Simmer with leek.\n",
            "note.md": "# Note\n\nNothing about soup.\n",
        },
    )
    settings = load_settings(home, {"ingest": {"workers": 1}, "embedding": {"backend": "none"}})
    report = mnemo.add([root], settings)
    assert report.counts["indexed"] == 2
    (hit,) = mnemo.search("blanch nettles", settings, mode="bm25").hits
    assert (Path(hit.path).name, hit.title) == ("soup.recipe", "Nettle soup")
    assert "STEP:" not in hit.text and "Blanch the nettles." in hit.text
    # Uploads accept what the parser registry reads: text content named .recipe.
    assert ".recipe" in extensions_for("text") and ".recipe" not in extensions_for("html")
    assert check_upload("soup.recipe", b"TITLE: x\nSTEP: y\n", 1.0) == "soup.recipe"


EMBEDDER_PLUGIN = '''
import zlib
import numpy as np
from mnemo.embeddings.base import EmbedderIdentity

class HashBag:
    """Bag of hashed words: crude, but real vectors that rank word overlap."""
    max_tokens = 256

    def __init__(self, dimension):
        self.dimension = dimension
        self.identity = EmbedderIdentity("hashbag", "hashbag", dimension, "1")
        self.calls = 0

    def embed_documents(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.strip(".,").encode()) % self.dimension] += 1.0
            out[row] /= max(np.linalg.norm(out[row]), 1e-9)
        return out

    def embed_query(self, text):
        return self.embed_documents([text])[0]

def make(*, settings=None, model=None, batch_size=64):
    return HashBag(int(model or 64))

def register(register):
    register("hashbag", make)
'''


def test_embedder_plugin_embeds_and_serves_dense_search(
    install: Install, tmp_path: Path, home: Path
) -> None:
    install("hashbagplugin", EMBEDDER_PLUGIN, "mnemo.embedders", "hashbag = hashbagplugin:register")
    root = write(
        tmp_path / "docs",
        {
            "zebra.md": "# Zebras\n\nZebras sleep standing up in the savanna.\n",
            "bread.md": "# Bread\n\nKnead the dough and let it rise overnight.\n",
            "tides.md": "# Tides\n\nThe moon pulls the oceans into tides.\n",
        },
    )
    settings = load_settings(
        home,
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "hashbag", "model": "128"},
        },
    )
    report = mnemo.add([root], settings)
    assert report.counts["indexed"] == 3 and report.embedding.embedded == 3
    response = mnemo.search("dough rise", settings, mode="dense")
    assert response.embedder == "hashbag:hashbag@1/128" and response.used == ["dense"]
    assert Path(response.hits[0].path).name == "bread.md"
    with pytest.raises(ConfigError, match="choose one of hashbag, none, onnx, openai-compatible, "):
        load_settings(home, {"embedding": {"backend": "hashbags"}})


LLM_PLUGIN = '''
import re
from mnemo.generation.base import Completion, StreamPart, Usage

REQUESTS = []

class Quoter:
    """Answers with the first sentence of source 1, cited."""
    provider = "quoter"

    def __init__(self, model):
        self.model = model

    def complete(self, request):
        REQUESTS.append(request)
        prompt = request.messages[-1].content
        source = re.search(r'<source id="1"[^>]*>\\n(.*?)\\n</source>', prompt, re.DOTALL)
        sentence = re.search(r"[A-Z][^.\\n]*\\.", source.group(1)).group(0)
        return Completion(sentence[:-1] + " [1].", Usage(1, 1), "stop")

    def stream(self, request):
        done = self.complete(request)
        yield StreamPart(done.text)
        yield StreamPart(usage=done.usage, finish_reason="stop")

def make(settings):
    return Quoter(settings.llm.model or "quote-1")

def register(register):
    register("quoter", make)
'''


def test_llm_provider_plugin_answers_through_ask(
    install: Install, tmp_path: Path, home: Path
) -> None:
    install("quoterplugin", LLM_PLUGIN, "mnemo.llm_providers", "quoter = quoterplugin:register")
    root = write(
        tmp_path / "docs",
        {
            "falcon.md": "# Project Falcon\n\nProject Falcon's launch date is 12 March 2027. "
            "The Falcon team has six engineers.\n",
            "bread.md": "# Bread\n\nKnead the dough and let it rise overnight.\n",
        },
    )
    settings = load_settings(home, {"ingest": {"workers": 1}, "llm": {"provider": "quoter"}})
    mnemo.add([root], settings)
    answer = mnemo.ask("When is Project Falcon's launch date?", settings)
    import quoterplugin  # the plugin's own module, as the entry point loaded it

    assert len(quoterplugin.REQUESTS) >= 1
    assert answer.kind == "generated" and answer.model == "quoter:quote-1"
    assert answer.text == "Project Falcon's launch date is 12 March 2027 [1]."
    (citation,) = answer.citations
    assert citation.verdict == "supported" and Path(citation.source.path).name == "falcon.md"


STORE_PLUGIN = '''
from datetime import timedelta
from mnemo.index.lance import LanceStore

OPENED = []

class ElsewhereStore(LanceStore):
    """LanceDB, kept in <home>/elsewhere instead of <home>/index."""

def make(settings, collection, *, reader):
    OPENED.append((collection, reader))
    root = settings.home / "elsewhere" / collection
    if reader:
        return ElsewhereStore(root.resolve(), consistency=timedelta(0))
    return ElsewhereStore(root)

def register(register):
    register("elsewhere", make)
'''


def test_store_plugin_holds_the_index(install: Install, tmp_path: Path, home: Path) -> None:
    install("elsewhereplugin", STORE_PLUGIN, "mnemo.stores", "elsewhere = elsewhereplugin:register")
    root = write(tmp_path / "docs", {"zebra.md": "# Zebras\n\nZebras sleep standing up.\n"})
    settings = load_settings(
        home,
        {
            "ingest": {"workers": 1},
            "embedding": {"backend": "none"},
            "index": {"backend": "elsewhere"},
        },
    )
    mnemo.add([root], settings)
    (hit,) = mnemo.search("zebras sleep", settings, mode="bm25").hits
    assert Path(hit.path).name == "zebra.md"
    import elsewhereplugin

    assert {("default", False), ("default", True)} <= set(elsewhereplugin.OPENED)
    assert (home / "elsewhere" / "default").is_dir()
    assert not (home / "index" / "default").exists()


RERANKER_PLUGIN = """
class Shortest:
    def score(self, query, passages):
        return [-float(len(p)) for p in passages]

def make(settings):
    return Shortest()

def register(register):
    register("shortest", make)
"""


def test_reranker_plugin_reorders_hits(install: Install, tmp_path: Path, home: Path) -> None:
    install(
        "shortestplugin", RERANKER_PLUGIN, "mnemo.rerankers", "shortest = shortestplugin:register"
    )
    root = write(
        tmp_path / "docs",
        {f"{n}.md": f"# Apples {n}\n\n" + "Apples are red. " * n + "\n" for n in (1, 4, 9)},
    )
    base = {"ingest": {"workers": 1}, "embedding": {"backend": "none"}}
    mnemo.add([root], load_settings(home, base))
    plain = mnemo.search("apples", load_settings(home, base), mode="bm25", k=3)
    assert plain.used == ["bm25"] and len(plain.hits) == 3
    reranked = mnemo.search(
        "apples",
        load_settings(home, {**base, "search": {"reranker": "shortest", "rerank": True}}),
        mode="bm25",
        k=3,
    )
    assert reranked.used == ["bm25", "rerank"]
    assert [Path(h.path).name for h in reranked.hits] == ["1.md", "4.md", "9.md"]
    assert [Path(h.path).name for h in plain.hits] != ["1.md", "4.md", "9.md"]
    assert [h.scores["rerank"] for h in reranked.hits] == sorted(
        (h.scores["rerank"] for h in reranked.hits), reverse=True
    )
