"""Topics: communities of the note graph (links and semantic neighbours, Louvain in
networkx), each labelled with its most distinctive words (TF-IDF of the community's
text against the rest; no model needed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from mnemo.graph.network import build_graph, clusters
from mnemo.insights.duplicates import DocRef, document_texts

LABEL_WORDS = 3


@dataclass(frozen=True)
class Topic:
    label: str
    keywords: list[str]
    documents: list[DocRef]


def topics(
    session: Session, collection_id: int, *, min_size: int = 2, seed: int = 0
) -> list[Topic]:
    """The collection's topics, largest first; notes connected to nothing form none."""
    graph = build_graph(
        session, collection_id, kinds=("link", "embed", "citation", "semantic"), missing=False
    )
    groups = [c for c in clusters(graph, seed=seed) if len(c) >= min_size]
    if not groups:
        return []
    texts = document_texts(session, collection_id)
    words = keywords([" ".join(texts[d][1] for d in group if d in texts) for group in groups])
    found = []
    for group, top in zip(groups, words, strict=True):
        docs = sorted((texts[d][0] for d in group if d in texts), key=lambda r: r.path)
        label = ", ".join(top[:LABEL_WORDS]) or (docs[0].title or docs[0].path if docs else "")
        found.append(Topic(label, top, docs))
    return found


def keywords(corpus: list[str], count: int = 8) -> list[list[str]]:
    """The ``count`` most distinctive words of each text of ``corpus`` (TF-IDF)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not any(t.strip() for t in corpus):
        return [[] for _ in corpus]
    vectorizer = TfidfVectorizer(
        stop_words="english",
        max_features=20_000,
        sublinear_tf=True,
        token_pattern=r"(?u)\b[^\W\d_][\w-]{2,}\b",
    )
    try:
        matrix = vectorizer.fit_transform(corpus)
    except ValueError:  # only stop words
        return [[] for _ in corpus]
    terms = vectorizer.get_feature_names_out()
    out = []
    for row in range(matrix.shape[0]):
        values = matrix.getrow(row).toarray().ravel()
        best = values.argsort()[::-1][:count]
        out.append([str(terms[i]) for i in best if values[i] > 0])
    return out
