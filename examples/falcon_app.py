"""A Falcon application: ``/`` and ``POST /echo`` (the request body, byte for byte).

Serve it with::

    python -m wsgikit examples.falcon_app:application
"""

import falcon


class Index:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/plain; charset=utf-8"
        resp.text = "Hello from Falcon!"


class Echo:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = req.content_type or "application/octet-stream"
        resp.set_header("X-Request-Method", req.method)
        resp.data = req.bounded_stream.read()


application = falcon.App()
application.add_route("/", Index())
application.add_route("/echo", Echo())
