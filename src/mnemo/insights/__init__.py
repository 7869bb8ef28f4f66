"""Proactive insights: the digest, topics and resurfacing, from the catalog and the graph."""
