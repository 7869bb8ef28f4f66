"""Jupyter notebooks (.ipynb) through nbformat: Markdown cells as they are, code cells
as fenced code, and their text outputs (streams, results, errors) as fenced text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.base import (
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
    text_too_large,
)
from mnemo.ingest.parsers.markdown import markdown_document
from mnemo.ingest.parsers.text import decode_text

name = "notebook"
#: Longest output kept per cell (a training log of a million lines is not a note).
_MAX_OUTPUT = 20_000


def _fence(text: str, info: str = "") -> str:
    text = text.rstrip("\n")
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{info}\n{text}\n{fence}"


def _output_text(output: Any) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", ""))
    if kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        text = data.get("text/plain", "")
        return "".join(text) if isinstance(text, list) else str(text)
    if kind == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    return ""


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    import nbformat

    source, _ = decode_text(data)
    try:
        notebook = nbformat.reads(source, as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation and version errors
        raise ParseFailed(
            f"not a readable Jupyter notebook ({type(exc).__name__}: {str(exc)[:200]}); "
            "open and re-save it in Jupyter"
        ) from exc
    language = (notebook.metadata.get("kernelspec") or {}).get("language") or (
        notebook.metadata.get("language_info") or {}
    ).get("name", "")
    parts = []
    for cell in notebook.cells:
        text = cell.get("source", "")
        if cell.cell_type == "markdown" and text.strip():
            parts.append(text.strip())
        elif cell.cell_type == "code" and text.strip():
            parts.append(_fence(text, language))
            outputs = "\n".join(filter(None, (_output_text(o) for o in cell.get("outputs", []))))
            if outputs.strip():
                parts.append(_fence(outputs[:_MAX_OUTPUT]))
        elif cell.cell_type == "raw" and text.strip():
            parts.append(text.strip())
    text = "\n\n".join(parts)
    if not text.strip():
        raise ParseSkipped("no cells with text in the notebook")
    if len(text) > limits.max_text_chars:
        raise text_too_large(len(text), limits.max_text_chars)
    parsed = markdown_document(text + "\n", metadata={"cells": len(notebook.cells)})
    parsed.title = parsed.title or path.name  # its first top-level heading, else its name
    return parsed
