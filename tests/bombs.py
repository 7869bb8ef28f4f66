"""Hostile files, written cheaply: decompression bombs, XML floods, huge text and HTML.

Each helper writes one file into a folder the caller owns and returns its path.
``scale_mb`` sets how big the hostile part gets once inflated or parsed, so the
tests use small bombs against small limits and benchmarks/hostile.py big ones
against the defaults. Deflating a run of identical bytes is fast (hundreds of
MB a second), so even gigabyte bombs take seconds to write.
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_BLOCK = 1 << 20

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="png" ContentType="image/png"/>'
    '<Default Extension="zip" ContentType="application/zip"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def _document_rels(parts: list[str]) -> str:
    """word/_rels/document.xml.rels pointing at ``parts``, so python-docx loads them."""
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}{"image" if "/media/" in name else "package"}" '
        f'Target="{name.removeprefix("word/")}"/>'
        for i, name in enumerate(parts, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{rels}</Relationships>"
    )


def _body(paragraphs: str, prolog: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"{prolog}<w:document {W}><w:body>{paragraphs}</w:body></w:document>"
    )


def _para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def _write_docx(
    path: Path,
    document: str | Iterator[bytes],
    extra: dict[str, Iterator[bytes] | bytes] | None = None,
) -> Path:
    """A DOCX package; parts given as iterators of blocks are deflated as they stream."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _RELS)
        parts: dict[str, str | bytes | Iterator[bytes]] = {"word/document.xml": document}
        parts.update(extra or {})
        if extra:  # the document refers to its extra parts, so python-docx loads them
            package.writestr("word/_rels/document.xml.rels", _document_rels(list(extra)))
        for name, content in parts.items():
            if isinstance(content, (str, bytes)):
                package.writestr(name, content)
                continue
            with package.open(name, "w", force_zip64=True) as member:
                for block in content:
                    member.write(block)
    return path


def _repeat(block: bytes, total: int) -> Iterator[bytes]:
    for _ in range(total // len(block)):
        yield block


def docx_inflating_part(folder: Path, scale_mb: int) -> Path:
    """document.xml is one paragraph whose text inflates to ``scale_mb`` (a ~1000:1 bomb)."""
    head = (_body("", "").split("<w:body>")[0] + "<w:body><w:p><w:r><w:t>").encode()
    tail = b"</w:t></w:r></w:p></w:body></w:document>"

    def blocks() -> Iterator[bytes]:
        yield head
        yield from _repeat(b"A" * _BLOCK, scale_mb * 1_000_000)
        yield tail

    return _write_docx(folder / "inflating.docx", blocks())


def docx_many_elements(folder: Path, scale_mb: int) -> Path:
    """``scale_mb`` of tiny paragraphs that compress only ~4:1 (a parse-tree memory bomb)."""
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnop") for _ in range(5)) for _ in range(20_000)]
    unit = "".join(_para(w) for w in words).encode()  # ~700 kB: longer than deflate's window
    head = _body("").split("</w:body>")[0].encode()

    def blocks() -> Iterator[bytes]:
        yield head
        yield from _repeat(unit, scale_mb * 1_000_000)
        yield b"</w:body></w:document>"

    return _write_docx(folder / "many-elements.docx", blocks())


def docx_nested_zip(folder: Path, scale_mb: int) -> Path:
    """A small DOCX holding a zip holding a zip whose member inflates to ``scale_mb``."""
    inner = io.BytesIO()
    with (
        zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as member,
    ):
        for block in _repeat(bytes(_BLOCK), scale_mb * 1_000_000):
            member.write(block)
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("inner.zip", inner.getvalue())
    document = _body(_para("A harmless looking document."))
    return _write_docx(
        folder / "nested-zip.docx", document, {"word/embeddings/middle.zip": middle.getvalue()}
    )


def docx_entity_flood(folder: Path, scale_mb: int = 0) -> Path:
    """Billion laughs: ten levels of ten references, 3 GB if expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    prolog = f"<!DOCTYPE w:document [{''.join(entities)}]>"
    return _write_docx(folder / "entity-flood.docx", _body(_para("&lol9;"), prolog))


def docx_quadratic_blowup(folder: Path, scale_mb: int = 0) -> Path:
    """One 100 kB entity referenced 100,000 times: 10 GB if expanded."""
    prolog = f'<!DOCTYPE w:document [<!ENTITY big "{"B" * 100_000}">]>'
    return _write_docx(folder / "quadratic.docx", _body(_para("&big;" * 100_000), prolog))


def docx_attribute_flood(folder: Path, scale_mb: int) -> Path:
    """Paragraphs carrying thousands of attributes each, ``scale_mb`` in all."""
    rng = random.Random(11)
    attrs = " ".join(f'w:a{i}="{rng.randrange(10**9)}"' for i in range(5_000)).encode()
    unit = b"<w:p " + attrs + b"><w:r><w:t>text</w:t></w:r></w:p>"
    head = _body("").split("</w:body>")[0].encode()

    def blocks() -> Iterator[bytes]:
        yield head
        yield from _repeat(unit, scale_mb * 1_000_000)
        yield b"</w:body></w:document>"

    return _write_docx(folder / "attribute-flood.docx", blocks())


def docx_huge_image(folder: Path, scale_mb: int) -> Path:
    """An ordinary DOCX with an 'image' part that inflates to ``scale_mb``."""
    document = _body(_para("A report with a picture."))
    image = _repeat(bytes(_BLOCK), scale_mb * 1_000_000)
    return _write_docx(folder / "huge-image.docx", document, {"word/media/image1.png": image})


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _flate(blocks: Iterator[bytes]) -> bytes:
    deflater = zlib.compressobj(6)
    return b"".join(deflater.compress(b) for b in blocks) + deflater.flush()


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d /Filter /FlateDecode >>\nstream\n" % (dictionary, len(data)) + (
        data + b"\nendstream"
    )


def _page_objects(content: bytes) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        _stream(b"", content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def pdf_content_stream(folder: Path, scale_mb: int) -> Path:
    """One page whose content stream inflates to ``scale_mb`` (text operators, then spaces)."""

    def blocks() -> Iterator[bytes]:
        yield b"BT /F1 12 Tf 72 712 Td (Hello from a bomb) Tj ET\n"
        yield from _repeat(b" " * _BLOCK, scale_mb * 1_000_000)

    path = folder / "content-stream.pdf"
    path.write_bytes(_pdf(_page_objects(_flate(blocks()))))
    return path


def pdf_object_stream(folder: Path, scale_mb: int) -> Path:
    """The page's font lives in an object stream (PDF 1.5) that inflates to ``scale_mb``."""
    content = _flate(iter([b"BT /F1 12 Tf 72 712 Td (Object streams) Tj ET\n"]))
    objects = _page_objects(content)
    font = objects.pop()  # object 5 moves into the object stream, object 6
    header = b"5 0 "

    def packed() -> Iterator[bytes]:
        yield header + font + b"\n"
        yield from _repeat(b" " * _BLOCK, scale_mb * 1_000_000)

    objects.append(_stream(b"/Type /ObjStm /N 1 /First %d" % len(header), _flate(packed())))
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number, body in zip((1, 2, 3, 4, 6), objects, strict=True):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    offsets[7] = out.tell()
    rows = [b"\x00" + bytes(4) + b"\xff\xff"]  # object 0: free
    for number in range(1, 8):
        if number == 5:
            rows.append(b"\x02" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big"))
        else:
            rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + bytes(2))
    table = b"".join(rows)
    out.write(
        b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(table)
        + table
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[7]
    )
    path = folder / "object-stream.pdf"
    path.write_bytes(out.getvalue())
    return path


def html_deeply_nested(folder: Path, scale_mb: int = 0) -> Path:
    """200,000 nested <div>s around one sentence."""
    depth = 200_000
    path = folder / "nested.html"
    path.write_text(
        "<html><body>" + "<div>" * depth + "Deep text." + "</div>" * depth + "</body></html>"
    )
    return path


def one_line_text(folder: Path, scale_mb: int) -> Path:
    """``scale_mb`` of words on a single line, no newline anywhere."""
    rng = random.Random(3)
    words = " ".join(
        "".join(rng.choice("etaoinshrdlu") for _ in range(rng.randint(2, 9)))
        for _ in range(200_000)
    )
    unit = (words + " ").encode()
    path = folder / "one-line.txt"
    with path.open("wb") as handle:
        for _ in range(scale_mb * 1_000_000 // len(unit) + 1):
            handle.write(unit)
    return path


def huge_html(folder: Path, scale_mb: int) -> Path:
    """``scale_mb`` of article markup: paragraphs, links and tables."""
    rng = random.Random(5)
    words = [
        "".join(rng.choice("etaoinshrdlu") for _ in range(rng.randint(2, 9))) for _ in range(3000)
    ]
    rows = []
    for i in range(2000):
        text = " ".join(rng.choice(words) for _ in range(40))
        rows.append(
            f"<p>{text} <a href='/p{i}'>link {i}</a></p>"
            f"<table><tr><td>{i}</td><td>{text[:30]}</td></tr></table>"
        )
    unit = "".join(rows).encode()
    path = folder / "huge.html"
    with path.open("wb") as handle:
        handle.write(b"<html><head><title>Huge</title></head><body><article>")
        for _ in range(scale_mb * 1_000_000 // len(unit) + 1):
            handle.write(unit)
        handle.write(b"</article></body></html>")
    return path


#: Every bomb, by name: (writer, what the benchmark scales it to in MB).
BOMBS: dict[str, tuple[Callable[[Path, int], Path], int]] = {
    "docx: part inflating 1000:1": (docx_inflating_part, 1000),
    "docx: many tiny XML elements": (docx_many_elements, 200),
    "docx: nested zip": (docx_nested_zip, 1000),
    "docx: entity flood (billion laughs)": (docx_entity_flood, 0),
    "docx: quadratic blowup": (docx_quadratic_blowup, 0),
    "docx: attribute flood": (docx_attribute_flood, 250),
    "docx: huge image": (docx_huge_image, 1000),
    "pdf: huge content stream": (pdf_content_stream, 1000),
    "pdf: object stream": (pdf_object_stream, 1000),
    "html: deeply nested": (html_deeply_nested, 0),
    "text: one line": (one_line_text, 45),
    "html: huge page": (huge_html, 45),
}
