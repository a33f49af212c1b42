"""Greets the ``name`` query parameter: ``/?name=Alice`` answers ``Hello, Alice!``.

Serve it with::

    python -m wsgikit examples.query_app:application

then ``curl "http://127.0.0.1:8000/?name=Alice"``.
"""

from urllib.parse import parse_qs


def application(environ, start_response):
    """Handle query parameters."""
    query_string = environ.get("QUERY_STRING", "")
    params = parse_qs(query_string)

    name = params.get("name", ["World"])[0]
    message = f"Hello, {name}!"

    status = "200 OK"
    headers = [("Content-Type", "text/plain")]
    start_response(status, headers)

    return [message.encode("utf-8")]
