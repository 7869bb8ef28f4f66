"""A collection's graph as a networkx graph, and written out as GraphML or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mnemo.catalog.models import Document, Edge

if TYPE_CHECKING:
    import networkx as nx

GRAPH_FORMATS = ("graphml", "json")


def build_graph(
    session: Session,
    collection_id: int,
    *,
    kinds: tuple[str, ...] | None = None,
    missing: bool = True,
    tags: bool = False,
) -> nx.MultiDiGraph:
    """Documents as nodes (path, title), edges with their kind, origin and weight.
    Missing notes become nodes of kind ``missing``; tags become nodes with ``tags``."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    for doc_id, path, title, media_type in session.execute(
        select(Document.id, Document.path, Document.title, Document.media_type).where(
            Document.collection_id == collection_id, Document.status == "indexed"
        )
    ):
        graph.add_node(
            doc_id, kind="document", path=path, title=title or "", media_type=media_type or ""
        )
    query = select(
        Edge.source_id,
        Edge.target_id,
        Edge.kind,
        Edge.origin,
        Edge.target,
        Edge.anchor,
        Edge.weight,
    ).where(Edge.collection_id == collection_id)
    if kinds:
        query = query.where(Edge.kind.in_(kinds))
    for source, target_id, kind, origin, target, anchor, weight in session.execute(query):
        if source not in graph:
            continue
        if kind == "tag":
            if not tags:
                continue
            node = "tag:" + target
            graph.add_node(node, kind="tag", path="", title="#" + target, media_type="")
        elif target_id is None:
            if not missing:
                continue
            node = "missing:" + target
            graph.add_node(node, kind="missing", path="", title=target, media_type="")
        elif target_id in graph:
            node = target_id
        else:
            continue
        graph.add_edge(
            source, node, kind=kind, origin=origin, anchor=anchor or "", weight=float(weight)
        )
    return graph


def write_graph(graph: nx.MultiDiGraph, fmt: str) -> str:
    """The graph as GraphML text or as node-link JSON."""
    import networkx as nx

    if fmt == "graphml":
        return "\n".join(nx.generate_graphml(graph))
    if fmt == "json":
        data: dict[str, Any] = nx.node_link_data(graph, edges="edges")
        return json.dumps(data, indent=1, default=str)
    raise ValueError(f"unknown graph format {fmt!r}: choose one of {', '.join(GRAPH_FORMATS)}")


def neighbourhood(graph: nx.MultiDiGraph, node: str, depth: int = 1) -> nx.MultiDiGraph:
    """The part of ``graph`` within ``depth`` steps of ``node`` (either direction)."""
    import networkx as nx

    near = nx.ego_graph(graph.to_undirected(as_view=True), node, radius=depth)
    return graph.subgraph(near.nodes).copy()


def clusters(graph: nx.MultiDiGraph, seed: int = 0) -> list[set[str]]:
    """Communities of the document graph (Louvain), largest first."""
    import networkx as nx

    simple = nx.Graph()
    simple.add_nodes_from(n for n, d in graph.nodes(data=True) if d.get("kind") == "document")
    for a, b, data in graph.edges(data=True):
        if a in simple and b in simple and a != b:
            w = simple.get_edge_data(a, b, {}).get("weight", 0.0)
            simple.add_edge(a, b, weight=w + float(data.get("weight", 1.0)))
    found = nx.community.louvain_communities(simple, weight="weight", seed=seed)
    return sorted((set(c) for c in found), key=lambda c: (-len(c), min(c)))
