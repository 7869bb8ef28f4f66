"""The public surface: `mnemo.__all__` names what exists, and importing is light."""

from __future__ import annotations

import subprocess
import sys

import mnemo


def test_all_names_resolve() -> None:
    for name in mnemo.__all__:
        assert getattr(mnemo, name) is not None, name
    assert callable(mnemo.add) and callable(mnemo.sync) and callable(mnemo.status)


def test_import_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, mnemo; heavy = [m for m in ('torch', 'sqlalchemy', 'pypdfium2', "
        "'trafilatura', 'docx', 'tokenizers', 'sentence_transformers') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
