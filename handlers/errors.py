"""Clean answers for HTTP errors: plain text for clients, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

log = logging.getLogger("ivr.http")


def register(app: Flask) -> None:
    """Install handlers that answer errors with a short plain-text message."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        text = exc.description if isinstance(exc.description, str) else exc.name
        return Response(f"{exc.code} {exc.name}: {text}\n", status=exc.code, mimetype="text/plain")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return Response("500 Internal Server Error: the problem was logged\n", status=500,
                        mimetype="text/plain")
