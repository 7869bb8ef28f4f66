"""The layers only point down and nothing imports in a circle (import-linter's contracts
in pyproject.toml), and docs/architecture.md draws the same layers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]  # type: ignore[no-any-return]


def test_import_contracts_are_kept() -> None:
    """`lint-imports`: every layer imports only the ones below it, and no cycles."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_contract_names_every_package() -> None:
    """A new package must be placed in a layer (else it could import anything)."""
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in str(layer).split("|")}  # type: ignore[attr-defined]
    found = {
        f"mnemo.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "src" / "mnemo").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name not in ("__init__.py", "__main__.py"))
    }
    assert found == named, f"not in a layer: {found - named}; gone: {named - found}"


def test_the_architecture_page_draws_the_contract() -> None:
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    page = (ROOT / "docs" / "architecture.md").read_text()
    picture = page.split("```")[1]
    # each line: the layer's packages, then (after two spaces or more) what they are
    drawn = [
        re.findall(r"mnemo\.\w+", re.split(r"\s{2,}", line.strip())[0])
        for line in picture.splitlines()
    ]
    drawn = [names for names in drawn if names]
    wanted = [re.findall(r"mnemo\.\w+", str(layer)) for layer in layers]  # type: ignore[attr-defined]
    assert drawn == wanted
