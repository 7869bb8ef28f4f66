"""The HTTP server: REST API, OpenAI-compatible routes, keys, limits, jobs and metrics.

Importing this package loads FastAPI; nothing in ``mnemo`` imports it until
`mnemo serve` runs.
"""
