"""Getting knowledge back out: Markdown notes, CSV/JSON, whole-collection archives."""
