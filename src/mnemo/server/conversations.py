"""Conversations (create, continue through ask, list, show, rename, export as Markdown,
delete) and feedback on answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from mnemo.generation.conversations import ConversationInfo
from mnemo.server import audit, schemas
from mnemo.server.auth import Principal, require
from mnemo.server.errors import ERROR_RESPONSES
from mnemo.server.queries import CollectionPath

router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
ConversationId = Annotated[str, Path(max_length=64)]


def _out(info: ConversationInfo) -> schemas.ConversationOut:
    return schemas.ConversationOut(
        id=info.id,
        collection=info.collection,
        title=info.title,
        turns=info.turns,
        created_at=info.created_at,
        updated_at=info.updated_at,
    )


@router.post(
    "/collections/{collection}/conversations",
    status_code=201,
    response_model=schemas.ConversationOut,
)
def create(
    request: Request,
    collection: CollectionPath,
    body: schemas.ConversationCreate,
    principal: Writer,
) -> schemas.ConversationOut:
    """Start a conversation; continue it by asking with its ``conversation_id``."""
    library = request.app.state.library
    conversation_id = library.start_conversation(body.title, collection=collection)
    audit.record(request, principal, "conversation.create", conversation_id, 201)
    found = library.conversations(collection=collection)
    return _out(next(c for c in found if c.id == conversation_id))


@router.get("/collections/{collection}/conversations", response_model=list[schemas.ConversationOut])
def list_all(
    request: Request, collection: CollectionPath, _: Reader
) -> list[schemas.ConversationOut]:
    """A collection's conversations, most recently used first."""
    library = request.app.state.library
    return [_out(c) for c in library.conversations(collection=collection)]


@router.get("/conversations/{conversation_id}", response_model=list[schemas.TurnOut])
def show(request: Request, conversation_id: ConversationId, _: Reader) -> list[schemas.TurnOut]:
    """The questions and answers of a conversation, in order."""
    turns = request.app.state.library.turns(conversation_id)
    return [
        schemas.TurnOut(
            position=t.position,
            question=t.question,
            answer=t.answer,
            kind=t.kind,
            citations=list(t.citations),  # type: ignore[arg-type]
            created_at=t.created_at,
        )
        for t in turns
    ]


@router.patch("/conversations/{conversation_id}", response_model=schemas.ConversationOut)
def rename(
    request: Request,
    conversation_id: ConversationId,
    body: schemas.ConversationRename,
    principal: Writer,
) -> schemas.ConversationOut:
    """Give a conversation a new title."""
    library = request.app.state.library
    library.rename_conversation(conversation_id, body.title)
    audit.record(request, principal, "conversation.rename", conversation_id, 200)
    return _out(library.conversation(conversation_id))


@router.get(
    "/conversations/{conversation_id}/markdown",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}}},
)
def export(request: Request, conversation_id: ConversationId, _: Reader) -> Response:
    """The conversation as Markdown: each question, its answer and the sources it cites."""
    _, markdown = request.app.state.library.export_conversation(conversation_id)
    return Response(markdown, media_type="text/markdown; charset=utf-8")


@router.delete("/conversations/{conversation_id}", response_model=schemas.Removed)
def delete(request: Request, conversation_id: ConversationId, principal: Writer) -> schemas.Removed:
    request.app.state.library.delete_conversation(conversation_id)
    audit.record(request, principal, "conversation.delete", conversation_id, 200)
    return schemas.Removed(removed=conversation_id)


@router.post(
    "/conversations/{conversation_id}/turns/{position}/feedback",
    status_code=201,
    response_model=schemas.FeedbackOut,
)
def feedback(
    request: Request,
    conversation_id: ConversationId,
    position: Annotated[int, Path(ge=0, le=100_000)],
    body: schemas.FeedbackCreate,
    principal: Writer,
) -> schemas.FeedbackOut:
    """Judge one answer: thumbs up or down, a rating from 1 to 5, a correction."""
    saved = request.app.state.library.add_feedback(
        conversation_id,
        position,
        thumbs=body.thumbs,
        rating=body.rating,
        correction=body.correction,
        key_id=principal.key_id,
    )
    audit.record(request, principal, "feedback.create", f"{conversation_id}/{position}", 201)
    request.app.state.metrics.observe_feedback(body.thumbs, body.rating, body.correction)
    return schemas.FeedbackOut(**vars(saved))
