"""What a drawing of the graph needs: nodes with a label and a cluster, edges with a kind.

The whole collection is cut to its ``limit`` best-connected documents (a drawing of
more is unreadable and slow in a browser); a note's neighbourhood is everything
within ``depth`` steps of it.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from mnemo.graph.network import clusters, neighbourhood

LIMIT = 1500


def drawing(
    graph: Any, *, around: str | None = None, depth: int = 1, limit: int = LIMIT
) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [...], "clusters": n, "total": documents}``."""
    total = sum(1 for _, d in graph.nodes(data=True) if d.get("kind") == "document")
    if around is not None:
        graph = neighbourhood(graph, around, depth)
    elif graph.number_of_nodes() > limit:
        ranked = sorted(graph.degree, key=lambda item: (-item[1], item[0]))[:limit]
        graph = graph.subgraph(n for n, _ in ranked).copy()
    group = {}
    for index, members in enumerate(clusters(graph)):
        for node in members:
            group[node] = index if len(members) > 1 else -1
    nodes = []
    for node, data in graph.nodes(data=True):
        kind = data.get("kind", "document")
        label = data.get("title") or (
            PurePath(data.get("path", "")).stem if data.get("path") else node
        )
        nodes.append(
            {
                "id": node,
                "label": str(label)[:60],
                "title": data.get("path")
                or (f"missing note: {label}" if kind == "missing" else str(label)),
                "kind": kind,
                "group": group.get(node, -1) if kind == "document" else kind,
                "focus": node == around,
            }
        )
    edges = [
        {"from": a, "to": b, "kind": d.get("kind", ""), "dashes": d.get("kind") == "semantic"}
        for a, b, d in graph.edges(data=True)
    ]
    return {
        "nodes": nodes,
        "edges": edges,
        "clusters": len({g for g in group.values() if g >= 0}),
        "total": total,
    }
