"""The audit log: every write and admin action done through the server, in the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import select

from mnemo.catalog import Catalog
from mnemo.catalog.models import AuditEntry
from mnemo.server.auth import Principal


@dataclass(frozen=True)
class AuditInfo:
    id: int
    key_id: int | None
    key_name: str | None
    action: str
    target: str
    status: int
    request_id: str | None
    created_at: datetime


def record(request: Request, principal: Principal, action: str, target: str, status: int) -> None:
    """Log ``action`` on ``target`` by the request's caller."""
    catalog: Catalog = request.app.state.catalog
    with catalog.session() as session:
        session.add(
            AuditEntry(
                key_id=principal.key_id,
                key_name=principal.name,
                action=action,
                target=target[:2000],
                status=status,
                request_id=getattr(request.state, "request_id", None),
            )
        )


def recent(catalog: Catalog, limit: int = 100) -> list[AuditInfo]:
    with catalog.session(readonly=True) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return [
            AuditInfo(
                r.id, r.key_id, r.key_name, r.action, r.target, r.status, r.request_id, r.created_at
            )
            for r in rows
        ]
