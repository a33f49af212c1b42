"""A Bottle application: ``/``, ``/hello/<name>``, and ``POST /echo``.

``POST /echo`` answers with the request body, byte for byte, and the request method in
the ``X-Request-Method`` header.

Serve it with::

    python -m wsgikit examples.bottle_app:application
"""

import bottle

app = bottle.Bottle()


@app.route("/")
def index() -> str:
    bottle.response.content_type = "text/plain; charset=utf-8"
    return "Hello from Bottle!"


@app.route("/hello/<name>")
def hello(name: str) -> str:
    bottle.response.content_type = "text/plain; charset=utf-8"
    return f"Hello, {name}!"


@app.post("/echo")
def echo() -> bytes:
    bottle.response.content_type = bottle.request.content_type or "application/octet-stream"
    bottle.response.set_header("X-Request-Method", bottle.request.method)
    return bottle.request.body.read()


application = app
