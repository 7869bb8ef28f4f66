"""The note graph over REST: a document's related notes, and the whole graph."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES
from mnemo.server.queries import CollectionPath

router = APIRouter(tags=["graph"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]


class ConnectionOut(BaseModel):
    document_id: str
    path: str
    title: str | None
    kind: str
    why: str
    score: float
    anchor: str | None


class RelatedOut(BaseModel):
    document_id: str
    path: str
    title: str | None
    links: list[ConnectionOut]
    backlinks: list[ConnectionOut]
    similar: list[ConnectionOut]
    shared_tags: list[ConnectionOut]
    missing: list[str]


@router.get("/collections/{collection}/documents/{document_id}/related", response_model=RelatedOut)
def related(
    request: Request,
    collection: CollectionPath,
    document_id: str,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> RelatedOut:
    """A document's links, backlinks, shared tags and close notes not linked yet, with why."""
    found = request.app.state.library.related(document_id, collection=collection, limit=limit)
    return RelatedOut.model_validate(found, from_attributes=True)


@router.get(
    "/collections/{collection}/graph",
    response_class=Response,
    responses={
        200: {
            "description": "The graph as node-link JSON or GraphML.",
            "content": {"application/json": {}, "application/graphml+xml": {}},
        }
    },
)
def graph(
    request: Request,
    collection: CollectionPath,
    _: Reader,
    format: Literal["graphml", "json"] = "json",
) -> Response:
    """The collection's graph: node-link JSON (networkx's shape) or GraphML."""
    text = request.app.state.library.export_graph(format, collection=collection)
    media = "application/json" if format == "json" else "application/graphml+xml"
    return Response(text, media_type=media)
