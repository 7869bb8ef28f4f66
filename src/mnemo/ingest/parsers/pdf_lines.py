"""Join a PDF page's hard-wrapped lines back into paragraphs.

PDF text comes one typeset line at a time. Handed over as is, every line break
looks like a boundary to the chunker: chunks end mid-sentence at a line end,
and splitting costs about twice as much per chunk (the splitter weighs every
line). A PDF stores no paragraphs, so they are inferred from the lines alone:

- a line that reaches near the page's usual line length was wrapped, and the
  next line continues its paragraph;
- a short line ends its paragraph (a paragraph's last line, a heading, a
  caption, a line of a table or an address);
- a blank line, a line indented deeper than the one before it, a line that
  starts a list item (``•``, ``-``, ``1.``, ``(a)``) and a short line with no
  closing punctuation after a finished sentence (a heading) start a new one.

A page whose lines are all short (a table, a form, verse, code) is left as it
is. Joined lines meet with one space; a word hyphenated at a line end is put
back together (``conti-`` + ``nued``: ``continued``; ``COVID-`` + ``19``:
``COVID-19``). PDFium already glues most hyphenated words itself and marks
the hyphen with ``\\x02``; see :func:`mnemo.ingest.parsers.pdf._clean`.
"""

from __future__ import annotations

import re

#: Lines at least this share of the page's usual line length count as full (wrapped).
FULL_LINE = 0.75
#: A page whose usual line is shorter than this (characters) is not prose: left alone.
MIN_PROSE_WIDTH = 30
_ITEM = re.compile(r"(?:[•◦▪‣∙·●○■□►▸\-–—*]|\(?\d{1,3}[.)]|\(?[a-zA-Z]\)|\([ivxIVX]{1,4}\))\s")
_SENTENCE_END = (".", "!", "?", ":", ";", '."', ".”", "?”", "!”", ".)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _usual_width(lines: list[str]) -> int:
    """The length of the page's long lines: the 80th percentile of non-blank lines."""
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    if not lengths:
        return 0
    return lengths[(len(lengths) - 1) * 4 // 5]


def _continues(previous: str, line: str, full: float) -> bool:
    """Whether ``line`` carries on the paragraph whose last line is ``previous``."""
    if len(previous.strip()) < full:
        return False  # the line before ended early: end of paragraph, heading, table row
    if _indent(line) > _indent(previous):
        return False  # an indented first line
    body = line.lstrip()
    if _ITEM.match(body):
        return False
    ended = previous.rstrip().endswith(_SENTENCE_END)
    # A short line without closing punctuation after a finished sentence: a heading.
    return not (ended and len(body) < full and not body.endswith(_SENTENCE_END + (",",)))


def _glue(paragraph: str, line: str) -> str:
    if paragraph.endswith("-") and len(paragraph) > 1 and paragraph[-2].isalpha():
        if line[:1].islower():
            return paragraph[:-1] + line  # a word hyphenated at the line end
        if line[:1].isalnum():
            return paragraph + line  # a hyphenated compound or code: COVID-19
    return paragraph + " " + line


def join_lines(text: str) -> str:
    """``text`` (one page, lines separated by ``\\n``) with wrapped lines joined.

    Paragraphs stay separated by the line break they had; blank lines are kept.
    """
    lines = text.split("\n")
    width = _usual_width(lines)
    if width < MIN_PROSE_WIDTH:
        return text
    full = FULL_LINE * width
    out: list[str] = []
    paragraph: str | None = None
    previous = ""
    for line in lines:
        if not line.strip():
            if paragraph is not None:
                out.append(paragraph)
                paragraph = None
            out.append(line)
            continue
        if paragraph is not None and _continues(previous, line, full):
            paragraph = _glue(paragraph, line.strip())
        else:
            if paragraph is not None:
                out.append(paragraph)
            paragraph = line
        previous = line
    if paragraph is not None:
        out.append(paragraph)
    return "\n".join(out)
