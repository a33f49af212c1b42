"""Echoes a POSTed JSON document back inside ``{"received": ..., "status": "success"}``.

Serve it with::

    python -m wsgikit examples.post_app:application

then ``curl -X POST http://127.0.0.1:8000 -H "Content-Type: application/json"
-d '{"key": "value"}'``.
"""

import json


def application(environ, start_response):
    """Handle POST requests."""
    method = environ.get("REQUEST_METHOD", "GET")

    if method == "POST":
        # Read request body
        try:
            content_length = int(environ.get("CONTENT_LENGTH", 0))
        except ValueError:
            content_length = 0

        body = environ["wsgi.input"].read(content_length)

        # Parse JSON
        try:
            data = json.loads(body)
            response = {"received": data, "status": "success"}
        except ValueError:
            # The original caught everything with a bare ``except:``. Every error
            # json.loads raises on bad input (JSONDecodeError, UnicodeDecodeError) is a
            # ValueError, so the observable behaviour is the same.
            response = {"error": "Invalid JSON"}
    else:
        # Kept from earlier releases on purpose: other methods get this error
        # document with ``200 OK``, not ``405 Method Not Allowed``.
        response = {"error": "Method not allowed"}

    body = json.dumps(response).encode("utf-8")

    status = "200 OK"
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    start_response(status, headers)

    return [body]
