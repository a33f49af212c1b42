"""A Pyramid application: ``/`` text, ``/json`` a JSON document, ``POST /echo`` echoes.

``POST /echo`` answers with the request body, byte for byte, and the request method in
the ``X-Request-Method`` header.

Serve it with::

    python -m wsgikit examples.pyramid_app:application
"""

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response


def index(request: Request) -> Response:
    return Response("Hello from Pyramid!", content_type="text/plain", charset="utf-8")


def json_view(request: Request) -> dict[str, str]:
    return {"framework": "pyramid", "message": "JSON response"}


def echo(request: Request) -> Response:
    response = Response(
        body=request.body,
        content_type=request.content_type or "application/octet-stream",
    )
    response.headers["X-Request-Method"] = request.method
    return response


def make_app():
    """Build the WSGI application (a fresh one per call)."""
    with Configurator() as config:
        config.add_route("index", "/")
        config.add_route("json", "/json")
        config.add_route("echo", "/echo", request_method="POST")
        config.add_view(index, route_name="index")
        config.add_view(json_view, route_name="json", renderer="json")
        config.add_view(echo, route_name="echo")
        return config.make_wsgi_app()


application = make_app()
