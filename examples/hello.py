"""The smallest WSGI application: answers every request with ``Hello, World!``.

Serve it with::

    python -m wsgikit examples.hello:application
"""


def application(environ, start_response):
    """Simple WSGI application."""
    status = "200 OK"
    headers = [("Content-Type", "text/plain")]
    start_response(status, headers)

    return [b"Hello, World!"]
