"""A whole collection to one archive and back: its catalog rows (sources, documents,
chunks, the vectors its chunks use, embedders, conversations, feedback, edges, digests,
and any other table keyed by collection, such as long-term memory), and the home's
settings file. The search index is derived: import writes it again from the imported
rows (nothing is re-embedded).

The archive is a zip: ``manifest.json`` (format, Mnemo version, catalog schema
revision), ``settings.toml`` when there is one, and one ``tables/<name>.jsonl`` per
table. Import refuses an archive of another format or of a newer catalog schema.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from mnemo.errors import MnemoError

FORMAT = 1
#: Run and job history stay behind: they describe this machine's runs.
_SKIPPED = {
    "runs",
    "run_files",
    "jobs",
    "index_pending",
    "api_keys",
    "audit_log",
    "alembic_version",
}


class ArchiveError(MnemoError):
    """An archive that cannot be read or imported here."""

    exit_code = 2


#: An archive may come from anyone (an upload): what it may hold, and how much.
_MEMBER = re.compile(
    r"^(manifest\.json|settings\.toml|tables/[a-z_][a-z0-9_]{0,62}\.jsonl"
    r"|web/[0-9a-f]{32}\.[a-z0-9]{1,10})$"  # stored copies of web pages (mnemo.ingest.web)
)
MAX_UNPACKED = 4 << 30  # bytes, all members inflated
MAX_RATIO = 200  # inflated / compressed, per member (JSON lines deflate 5-20x)


def check_archive(archive: Path, max_unpacked: int = MAX_UNPACKED) -> None:
    """Refuse an archive that is not shaped like one :func:`export_collection` writes:
    members other than the manifest, settings, table files and stored web pages (paths that climb out,
    links, folders), or members that inflate past the limits (a zip bomb). Nothing is
    ever extracted to disk; members are read with their declared size as the cap."""
    try:
        with zipfile.ZipFile(archive) as src:
            infos = src.infolist()
    except FileNotFoundError:
        raise ArchiveError(f"{archive}: no such file") from None
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ArchiveError(f"{archive}: not a Mnemo archive (not a zip file)") from None
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if not _MEMBER.match(name) or name in seen:
            raise ArchiveError(
                f"{archive}: unexpected member {name[:80]!r}: not an archive `mnemo export` wrote"
            )
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(f"{archive}: member {name!r} is a link: refused")
        total += info.file_size
        if info.file_size > max(1 << 20, info.compress_size * MAX_RATIO) or total > max_unpacked:
            raise ArchiveError(
                f"{archive}: member {name!r} inflates past the limit "
                f"({info.file_size:,} bytes from {info.compress_size:,}): refused as a zip bomb"
            )


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
    return value


def _tables(connection: Connection) -> dict[str, Table]:
    meta = MetaData()
    meta.reflect(bind=connection)
    return dict(meta.tables)


def _selected(
    connection: Connection, tables: dict[str, Table], collection_id: int
) -> Iterator[tuple[str, Iterator[dict]]]:
    """Each table's rows that belong to the collection."""

    def rows(table: Table, clause: Any) -> Iterator[dict]:
        """Read as written, a batch at a time (a big collection is never all in memory)."""
        result = connection.execute(select(table).where(clause).execution_options(yield_per=1000))
        for row in result:
            yield dict(row._mapping)

    t = tables
    yield "collections", rows(t["collections"], t["collections"].c.id == collection_id)
    doc_ids = select(t["documents"].c.id).where(t["documents"].c.collection_id == collection_id)
    conv_ids = select(t["conversations"].c.id).where(
        t["conversations"].c.collection_id == collection_id
    )
    keys = select(t["collection_embedders"].c.key).where(
        t["collection_embedders"].c.collection_id == collection_id
    )
    hashes = select(t["chunks"].c.embed_hash).where(t["chunks"].c.document_id.in_(doc_ids))
    for name, table in t.items():
        if name in _SKIPPED or name == "collections":
            continue
        if "collection_id" in table.c:
            yield name, rows(table, table.c.collection_id == collection_id)
        elif name == "chunks":
            yield name, rows(table, table.c.document_id.in_(doc_ids))
        elif name == "embeddings":
            yield name, rows(table, table.c.embedder_key.in_(keys) & table.c.embed_hash.in_(hashes))
        elif "conversation_id" in table.c:
            yield name, rows(table, table.c.conversation_id.in_(conv_ids))


def export_collection(
    catalog: Any,
    collection_id: int,
    revision: str | None,
    settings_file: Path | None,
    archive: Path,
    version: str,
) -> dict[str, int]:
    """Write the collection to ``archive``; returns rows written per table."""
    counts: dict[str, int] = {}
    archive.parent.mkdir(parents=True, exist_ok=True)
    with (
        catalog.engine.connect() as connection,
        zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out,
    ):
        tables = _tables(connection)
        for name, rows in _selected(connection, tables, collection_id):
            counts[name] = 0
            with out.open(f"tables/{name}.jsonl", "w", force_zip64=True) as member:
                for r in rows:
                    member.write(
                        (json.dumps({k: _encode(v) for k, v in r.items()}) + "\n").encode()
                    )
                    counts[name] += 1
        if settings_file is not None and settings_file.is_file():
            out.writestr("settings.toml", settings_file.read_text(encoding="utf-8"))
        manifest = {"format": FORMAT, "mnemo": version, "schema": revision, "tables": counts}
        out.writestr("manifest.json", json.dumps(manifest, indent=1))
    return counts


def export_web_copies(archive: Path, stored: list[str], folder: Path) -> None:
    """Add stored copies of web pages (names in ``folder``) to ``archive`` as
    ``web/<name>``, so an imported collection shows and re-reads them without fetching."""
    files = [folder / Path(name).name for name in stored]
    files = [f for f in files if f.is_file()]
    if not files:
        return
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as out:
        for file in files:
            out.write(file, f"web/{file.name}")


def import_web_copies(archive: Path, folder: Path) -> None:
    """Write an archive's ``web/<name>`` members into ``folder`` (the home's stored web
    pages), keeping any copy already there. :func:`check_archive` has admitted only
    bare names of the stored-copy shape, so nothing lands outside ``folder``."""
    from mnemo.config.private import FILE_MODE, private_dir

    with zipfile.ZipFile(archive) as src:
        members = [n for n in src.namelist() if n.startswith("web/") and n.count("/") == 1]
        if not members:
            return
        folder = private_dir(folder)
        for member in members:
            target = folder / Path(member).name
            if target.name.startswith(".") or target.exists():
                continue
            target.write_bytes(src.read(member))
            target.chmod(FILE_MODE)


def read_manifest(archive: Path) -> dict[str, Any]:
    check_archive(archive)
    try:
        with zipfile.ZipFile(archive) as src:
            manifest = json.loads(src.read("manifest.json"))
    except FileNotFoundError:
        raise ArchiveError(f"{archive}: no such file") from None
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ArchiveError(f"{archive}: not a Mnemo archive (no readable manifest.json)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(
            f"{archive}: archive format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
            f" is not {FORMAT}: import it with the Mnemo version that wrote it"
        )
    return manifest


def import_collection(
    catalog: Any, archive: Path, name: str, revision: str | None, known_revisions: list[str]
) -> tuple[int, dict[str, int], str | None]:
    """Insert the archive's rows as collection ``name``; returns (collection id, rows per
    table, the archived settings text)."""
    manifest = read_manifest(archive)
    schema = manifest.get("schema")
    if schema != revision and schema not in known_revisions:
        raise ArchiveError(
            f"{archive}: written by a newer Mnemo (catalog schema {schema}; this one has "
            f"{revision}): upgrade Mnemo, then import again"
        )
    try:
        return _import(catalog, archive, name)
    except ArchiveError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, SQLAlchemyError) as exc:
        raise ArchiveError(
            f"{archive}: damaged or not written by `mnemo export` ({type(exc).__name__}): "
            "nothing was imported"
        ) from None


def _importable(tables: dict[str, Table], name: str) -> bool:
    """Tables an archive may fill: those export writes, never keys, runs or jobs."""
    table = tables.get(name)
    if table is None or name in _SKIPPED:
        return False
    return "collection_id" in table.c or "conversation_id" in table.c or name == "chunks"


def _check_links(archive: Path, data: dict[str, list[dict]]) -> None:
    """Rows may only hang off the archive's own documents and conversations."""
    docs = {r["id"] for r in data.get("documents", [])}
    convs = {r["id"] for r in data.get("conversations", [])}
    for name, rows in data.items():
        for r in rows:
            if not isinstance(r, dict):
                raise ArchiveError(f"{archive}: {name}: a row is not an object")
            if name == "chunks" and r.get("document_id") not in docs:
                raise ArchiveError(f"{archive}: {name}: a chunk of a document it does not hold")
            if (
                "conversation_id" in r
                and name != "conversations"
                and r["conversation_id"] not in convs
            ):
                raise ArchiveError(f"{archive}: {name}: a row of a conversation it does not hold")


def _import(catalog: Any, archive: Path, name: str) -> tuple[int, dict[str, int], str | None]:
    counts: dict[str, int] = {}
    with zipfile.ZipFile(archive) as src, catalog.engine.begin() as connection:
        tables = _tables(connection)
        data = {
            n[len("tables/") : -len(".jsonl")]: [
                {k: _decode(v) for k, v in json.loads(line).items()}
                for line in src.read(n).decode().splitlines()
                if line.strip()
            ]
            for n in src.namelist()
            if n.startswith("tables/") and n.endswith(".jsonl")
        }
        if len(data.get("collections", [])) != 1:
            raise ArchiveError(f"{archive}: it holds no collection")
        coll = tables["collections"]
        if connection.execute(select(coll.c.id).where(coll.c.name == name)).first():
            raise ArchiveError(
                f"collection {name!r} exists already: import with --as NEW_NAME, or delete it first"
            )
        data = _fresh_ids_if_taken(connection, tables, data)
        row = data["collections"][0]
        row.pop("id")
        row["name"] = name
        new_id = connection.execute(coll.insert().values(**row)).inserted_primary_key[0]
        source_ids: dict[Any, Any] = {}
        order = [
            "sources",
            "collection_embedders",
            "documents",
            "chunks",
            "embeddings",
            "conversations",
        ]
        rest = [n for n in data if n not in order and n != "collections" and _importable(tables, n)]
        _check_links(archive, data)
        for table_name in order + rest:
            rows = data.get(table_name, [])
            table = tables.get(table_name)
            if table is None or not rows:
                counts[table_name] = 0 if table is not None else -len(rows)
                continue
            if table_name == "embeddings":  # shared across collections: keep what is there
                existing = {
                    (k, h)
                    for k, h in connection.execute(select(table.c.embedder_key, table.c.embed_hash))
                }
                rows = [r for r in rows if (r["embedder_key"], r["embed_hash"]) not in existing]
            for r in rows:
                if "collection_id" in r:
                    r["collection_id"] = new_id
                if table_name == "documents" and r.get("source_id") is not None:
                    r["source_id"] = source_ids.get(r["source_id"])
                if _integer_key(table) and table_name != "sources":
                    r.pop("id", None)
            if table_name == "sources":
                for r in rows:
                    old = r.pop("id")
                    source_ids[old] = connection.execute(
                        table.insert().values(**r)
                    ).inserted_primary_key[0]
            elif rows:
                connection.execute(
                    table.insert(), [{k: v for k, v in r.items() if k in table.c} for r in rows]
                )
            counts[table_name] = len(rows)
    return new_id, counts, None if "settings.toml" not in _names(archive) else _settings(archive)


def _fresh_ids_if_taken(
    connection: Connection, tables: dict[str, Table], data: dict[str, list[dict]]
) -> dict[str, list[dict]]:
    """The archive's rows with new document, chunk and conversation ids when this catalog
    holds those ids already (the same collection imported twice under two names)."""
    import uuid

    from mnemo.chunking.chunker import chunk_id

    docs = [r["id"] for r in data.get("documents", [])]
    convs = [r["id"] for r in data.get("conversations", [])]
    taken = (
        bool(docs)
        and connection.execute(
            select(tables["documents"].c.id).where(tables["documents"].c.id.in_(docs[:500]))
        ).first()
    )
    taken = taken or (
        bool(convs)
        and connection.execute(
            select(tables["conversations"].c.id).where(
                tables["conversations"].c.id.in_(convs[:500])
            )
        ).first()
    )
    if not taken:
        return data
    mapping = {old: uuid.uuid4().hex for old in docs + convs}
    for chunk in data.get("chunks", []):
        mapping[chunk["id"]] = chunk_id(mapping[chunk["document_id"]], chunk["id"], 0)

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return mapping.get(value, value)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    return {
        name: rows if name == "embeddings" else [swap(r) for r in rows]
        for name, rows in data.items()
    }


def _integer_key(table: Table) -> bool:
    keys = list(table.primary_key.columns)
    return len(keys) == 1 and keys[0].name == "id" and str(keys[0].type).upper().startswith("INT")


def _names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as src:
        return src.namelist()


def _settings(archive: Path) -> str:
    with zipfile.ZipFile(archive) as src:
        return src.read("settings.toml").decode("utf-8")
