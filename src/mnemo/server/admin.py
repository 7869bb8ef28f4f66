"""Collections (list, status: read; create, delete: admin), API keys and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from mnemo.catalog.summary import CollectionStatus
from mnemo.server import audit, auth, schemas
from mnemo.server.auth import KeyInfo, Principal, require
from mnemo.server.errors import ERROR_RESPONSES, ApiError
from mnemo.server.queries import CollectionPath

router = APIRouter(responses=ERROR_RESPONSES)
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def _key_admin(principal: Admin) -> Principal:
    """An admin who showed a key: keys are never minted or revoked for an anonymous caller,
    not even on an open loopback server, where a web page or another local user may be
    the caller."""
    if principal.key_id is None:
        raise ApiError(
            403,
            "key_required",
            "API keys are not created or revoked over HTTP on a server without keys: "
            "create the first key with `mnemo keys create --scope admin`",
        )
    return principal


KeyAdmin = Annotated[Principal, Depends(_key_admin)]


def collection_out(status: CollectionStatus) -> schemas.CollectionOut:
    return schemas.CollectionOut(
        name=status.name,
        sources=status.sources,
        documents=status.documents,
        chunks=status.chunks,
        embedders=[e.embedder for e in status.embeddings if e.state == "active"],
    )


def _key_out(key: KeyInfo) -> schemas.KeyOut:
    return schemas.KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scope=key.scope,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.get("/collections", tags=["collections"], response_model=list[schemas.CollectionOut])
def list_collections(request: Request, _: Reader) -> list[schemas.CollectionOut]:
    return [collection_out(s) for s in request.app.state.library.status()]


@router.post(
    "/collections", tags=["collections"], status_code=201, response_model=schemas.CollectionOut
)
def create_collection(
    request: Request, body: schemas.CollectionCreate, principal: Admin
) -> schemas.CollectionOut:
    status = request.app.state.library.create_collection(body.name)
    audit.record(request, principal, "collection.create", body.name, 201)
    return collection_out(status)


@router.get("/collections/{collection}", tags=["collections"], response_model=schemas.CollectionOut)
def collection_status(
    request: Request, collection: CollectionPath, _: Reader
) -> schemas.CollectionOut:
    return collection_out(request.app.state.library.status(collection=collection)[0])


@router.delete("/collections/{collection}", tags=["collections"], response_model=schemas.Removed)
def delete_collection(
    request: Request, collection: CollectionPath, principal: Admin
) -> schemas.Removed:
    """Forget a collection and its index; the files themselves are not touched."""
    request.app.state.library.delete_collection(collection)
    audit.record(request, principal, "collection.delete", collection, 200)
    return schemas.Removed(removed=collection)


@router.get("/deployment", tags=["collections"], response_model=schemas.DeploymentOut)
def deployment(request: Request, _: Admin) -> schemas.DeploymentOut:
    """Where the collections live (catalog and index; never a password) and the ingestion
    queue of every server process that shares the catalog."""
    return schemas.DeploymentOut(**vars(request.app.state.library.deployment()))


@router.post("/keys", tags=["keys"], status_code=201, response_model=schemas.KeyCreated)
def create_key(
    request: Request, body: schemas.KeyCreate, principal: KeyAdmin
) -> schemas.KeyCreated:
    """A new API key; its secret is in this response only."""
    key, secret = auth.create_key(request.app.state.catalog, body.scope, body.name)
    audit.record(request, principal, "key.create", f"{key.id} {key.name} ({key.scope})", 201)
    return schemas.KeyCreated(**_key_out(key).model_dump(), secret=secret)


@router.get("/keys", tags=["keys"], response_model=list[schemas.KeyOut])
def list_keys(request: Request, _: Admin) -> list[schemas.KeyOut]:
    return [_key_out(k) for k in auth.list_keys(request.app.state.catalog)]


@router.delete("/keys/{key_id}", tags=["keys"], response_model=schemas.KeyOut)
def revoke_key(
    request: Request, key_id: Annotated[int, Path(ge=1, le=2**62)], principal: KeyAdmin
) -> schemas.KeyOut:
    """Revoke a key; never the last active one (that needs `mnemo keys revoke --no-auth`)."""
    key = auth.revoke_key(request.app.state.catalog, key_id)
    audit.record(request, principal, "key.revoke", f"{key.id} {key.name}", 200)
    return _key_out(key)


@router.get("/audit", tags=["keys"], response_model=list[schemas.AuditOut])
def audit_log(
    request: Request, _: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[schemas.AuditOut]:
    """The newest write and admin actions: who, what, on what, when."""
    return [
        schemas.AuditOut(**vars(entry)) for entry in audit.recent(request.app.state.catalog, limit)
    ]
