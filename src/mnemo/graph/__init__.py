"""The note graph read back: related notes, the whole graph (networkx), export.

Edges are written by ingestion (:mod:`mnemo.ingest.edges`,
:mod:`mnemo.ingest.neighbours`); this package only reads them.
"""
