"""A JSON API without a framework: ``/``, ``/users``, and a JSON error for the rest.

Every path answers ``200 OK`` (unknown paths with ``{"error": "Not found"}``): a
client of this API reads the error from the body, not from the status.

Serve it with::

    python -m wsgikit examples.api:application -w 4
"""

import json


def application(environ, start_response):
    """JSON API example."""
    path = environ.get("PATH_INFO", "/")

    if path == "/":
        response_data = {
            "message": "Welcome to the API",
            "endpoints": ["/users", "/posts"],
        }
    elif path == "/users":
        response_data = {
            "users": [
                {"id": 1, "name": "Alice"},
                {"id": 2, "name": "Bob"},
            ]
        }
    else:
        response_data = {"error": "Not found"}

    body = json.dumps(response_data).encode("utf-8")

    status = "200 OK"
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    start_response(status, headers)

    return [body]
