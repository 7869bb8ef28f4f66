"""The public surface: one list (`mnemo._PUBLIC`) names what exists, what type checkers
see and what the docs show; importing is light."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import mnemo

ROOT = Path(__file__).resolve().parents[1]


def test_all_names_resolve() -> None:
    assert mnemo.__all__ == sorted(mnemo._PUBLIC)
    for name in mnemo.__all__:
        assert getattr(mnemo, name) is not None, name
    assert callable(mnemo.add) and callable(mnemo.sync) and callable(mnemo.status)


def test_type_checking_imports_match_the_one_list() -> None:
    tree = ast.parse(Path(inspect.getfile(mnemo)).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == mnemo._PUBLIC


def test_the_docs_show_only_public_names() -> None:
    """Every `mnemo.NAME` in the README and docs exists, and the Library is shown."""
    used: set[str] = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        used |= set(re.findall(r"\bmnemo\.([A-Za-z_]\w*)\(", page.read_text()))
    assert used, "the docs show no Python API"
    assert used <= set(mnemo.__all__), used - set(mnemo.__all__)
    assert "Library" in used


def test_every_module_function_is_a_library_method_with_the_same_options() -> None:
    from mnemo import api
    from mnemo.library import Library

    for name in (n for n, m in mnemo._PUBLIC.items() if m == "mnemo.api"):
        method = {"assemble_context": "context"}.get(name, name)
        assert hasattr(Library, method), name
        assert getattr(api, name).__doc__ and getattr(Library, method).__doc__, name


def test_import_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, mnemo; heavy = [m for m in ('torch', 'sqlalchemy', 'pypdfium2', "
        "'trafilatura', 'docx', 'tokenizers', 'sentence_transformers', 'lancedb', "
        "'fastapi') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
