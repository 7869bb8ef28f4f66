"""Tables on PDF pages, found from PDFium's character boxes, written as Markdown tables.

A page's characters (in PDFium's text order, with its line breaks) are grouped
into boxes: stretches of a line with no gap wider than :data:`GAP` times the
font size. A table's cells are separated by gaps wider than a word space, so
each row is a line of several boxes, and the boxes of consecutive rows line up
in columns. A table is then:

- at least :data:`MIN_ROWS` consecutive lines (in the page's text order) that
  each have two or more boxes;
- whose boxes fall into two or more columns (x-ranges that no box crosses);
- with short cells: two-column prose also has two boxes per line, but of some
  fifty characters each (:data:`MAX_CELL_CHARS` on average), and numbered
  lines have a column of prose (:data:`MAX_PROSE_CHARS`);
- whose first column is not line numbers (a listing with numbered lines), and
  without dot leaders (an index, a table of contents).

Only the parts of a page that likely hold a table pay for the boxes
(:func:`likely`): the characters around a line that starts with a caption
("Table 2:", "TABLE IV.") or around three lines running of mostly numbers (two
or more each); pages with neither pay nothing. The table's
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
#: Characters before and after a caption (or a run of numbers) looked at for its table.
WINDOW_BEFORE, WINDOW_AFTER = 2_500, 5_000
#: Characters a page may have for the search to run (more: a figure, a map, a dense index).
MAX_CHARS = 20_000

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
    first: int  # its first and last characters' indices in the page's text
    text: str = ""
    last: int = 0

    @property
    def height(self) -> float:
        return self.top - self.bottom


def likely(text: str) -> list[tuple[int, int]]:
    """Where a page's text suggests a table, as character ranges of ``text`` (PDFium's
    own page text, whose offsets are its character indices): around a caption naming
    one, and around three lines running of which most words (two or more) are numbers.
    Empty: no table likely."""
    found = [
        (max(0, m.start() - WINDOW_BEFORE), m.start() + WINDOW_AFTER) for m in _NAMED.finditer(text)
    ]
    run, position = [], 0
    for line in text.split("\n"):
        words = line.split()
        numeric = sum(1 for word in words if _NUMBER.match(word))
        if numeric >= 2 and numeric * 2 >= len(words):
            run.append(position)
        else:
            if len(run) >= MIN_ROWS:
                found.append((max(0, run[0] - WINDOW_BEFORE), position + WINDOW_AFTER // 2))
            run = []
        position += len(line) + 1
    if len(run) >= MIN_ROWS:
        found.append((max(0, run[0] - WINDOW_BEFORE), len(text)))
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(found):
        end = min(end, len(text))
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


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


def find(textpage: object, windows: list[tuple[int, int]]) -> list[Table]:
    """The tables on a page within ``windows`` (character ranges), in text order."""
    boxes = _boxes(textpage, windows)
    if len(boxes) < 2 * MIN_ROWS:
        return []
    tables = []
    for run in _runs(_lines(boxes)):
        columns = _columns(run)
        if len(columns) < 2:
            continue
        texts = [_text(cell) for row in run for cell in row]
        if sum(len(text) for text in texts) > MAX_CELL_CHARS * len(texts):
            continue  # prose set in columns
        if _prose_column(run, columns) or _numbered(run):
            continue  # numbered lines (of prose or code), not a table
        if sum(". . ." in text for text in texts) * 5 >= len(texts):
            continue  # an index or a table of contents: dot leaders
        tables.append(Table(run[0][0][0], run[-1][-1][-1], run, columns))
    return tables


_BREAKS = (10, 13)
_SPACES = (32, 0xA0, 2, 0xFFFE)


def _boxes(textpage: object, windows: list[tuple[int, int]]) -> list[_Box]:
    """The page's characters, in text order, grouped into boxes: stretches of a line
    with no gap wider than :data:`GAP` times the font size (PDFium's own text boxes
    run across a table's cells when TeX sets a row as one text object)."""
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw  # type: ignore[attr-defined]
    count = pdfium_c.FPDFText_CountChars(raw)
    if count > MAX_CHARS:
        return []
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    refs = (ctypes.byref(left), ctypes.byref(right), ctypes.byref(bottom), ctypes.byref(top))
    unicode_of, box_of = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetCharBox
    size_of = pdfium_c.FPDFText_GetFontSize
    boxes: list[_Box] = []
    box: _Box | None = None
    space = False
    widest = 0.0
    previous = -2
    for index in itertools.chain.from_iterable(range(a, min(b, count)) for a, b in windows):
        if index != previous + 1:
            box, space = None, False  # a window's first character
        previous = index
        code = unicode_of(raw, index)
        if code in _BREAKS:
            box = None
            continue
        if code in _SPACES:
            space = True
            continue
        box_of(raw, index, *refs)
        x0, x1, y0, y1 = left.value, right.value, bottom.value, top.value
        if box is not None and x0 - box.right <= widest and y0 < box.top and y1 > box.bottom:
            box.text += (" " if space else "") + chr(code)
            box.right, box.last = max(box.right, x1), index
            box.bottom, box.top = min(box.bottom, y0), max(box.top, y1)
        else:
            box = _Box(x0, y0, x1, y1, index, chr(code), index)
            boxes.append(box)
            widest = GAP * size_of(raw, index)
        space = False
    kept = [b for b in boxes if b.right > b.left and b.top > b.bottom]
    for b in kept:  # characters beyond U+FFFF come as two UTF-16 halves: joined
        b.text = b.text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return kept


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


def _text(cell: list[_Box]) -> str:
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
            text = _text(cell)
            slots[column] = f"{slots[column]} {text}".strip()
        out.append("| " + " | ".join(slots) + " |")
        if number == 0:
            out.append("|" + " --- |" * len(table.columns))
    return "\n".join(out)


def page_text(textpage: object, tables: list[Table]) -> list[tuple[str, bool]] | None:
    """The page's text cut around its tables: (text, is it a Markdown table) in order.
    None when no table's characters could be found."""
    total = textpage.count_chars()  # type: ignore[attr-defined]
    parts: list[tuple[str, bool]] = []
    position = 0
    for table in tables:
        first, last = table.first.first, table.last.last
        if first < position or last < first:  # out of text order
            continue
        parts.append((textpage.get_text_range(position, first - position), False))  # type: ignore[attr-defined]
        parts.append((markdown(textpage, table), True))
        position = last + 1
    if not any(is_table for _, is_table in parts):
        return None
    parts.append((textpage.get_text_range(position, total - position), False))  # type: ignore[attr-defined]
    return parts
