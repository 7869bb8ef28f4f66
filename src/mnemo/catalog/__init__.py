"""The catalog: what is indexed, where it came from, and what each run did."""

from mnemo.catalog.db import Catalog
from mnemo.catalog.models import Chunk, Collection, Document, Run, RunFile, Source

__all__ = ["Catalog", "Chunk", "Collection", "Document", "Run", "RunFile", "Source"]
