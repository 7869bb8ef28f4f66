"""The MCP tool that judges an answer by the message id the ask tool returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mnemo.errors import MnemoError
from mnemo.library import Library


class FeedbackResult(BaseModel):
    id: int = Field(description="The judgement's id.")
    message_id: str
    note: str | None = Field(description="The note the correction was saved as, if asked.")


def feedback_tool(library: Library) -> Callable[..., FeedbackResult]:
    def give_feedback(
        message_id: Annotated[str, Field(description="The message_id the ask tool returned.")],
        thumbs: Annotated[
            Literal["up", "down"] | None, Field(description="Was the answer right?")
        ] = None,
        rating: Annotated[int | None, Field(ge=1, le=5, description="1 (bad) to 5.")] = None,
        correction: Annotated[
            str | None, Field(max_length=10000, description="What the answer should have been.")
        ] = None,
        save_note: Annotated[
            bool,
            Field(
                description="Keep the correction as a note of the collection, so later "
                "answers can cite it. Only when the user asks for it."
            ),
        ] = False,
    ) -> FeedbackResult:
        """Record the user's judgement of an answer (thumbs, rating, correction); answers
        judged bad become cases of the collection's evaluation set."""
        try:
            saved, note = library.judge(
                message_id,
                thumbs=thumbs,
                rating=rating,
                correction=correction,
                save_note=save_note,
            )
        except MnemoError as exc:
            raise ToolError(str(exc)) from None
        return FeedbackResult(id=saved.id, message_id=message_id, note=str(note) if note else None)

    return give_feedback
