"""E-books (.epub): the chapters in reading order (the spine), their headings as headings.

An EPUB is a zip of XHTML files listed by its package document (OPF). They
are read with lxml's HTML parser, which never loads a DTD or expands a
declared entity; sizes are checked before anything is inflated.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mnemo.ingest.parsers.archive import check_package
from mnemo.ingest.parsers.base import (
    DocumentBuilder,
    ParsedDocument,
    ParseFailed,
    ParseLimits,
    ParseSkipped,
)

name = "epub"
MEDIA_TYPE = "application/epub+zip"
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {"p", "li", "blockquote", "pre", "dd", "dt", "figcaption", "tr", "caption"}
_SKIP = {"script", "style", "head", "nav"}


def _xml(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _spine(archive: zipfile.ZipFile) -> tuple[str | None, list[str]]:
    """The book's title and its chapters' paths in the zip, in reading order."""
    container = _xml(archive.read("META-INF/container.xml"))
    rootfile = next(e for e in container.iter() if _local(e.tag) == "rootfile")
    opf_path = rootfile.get("full-path") or ""
    opf = _xml(archive.read(opf_path))
    folder = posixpath.dirname(opf_path)
    manifest = {
        e.get("id"): e.get("href") for e in opf.iter() if _local(e.tag) == "item" and e.get("href")
    }
    chapters = []
    for ref in (e for e in opf.iter() if _local(e.tag) == "itemref"):
        href = manifest.get(ref.get("idref"))
        if href:
            chapters.append(posixpath.normpath(posixpath.join(folder, unquote(href))))
    title = next((e.text for e in opf.iter() if _local(e.tag) == "title" and e.text), None)
    return (" ".join(title.split()) if title else None), chapters


def _chapter(builder: DocumentBuilder, data: bytes) -> None:
    from lxml import etree, html

    try:
        root = html.document_fromstring(data)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return  # an empty or garbage chapter: the others still count

    def walk(element: Any) -> None:
        for child in element:
            tag = _local(child.tag)
            if tag in _SKIP:
                continue
            if tag in _HEADINGS:
                builder.heading(_HEADINGS[tag], child.text_content())
            elif tag in _BLOCKS:
                if tag == "tr":
                    cells = [" ".join(c.text_content().split()) for c in child]
                    builder.block(" | ".join(c for c in cells if c))
                else:
                    builder.block(" ".join(child.text_content().split()))
            elif len(child):
                walk(child)
            elif child.text_content().strip():
                builder.block(" ".join(child.text_content().split()))

    if not any(_local(e.tag) in _HEADINGS for e in root.iter()):
        title = root.findtext(".//title")  # a chapter without a heading: its title is one
        if title and title.strip():
            builder.heading(1, title)
    body = root.find("body")
    walk(body if body is not None else root)


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    check_package(data, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        title, chapters = _spine(archive)
    except (zipfile.BadZipFile, KeyError, StopIteration, ValueError) as exc:
        raise ParseFailed(
            "not a valid EPUB: no readable package document (META-INF/container.xml and its "
            "OPF); re-export it from the e-book tool"
        ) from exc
    except Exception as exc:  # lxml's errors on a damaged package document
        raise ParseFailed(f"damaged EPUB package document ({type(exc).__name__}: {exc})") from exc
    builder = DocumentBuilder(limits.max_text_chars)
    with archive:
        for chapter in chapters:
            try:
                content = archive.read(chapter)
            except KeyError:
                continue  # listed but missing: the rest of the book still reads
            _chapter(builder, content)
    parsed = builder.build(title=title or path.name, markup="markdown", metadata={})
    if not parsed.text.strip():
        raise ParseSkipped("no text in the e-book's chapters (images only?)")
    parsed.metadata["chapters"] = len(chapters)
    return parsed
