"""Tables on PDF pages, found from PDFium's text boxes and written as Markdown tables.

PDFium cuts a page's text into rectangles ("text boxes"): one per stretch of a
line set in one font with no wide gap. A table's cells are separated by gaps
wider than a word space, so each row is a line of several boxes, and the boxes
of consecutive rows line up in columns. A table is then:

- at least :data:`MIN_ROWS` consecutive lines (in the page's text order) that
  each have two or more boxes separated by a gap wider than :data:`GAP` times
  the line height (a box that runs across such a gap, TeX setting a whole row
  as one text object, is cut there: PDFium marks the gap with a space);
- whose boxes fall into two or more columns (x-ranges that no box crosses);
- with short cells: two-column prose also has two boxes per line, but of some
  fifty characters each (:data:`MAX_CELL_CHARS` on average), and numbered
  lines have a column of prose (:data:`MAX_PROSE_CHARS`);
- whose first column is not line numbers (a listing with numbered lines), and
  without dot leaders (an index, a table of contents).

Only pages that likely hold a table pay for the boxes (:func:`likely`): one with
a line that starts with a caption ("Table 2:", "TABLE IV.") or three lines
running of mostly numbers (two or more each). The table's
characters are replaced in the page's text by the Markdown table, so the text
around it stays as PDFium gives it.
"""

from __future__ import annotations

import ctypes
import itertools
import re
from dataclasses import dataclass

#: A gap between two boxes of a line wider than this many line heights separates cells.
GAP = 0.9
#: Rows (header included) a run of lines needs to count as a table.
MIN_ROWS = 3
#: Average characters per cell above which a run of lines is prose in columns, not a table.
MAX_CELL_CHARS = 32
#: Average characters per cell of one column above which that column is prose.
MAX_PROSE_CHARS = 50
#: Boxes a page may have for the search to run (a page of thousands is a figure or a map).
MAX_BOXES = 3000

# A caption at a line's start ("Table 2:", "TABLE IV.", "Tab. 1"), not "see Table 2" in prose.
_NAMED = re.compile(
    r"^\s*(?:table|tab\.|tableau|tabelle|tabla)\s*[0-9IVX]+\b", re.IGNORECASE | re.MULTILINE
)
_CAPTION = re.compile(r"\s*(?:table|tab\.)\s*[0-9IVX]", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+−(]?[$€£]?\d[\d.,:%/−-]*\)?%?$")


@dataclass
class _Box:
    left: float
    bottom: float
    right: float
    top: float
    index: int  # the box's place in the page's text order
    text: str = ""

    @property
    def height(self) -> float:
        return self.top - self.bottom


def likely(text: str) -> bool:
    """Whether a page's text suggests a table: a caption naming one, or three lines
    running of which most words are numbers."""
    if _NAMED.search(text):
        return True
    run = 0
    for line in text.split("\n"):
        words = line.split()
        numeric = sum(1 for word in words if _NUMBER.match(word))
        run = run + 1 if numeric >= 2 and numeric * 2 >= len(words) else 0
        if run >= MIN_ROWS:
            return True
    return False


def split_caption(text: str) -> tuple[str, str]:
    """The text before a table, and its last line when that is the table's caption
    ("Table 2: ..."), kept apart so that line joining does not glue it to the prose."""
    body = text.rstrip()
    cut = body.rfind("\n") + 1
    if _CAPTION.match(body[cut:]):
        return body[:cut], body[cut:].strip()
    return text, ""


def _lines(boxes: list[_Box]) -> list[list[_Box]]:
    """Boxes grouped into lines, in text order: a box joins the line before when
    they overlap vertically by half the smaller height."""
    lines: list[list[_Box]] = []
    for box in boxes:
        if lines:
            last = lines[-1][-1]
            overlap = min(last.top, box.top) - max(last.bottom, box.bottom)
            if box.left >= last.left and overlap >= 0.5 * min(last.height, box.height):
                lines[-1].append(box)
                continue
        lines.append([box])
    return lines


def _cells(line: list[_Box]) -> list[list[_Box]]:
    """A line's boxes grouped into cells: a gap wider than GAP line heights starts one."""
    height = max(box.height for box in line)
    cells = [[line[0]]]
    for box in line[1:]:
        if box.left - cells[-1][-1].right > GAP * height:
            cells.append([box])
        else:
            cells[-1].append(box)
    return cells


def _columns(rows: list[list[list[_Box]]]) -> list[tuple[float, float]]:
    """The x-ranges no cell crosses: the union of the cells' ranges."""
    spans = sorted((cell[0].left, cell[-1].right) for row in rows for cell in row)
    columns = [list(spans[0])]
    for left, right in spans[1:]:
        if left <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], right)
        else:
            columns.append([left, right])
    return [(left, right) for left, right in columns]


@dataclass
class Table:
    first: _Box  # the first and last boxes, to find the table's characters
    last: _Box
    rows: list[list[list[_Box]]]  # rows of cells of boxes
    columns: list[tuple[float, float]]


def _runs(lines: list[list[_Box]]) -> list[list[list[list[_Box]]]]:
    """Maximal runs of consecutive lines that each have two cells or more."""
    runs: list[list[list[list[_Box]]]] = [[]]
    previous_bottom: float | None = None
    for line in lines:
        cells = _cells(line)
        top = max(box.top for box in line)
        # A multi-cell line joins the run if it lies below the line before (same column).
        if len(cells) >= 2 and (previous_bottom is None or top <= previous_bottom + 1):
            runs[-1].append(cells)
            previous_bottom = min(box.bottom for box in line)
        else:
            if runs[-1]:
                runs.append([])
            previous_bottom = None
            if len(cells) >= 2:
                runs[-1].append(cells)
                previous_bottom = min(box.bottom for box in line)
    return [run for run in runs if len(run) >= MIN_ROWS]


def find(textpage: object) -> list[Table]:
    """The tables on a page, in text order."""
    count = textpage.count_rects()  # type: ignore[attr-defined]
    if count < 2 * MIN_ROWS or count > MAX_BOXES:
        return []
    boxes = []
    for index in range(count):
        left, bottom, right, top = textpage.get_rect(index)  # type: ignore[attr-defined]
        if right > left and top > bottom:
            boxes.extend(_split(textpage, _Box(left, bottom, right, top, index)))
    tables = []
    for run in _runs(_lines(boxes)):
        columns = _columns(run)
        if len(columns) < 2:
            continue
        texts = [_text(textpage, cell) for row in run for cell in row]
        if sum(len(text) for text in texts) > MAX_CELL_CHARS * len(texts):
            continue  # prose set in columns
        if _prose_column(run, columns) or _numbered(run):
            continue  # numbered lines (of prose or code), not a table
        if sum(". . ." in text for text in texts) * 5 >= len(texts):
            continue  # an index or a table of contents: dot leaders
        tables.append(Table(run[0][0][0], run[-1][-1][-1], run, columns))
    return tables


_LEFT, _RIGHT, _BOTTOM, _TOP = (ctypes.c_double() for _ in range(4))


def _edge(textpage: object, index: int, *, right: bool) -> float:
    """A character's left or right edge, through PDFium directly (the helper's
    four new ctypes values a call cost more than the call)."""
    import pypdfium2.raw as pdfium_c

    pdfium_c.FPDFText_GetCharBox(
        textpage.raw,  # type: ignore[attr-defined]
        index,
        ctypes.byref(_LEFT),
        ctypes.byref(_RIGHT),
        ctypes.byref(_BOTTOM),
        ctypes.byref(_TOP),
    )
    return _RIGHT.value if right else _LEFT.value


def _split(textpage: object, box: _Box) -> list[_Box]:
    """A box cut at its wide gaps: one text object may run across a table's cells
    (TeX sets a row as one line), PDFium putting a space where each gap is."""
    box.text = " ".join(textpage.get_text_bounded(box.left, box.bottom, box.right, box.top).split())  # type: ignore[attr-defined]
    if " " not in box.text:
        return [box]
    first = textpage.get_index(box.left + 0.5, (box.bottom + box.top) / 2, 1.0, 1.0)  # type: ignore[attr-defined]
    if first is None or textpage.get_text_range(first, len(box.text)) != box.text:  # type: ignore[attr-defined]
        return [box]  # its characters are not where its text says: keep it whole
    pieces, start, left = [], 0, box.left
    for at, char in enumerate(box.text):
        if char != " " or at == 0:
            continue
        before_right = _edge(textpage, first + at - 1, right=True)
        after_left = _edge(textpage, first + at + 1, right=False)
        if after_left - before_right > GAP * box.height:
            pieces.append(
                _Box(left, box.bottom, before_right, box.top, box.index, box.text[start:at])
            )
            start, left = at + 1, after_left
    if not pieces:
        return [box]
    pieces.append(_Box(left, box.bottom, box.right, box.top, box.index, box.text[start:]))
    return pieces


def _prose_column(rows: list[list[list[_Box]]], columns: list[tuple[float, float]]) -> bool:
    """Whether one column holds prose: cells of more than MAX_PROSE_CHARS on average."""
    lengths: dict[int, list[int]] = {}
    for row in rows:
        for cell in row:
            middle = (cell[0].left + cell[-1].right) / 2
            column = next((i for i, (a, b) in enumerate(columns) if a <= middle <= b), -1)
            lengths.setdefault(column, []).append(sum(len(b.text) + 1 for b in cell))
    return any(sum(found) > MAX_PROSE_CHARS * len(found) for found in lengths.values())


def _numbered(rows: list[list[list[_Box]]]) -> bool:
    """Whether most rows start with a line number: the one before's plus one."""
    numbers = [row[0][0].text for row in rows]
    steps = sum(
        1
        for a, b in itertools.pairwise(numbers)
        if a.isdigit() and b.isdigit() and int(b) == int(a) + 1
    )
    return steps * 2 >= len(rows)


def _text(textpage: object, cell: list[_Box]) -> str:
    return " ".join(b.text for b in cell).replace("|", "\\|").strip()


def markdown(textpage: object, table: Table) -> str:
    """The table as Markdown: its first row as the header."""
    out = []
    for number, row in enumerate(table.rows):
        slots = [""] * len(table.columns)
        for cell in row:
            middle = (cell[0].left + cell[-1].right) / 2
            column = next(
                (i for i, (left, right) in enumerate(table.columns) if left <= middle <= right),
                len(table.columns) - 1,
            )
            text = _text(textpage, cell)
            slots[column] = f"{slots[column]} {text}".strip()
        out.append("| " + " | ".join(slots) + " |")
        if number == 0:
            out.append("|" + " --- |" * len(table.columns))
    return "\n".join(out)


def _char_index(textpage: object, box: _Box, at_end: bool) -> int:
    x = box.right - 0.5 if at_end else box.left + 0.5
    y = (box.bottom + box.top) / 2
    found = textpage.get_index(x, y, 1.0, 1.0)  # type: ignore[attr-defined]
    return -1 if found is None else int(found)


def page_text(textpage: object, tables: list[Table]) -> list[tuple[str, bool]] | None:
    """The page's text cut around its tables: (text, is it a Markdown table) in order.
    None when no table's characters could be found."""
    total = textpage.count_chars()  # type: ignore[attr-defined]
    parts: list[tuple[str, bool]] = []
    position = 0
    for table in tables:
        first = _char_index(textpage, table.first, at_end=False)
        last = _char_index(textpage, table.last, at_end=True)
        if first < position or last < first:  # not found, or out of text order
            continue
        parts.append((textpage.get_text_range(position, first - position), False))  # type: ignore[attr-defined]
        parts.append((markdown(textpage, table), True))
        position = last + 1
    if not any(is_table for _, is_table in parts):
        return None
    parts.append((textpage.get_text_range(position, total - position), False))  # type: ignore[attr-defined]
    return parts
