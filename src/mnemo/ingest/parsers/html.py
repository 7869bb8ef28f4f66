"""HTML pages: the main content (not navigation chrome), as Markdown with headings."""

from __future__ import annotations

import re
from pathlib import Path

from mnemo.ingest.parsers.base import ParsedDocument, ParseLimits, ParseSkipped
from mnemo.ingest.parsers.markdown import markdown_document
from mnemo.ingest.parsers.text import decode_text

name = "html"

# lxml refuses a decoded string that still declares its encoding (XHTML does).
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")


def parse(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    import trafilatura
    from lxml import html as lxml_html

    source, encoding = decode_text(data)
    source = _XML_DECLARATION.sub("", source)
    try:
        tree = lxml_html.document_fromstring(source)
    except Exception as exc:  # lxml raises several unrelated types on garbage
        raise ParseSkipped(f"not parseable as HTML ({exc})") from exc
    text = trafilatura.extract(
        tree,
        output_format="markdown",
        include_tables=True,
        include_formatting=True,
        include_links=False,
        include_comments=False,
        favor_recall=True,
    )
    if not text or not text.strip():
        # Pages too short for main-content detection: keep all visible text.
        text = trafilatura.html2txt(tree)
    if not text or not text.strip():
        raise ParseSkipped("no text content in the page")
    title = None
    metadata = trafilatura.extract_metadata(tree)
    if metadata is not None and metadata.title:
        title = metadata.title
    else:
        found = tree.findtext(".//title")
        title = " ".join(found.split()) if found and found.strip() else None
    return markdown_document(text.strip() + "\n", title=title, metadata={"encoding": encoding})
