"""Zip packages (DOCX): refuse decompression bombs before anything is inflated.

Python's zipfile never inflates a member past the size its directory declares
(it stops and reports a bad CRC), so the declared sizes bound what a parser
can be made to inflate. They are checked here against the limits: each part,
all parts together (counting archives nested inside, which are opened only to
read their own directories), and the compression ratio of large parts. XML
parts that declare a DTD are refused: Office never writes one, and entity
definitions are how XML bombs (billion laughs, quadratic blowup) work.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from mnemo.ingest.parsers.base import ParseLimits, ParseSkipped

#: Parts smaller than this inflated are never refused for their ratio.
RATIO_FLOOR = 10_000_000
#: Archives inside archives inside the package are not looked into further.
MAX_NESTING = 2
_MAX_MEMBERS = 10_000
_XML_HEAD = 4096


def _mb(size: float) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def _over(what: str, size: int, limits: ParseLimits) -> ParseSkipped:
    return ParseSkipped(
        f"{what} would inflate to {_mb(size)}, over the {_mb(limits.max_inflated_bytes)} limit "
        "(a decompression bomb? raise ingest.max_inflated_mb to index it)"
    )


def _has_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    with archive.open(info) as member:
        head = member.read(_XML_HEAD)
    return b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper()


def _inflated_size(
    archive: zipfile.ZipFile, limits: ParseLimits, depth: int, label: str = "the package"
) -> int:
    """Total declared inflated size, nested archives included; ParseSkipped past a limit."""
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise ParseSkipped(
            f"the package holds {len(infos):,} parts, over {_MAX_MEMBERS:,} "
            "(no word processor writes that; a zip bomb?)"
        )
    total = 0
    for info in infos:
        total += info.file_size
        if total > limits.max_inflated_bytes:
            raise _over(label, total, limits)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > limits.max_compression_ratio:
            raise ParseSkipped(
                f"part {info.filename} compresses {ratio:,.0f}:1, over the "
                f"{limits.max_compression_ratio:,.0f}:1 limit (a decompression bomb? "
                "raise ingest.max_compression_ratio to index it)"
            )
        name = info.filename.lower()
        if depth == 0 and name.endswith((".xml", ".rels")) and _has_dtd(archive, info):
            raise ParseSkipped(
                f"part {info.filename} declares a DTD or XML entities, which Word never "
                "writes (an XML entity bomb?); refused"
            )
        if info.file_size >= 22 and not info.is_dir():
            with archive.open(info) as member:
                nested = member.read(4) == b"PK\x03\x04"
            if nested:
                total += _nested_size(archive, info, limits, depth)
                if total > limits.max_inflated_bytes:
                    raise _over(f"{label}, with the archives inside it,", total, limits)
    return total


def _nested_size(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ParseLimits, depth: int
) -> int:
    if depth + 1 > MAX_NESTING:
        raise ParseSkipped(
            f"part {info.filename} is an archive nested more than {MAX_NESTING} deep "
            "(a nested zip bomb?); refused"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(archive.read(info))) as inner:
            return _inflated_size(
                inner, limits, depth + 1, f"archive {info.filename} inside the package"
            )
    except zipfile.BadZipFile:
        return 0  # not an archive after all, just bytes that start like one


def check_package(data: bytes, limits: ParseLimits) -> None:
    """Raise ParseSkipped if inflating this zip package would break a limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _inflated_size(archive, limits, 0)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError):
        return  # not a readable zip: the parser says what is wrong with it
    except (RuntimeError, ValueError, OSError, zlib.error):
        return  # an encrypted or damaged part: the parser says what is wrong with it
