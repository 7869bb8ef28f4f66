"""`mnemo eval` over REST: build and list a collection's evaluation sets, score one,
and read its reports (:mod:`mnemo.eval.saved` does the work).

Building and scoring write files in ``<home>/eval`` and ask the model once per
case: they need a write key, run in the thread pool (not on the event loop) and
one at a time per server (409 ``busy`` while another runs). Reading needs a read
key.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mnemo.eval import saved
from mnemo.server import audit
from mnemo.server.auth import Principal, check_scope, require
from mnemo.server.errors import ERROR_RESPONSES
from mnemo.server.queries import CollectionPath
from mnemo.server.schemas import RequestBody

if TYPE_CHECKING:
    from mnemo.eval.score import EvalResult
    from mnemo.eval.tune import TuneResult

router = APIRouter(tags=["eval"], responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
SetName = Annotated[
    str,
    Field(
        pattern=saved.NAME.pattern,
        description="The set's name; 'default' is the one `mnemo eval` uses without --set.",
    ),
]
SetPath = Annotated[str, Path(pattern=saved.NAME.pattern, description="The set's name.")]


class EvalSetIn(RequestBody):
    name: SetName = saved.DEFAULT
    count: int = Field(50, ge=1, le=500, description="Passages to ask about.")
    seed: int = Field(0, ge=0, le=2**31, description="Another seed samples other passages.")
    keywords: bool = Field(
        False, description="Keyword questions even when a language model is configured."
    )
    replace: bool = Field(False, description="Replace a set of that name (409 otherwise).")


class EvalSetOut(BaseModel):
    name: str
    collection: str
    cases: int
    origins: dict[str, int] = Field(description="Cases by origin: generated, keyword, ...")
    modified: datetime | None = None
    reports: list[str] = Field([], description="Reports written for it: eval, tune.")
    notes: list[str] = []


class EvalCaseOut(BaseModel):
    id: str
    question: str
    reference: str | None
    chunk_ids: list[str]
    document: str | None
    origin: str


class EvalRunIn(RequestBody):
    set: SetName = saved.DEFAULT
    answers: bool = Field(True, description="Also answer each question and score answers.")
    extractive: bool = Field(False, description="Answer without the language model.")
    k: int = Field(10, ge=1, le=100, description="Cut-off of the retrieval metrics.")
    limit: int = Field(200, ge=1, le=2000, description="Score at most this many cases.")


class EvalCaseResultOut(BaseModel):
    id: str
    question: str
    origin: str
    rank: int | None = Field(description="Rank of the case's passage; null when missed.")
    search_ms: float
    kind: str | None
    answer: str | None
    answer_ms: float | None
    context_recall: float | None
    faithfulness: float | None
    correctness: float | None


class EvalReportOut(BaseModel):
    set: str
    collection: str
    k: int
    model: str | None = Field(description="The model that answered; null: extractive.")
    metrics: dict[str, float | None]
    notes: list[str]
    cases: list[EvalCaseResultOut]


class EvalTuneIn(RequestBody):
    set: SetName = saved.DEFAULT
    save: bool = Field(
        False,
        description="Keep the tuned settings for this collection when they differ from the "
        "current ones (an admin key).",
    )


class EvalTuneOut(BaseModel):
    set: str
    collection: str
    current: dict[str, Any] = Field(description="The settings in use before tuning.")
    tuned: dict[str, Any] = Field(description="The best found on the tuning half.")
    changes: dict[str, Any] = Field(description="The tuned settings that differ.")
    test: dict[str, dict[str, float]] = Field(
        description="Metrics on the held-out half: current, tuned, dense only, bm25 only."
    )
    sizes: list[int] = Field(description="Cases tuned on, cases held out.")
    notes: list[str]
    saved: bool = Field(description="Whether the tuned settings were kept.")


def tune_out(name: str, result: TuneResult, saved_to: object) -> EvalTuneOut:
    return EvalTuneOut(
        set=name,
        collection=result.collection,
        current=result.current,
        tuned=result.chosen,
        changes=result.changes,
        test=result.test,
        sizes=list(result.sizes),
        notes=result.notes,
        saved=saved_to is not None,
    )


class EvalReportEntry(BaseModel):
    set: str
    collection: str
    kind: Literal["eval", "tune"]
    modified: datetime


@router.get("/collections/{collection}/eval/sets", response_model=list[EvalSetOut])
def list_sets(request: Request, collection: CollectionPath, _: Reader) -> list[EvalSetOut]:
    """The collection's saved evaluation sets ('default' first)."""
    found = saved.list_sets(request.app.state.library, collection)
    return [EvalSetOut.model_validate(s, from_attributes=True) for s in found]


@router.post("/collections/{collection}/eval/sets", status_code=201, response_model=EvalSetOut)
def build_set(
    request: Request, collection: CollectionPath, body: EvalSetIn, principal: Writer
) -> EvalSetOut:
    """Build and save a set: questions written by the language model from sampled
    passages (keyword questions without one), plus every answer judged bad."""
    built = saved.build_set(
        request.app.state.library,
        collection,
        body.name,
        count=body.count,
        seed=body.seed,
        use_llm=False if body.keywords else None,
        replace=body.replace,
    )
    audit.record(request, principal, "eval.build", f"{collection}/{body.name}", 201)
    return set_out(built)


@router.get("/collections/{collection}/eval/sets/{name}", response_model=list[EvalCaseOut])
def read_set(
    request: Request, collection: CollectionPath, name: SetPath, _: Reader
) -> list[EvalCaseOut]:
    """A saved set's cases."""
    found = saved.load_set(request.app.state.library, collection, name)
    return [EvalCaseOut.model_validate(c, from_attributes=True) for c in found]


@router.post("/collections/{collection}/eval/runs", response_model=EvalReportOut)
def score_set(
    request: Request, collection: CollectionPath, body: EvalRunIn, principal: Writer
) -> EvalReportOut:
    """Score a saved set: retrieval (recall@k, MRR, nDCG), answers (context recall,
    faithfulness, correctness by the model as judge) and latency; the report is kept
    (GET .../eval/reports/{set})."""
    result = saved.score_set(
        request.app.state.library,
        collection,
        body.set,
        k=body.k,
        answers=body.answers,
        use_llm=False if body.extractive else None,
        limit=body.limit,
    )
    audit.record(request, principal, "eval.run", f"{collection}/{body.set}", 200)
    return report_out(body.set, result)


def set_out(built: saved.BuiltSet) -> EvalSetOut:
    return EvalSetOut(
        name=built.name,
        collection=built.collection,
        cases=len(built.cases),
        origins=built.origins,
        notes=built.notes,
    )


def report_out(name: str, result: EvalResult) -> EvalReportOut:
    return EvalReportOut(
        set=name,
        collection=result.collection,
        k=result.k,
        model=result.model,
        metrics=result.metrics,
        notes=result.notes,
        cases=[EvalCaseResultOut.model_validate(c, from_attributes=True) for c in result.cases],
    )


@router.post("/collections/{collection}/eval/tunings", response_model=EvalTuneOut)
def tune_set(
    request: Request, collection: CollectionPath, body: EvalTuneIn, principal: Writer
) -> EvalTuneOut:
    """Tune the fusion weight, candidate depth, chunk neighbours and abstention threshold
    on one half of a saved set and report them on the other (what `mnemo eval tune`
    does); the tuning report is kept (GET .../eval/reports/{set}?kind=tune). Keeping the
    tuned settings (``save``) changes answers for everyone: an admin key."""
    if body.save:
        check_scope(principal, "admin")
    result, kept = saved.tune_set(request.app.state.library, collection, body.set, save=body.save)
    audit.record(request, principal, "eval.tune", f"{collection}/{body.set}", 200)
    return tune_out(body.set, result, kept)


@router.get("/collections/{collection}/eval/reports", response_model=list[EvalReportEntry])
def list_reports(request: Request, collection: CollectionPath, _: Reader) -> list[EvalReportEntry]:
    """The reports of the collection's sets (evaluations and tunings), newest first."""
    found = saved.list_reports(request.app.state.library, collection)
    return [EvalReportEntry.model_validate(r, from_attributes=True) for r in found]


@router.get(
    "/collections/{collection}/eval/reports/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "The report as Markdown or as an HTML page.",
            "content": {"text/markdown": {}, "text/html": {}},
        }
    },
)
def read_report(
    request: Request,
    collection: CollectionPath,
    name: SetPath,
    _: Reader,
    kind: Annotated[Literal["eval", "tune"], Query(description="eval or tune")] = "eval",
    format: Annotated[Literal["markdown", "html"], Query()] = "markdown",
) -> Response:
    """A set's latest evaluation (or tuning) report, as Markdown or HTML."""
    html = format == "html"
    text = saved.read_report(request.app.state.library, collection, name, kind=kind, html=html)
    media = "text/html" if html else "text/markdown"
    # The page shows text from documents and models: no script of it may run here.
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"}
    return Response(text, media_type=f"{media}; charset=utf-8", headers=headers)
