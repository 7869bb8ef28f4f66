"""The web app: server-rendered pages under ``/ui`` (``/`` sends a browser there).

Same process, port, keys and scopes as the REST API: :class:`~mnemo.server.auth.AuthGate`
authenticates each page from the session cookie the sign-in page sets, and every
page calls the same :class:`~mnemo.library.Library` methods and job runner as the
REST routes. Jinja2 renders the HTML (autoescaped); one small script of our own
(``static/app.js``) adds live job progress, streamed answers and scrolling; every
form also works without it. See docs/decisions.md for why not NiceGUI or htmx.
"""

from mnemo.server.ui.mount import IMPORT_PATH, UPLOAD_PATH, error_page, install

__all__ = ["IMPORT_PATH", "UPLOAD_PATH", "error_page", "install"]
