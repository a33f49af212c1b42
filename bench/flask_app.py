"""The Flask app of the ``flask`` scenario and of the Flask start-up check.

In a module of its own, so that the plain apps (:mod:`bench.apps`) do not load Flask:
start-up time and worker memory are measured once with a plain app (the server's own
cost) and once with this one (what a Flask deployment sees).
"""

from __future__ import annotations

from typing import Any

__all__ = ["flask_json"]


def _flask_app() -> Any:
    try:
        from flask import Flask, jsonify
    except ImportError:  # the flask scenario is skipped without it
        return None
    app = Flask("bench")

    @app.get("/")
    def index() -> Any:
        return jsonify(message="Hello, World!", items=[1, 2, 3], ok=True)

    return app


flask_json = _flask_app()
