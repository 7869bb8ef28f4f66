"""The built-in parsers, registered the way a ``mnemo.parsers`` plugin registers:
``register(extensions, name, parse, media_type)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnemo.ingest.parsers import (
    csv_table,
    docx,
    epub,
    html,
    image,
    mail,
    media,
    markdown,
    notebook,
    ods,
    pdf,
    pptx,
    text,
    xlsx,
)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT_EXTENSIONS = (
    "txt text rst log org adoc asciidoc tex bib json jsonl yaml yml toml ini cfg conf "
    "xml py pyi js mjs cjs ts tsx jsx go rs java kt kts c h cc cpp cxx hpp cs rb php swift "
    "scala sh bash zsh fish ps1 sql r lua pl pm css scss less vue svelte dart ex exs erl hs "
    "ml clj jl nim zig proto graphql gradle makefile dockerfile"
).split()  # noqa: SIM905 (a list of 82 quoted words reads worse)


def register(register: Callable[..., Any]) -> None:
    register(["pdf"], pdf.name, pdf.parse, "application/pdf")
    register(["docx"], docx.name, docx.parse, DOCX_TYPE)
    register(["md", "markdown", "mdown", "mkd", "mdx"], markdown.name, markdown.parse, "text/markdown")
    register(["html", "htm", "xhtml"], html.name, html.parse, "text/html")
    register(TEXT_EXTENSIONS, text.name, text.parse, "text/plain")
    register(["pptx"], pptx.name, pptx.parse, pptx.MEDIA_TYPE)
    register(["xlsx", "xlsm"], xlsx.name, xlsx.parse, xlsx.MEDIA_TYPE)
    register(["ods"], ods.name, ods.parse, ods.MEDIA_TYPE)
    register(["csv", "tsv"], csv_table.name, csv_table.parse, "text/csv")
    register(["epub"], epub.name, epub.parse, epub.MEDIA_TYPE)
    register(["eml"], mail.name, mail.parse_eml, "message/rfc822")
    register(["mbox"], "mbox", mail.parse_mbox, "application/mbox")
    register(["ipynb"], notebook.name, notebook.parse, "application/x-ipynb+json")
    for extension, media_type in media.AUDIO_TYPES.items():
        register([extension], media.name, media.parse, media_type)
    for extension, media_type in image.MEDIA_TYPES.items():
        register([extension], image.name, image.parse, media_type)
