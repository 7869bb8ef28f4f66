"""Retrieval: keyword and dense search, fusion, filters, reranking, context."""
