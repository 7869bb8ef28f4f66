"""E-mail: single messages (.eml) and mailboxes (.mbox), through the standard library.

A message's subject is its title; from, to, cc and date are metadata (the
date is the document's date, which date filters use). Attachments are listed
by name in the message's text and handed back with the parsed message
(:class:`~mnemo.ingest.parsers.base.Attachment`): the worker parses each with
its own format's parser into a document of its own, under the virtual path
``message.eml#attachments/report.pdf`` (in a mailbox
``box.mbox#messages/3/attachments/report.pdf``; a second attachment of the same
name gets its place in the message: ``#attachments/4/report.pdf``). At most
:data:`MAX_ATTACHMENTS` a file.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from mnemo.ingest.parsers.base import (
    Attachment,
    DocumentBuilder,
    ParsedDocument,
    ParseLimits,
    ParseSkipped,
)

name = "mail"
#: An mbox separates messages by a line starting "From " (mboxo/mboxrd, as mailbox reads them).
_FROM_LINE = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_HEADERS = ("from", "to", "cc", "date")
#: Attachments of one file (message or mailbox) that become documents; the rest are listed only.
MAX_ATTACHMENTS = 100


def _message(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def _header(message: EmailMessage, key: str) -> str:
    try:
        return " ".join(str(message.get(key, "") or "").split())
    except (ValueError, TypeError, IndexError):  # a malformed header: keep going without it
        return ""


def _date(message: EmailMessage) -> str | None:
    raw = message.get("date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(str(raw)).isoformat()
    except (ValueError, TypeError, IndexError):
        return None


def _html_text(html: str) -> str:
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return ""  # an empty or garbage HTML body
    for bad in root.xpath("//script|//style|//head"):
        bad.drop_tree()
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or damaged part
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return _html_text(content) if part.get_content_type() == "text/html" else content.strip()


def _file_name(part: EmailMessage, number: int) -> str:
    """The attachment's own name, made safe for a path; else one from its type."""
    raw = part.get_filename() or ""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1].replace("#", "_").strip()
    if name and name not in (".", ".."):
        return name
    if part.get_content_type() == "message/rfc822":
        return f"message-{number}.eml"
    import mimetypes

    extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"attachment-{number}{extension}"


def _payload(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        message = inner[0] if isinstance(inner, list) and inner else inner
        return message.as_bytes() if hasattr(message, "as_bytes") else b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _attachments(message: EmailMessage, where: str, subject: str, room: int) -> list[Attachment]:
    found: list[Attachment] = []
    names: set[str] = set()
    for number, part in enumerate(message.iter_attachments(), start=1):
        name = _file_name(part, number)
        data = _payload(part) if len(found) < room else b""
        # Its place in the message is in the path only for a second file of the same name,
        # so an attachment keeps its path (and document) when another one is dropped.
        place = f"{where}attachments" + (f"/{number}" if name.lower() in names else "")
        names.add(name.lower())
        found.append(Attachment(place, name, data, subject))
    return found


def _write(
    builder: DocumentBuilder,
    message: EmailMessage,
    level: int,
    attached: list[Attachment],
    where: str = "",
) -> dict[str, Any]:
    subject = _header(message, "subject") or "(no subject)"
    builder.heading(level, subject)
    fields = {key: _header(message, key) for key in _HEADERS}
    builder.block(
        "\n".join(f"{key.capitalize()}: {value}" for key, value in fields.items() if value)
    )
    builder.block(_body(message))
    attachments = _attachments(message, where, subject, MAX_ATTACHMENTS - len(attached))
    attached.extend(a for a in attachments if a.data)
    if attachments:
        builder.block("Attachments: " + ", ".join(a.name for a in attachments))
    found: dict[str, Any] = {k: v for k, v in fields.items() if v and k != "date"}
    found["subject"] = subject
    date = _date(message)
    if date:
        found["date"] = date
    if attachments:
        found["attachments"] = [a.name for a in attachments]
    return found


def parse_eml(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    message = _message(data)
    if not message.keys():
        raise ParseSkipped("no e-mail headers found (not an .eml message?)")
    builder = DocumentBuilder(limits.max_text_chars)
    attached: list[Attachment] = []
    metadata = _write(builder, message, 1, attached)
    parsed = builder.build(title=metadata["subject"], markup="markdown", metadata=metadata)
    parsed.attachments = attached
    return parsed


def parse_mbox(data: bytes, path: Path, limits: ParseLimits) -> ParsedDocument:
    starts = [m.start() for m in _FROM_LINE.finditer(data)]
    if not starts:
        raise ParseSkipped("no messages in the mailbox (no line starts with 'From ')")
    builder = DocumentBuilder(limits.max_text_chars)
    attached: list[Attachment] = []
    dates = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        raw = _FROM_LINE.sub(b"", data[start:end], count=1)
        raw = re.sub(rb"^>(>*From )", rb"\1", raw, flags=re.MULTILINE)  # mboxrd unquoting
        found = _write(builder, _message(raw), 1, attached, f"messages/{index + 1}/")
        if "date" in found:
            dates.append(found["date"])
    metadata: dict[str, Any] = {"messages": len(starts)}
    if dates:
        metadata["first_date"], metadata["last_date"] = min(dates), max(dates)
    parsed = builder.build(title=path.name, markup="markdown", metadata=metadata)
    parsed.attachments = attached
    return parsed
