"""A chunked request body reaches every framework the examples cover, under both workers:
the server reads it whole (spooling past ``spool_threshold``) and gives a CONTENT_LENGTH."""

from __future__ import annotations

import pytest

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient

FRAMEWORKS = {
    "django": "examples.django_app:application",
    "bottle": "examples.bottle_app:application",
    "falcon": "examples.falcon_app:application",
    "flask": "examples.flask_app:application",
    "pyramid": "examples.pyramid_app:application",
}


def _chunked(body: bytes, piece: int = 700) -> bytes:
    parts = [body[i : i + piece] for i in range(0, len(body), piece)]
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@pytest.fixture(scope="module", params=["sync", "threaded"])
def servers(request: pytest.FixtureRequest):
    # A small spool threshold: the larger body goes to a temporary file.
    started = {
        name: LiveServer(spec, worker_class=request.param, spool_threshold=1000)
        for name, spec in FRAMEWORKS.items()
    }
    try:
        for server in started.values():
            server.start()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.mark.parametrize("size", [0, 300, 5000])
@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_a_chunked_post_reaches_the_framework(
    servers: dict[str, LiveServer], framework: str, size: int
) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    with RawClient(servers[framework].port) as client:
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + _chunked(body)
        )
        response = client.read_response()
    assert response.status == 200, response
    assert response.body == body
