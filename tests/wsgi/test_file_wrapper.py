"""``wsgi.file_wrapper``: sendfile when the transport can, iteration otherwise."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from wsgikit.wsgi import FileWrapper

from .helpers import MemoryTransport, call

CONTENT = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def file_app(opener: Any, headers: list[tuple[str, str]] | None = None, blksize: int = 0) -> Any:
    opened: list[Any] = []

    def app(environ: Any, start_response: Any) -> Any:
        f = opener()
        opened.append(f)
        start_response("200 OK", list(headers or [("Content-Type", "application/octet-stream")]))
        wrapper = environ["wsgi.file_wrapper"]
        return wrapper(f, blksize) if blksize else wrapper(f)

    app.opened = opened  # type: ignore[attr-defined]
    return app


def test_regular_file_is_sent_with_sendfile(data_file: Path) -> None:
    app = file_app(lambda: open(data_file, "rb"))
    transport = MemoryTransport()
    out = call(app, transport=transport)
    resp = out.response
    assert resp is not None
    assert resp.header("Content-Length") == str(len(CONTENT))
    assert resp.header("Transfer-Encoding") is None
    assert resp.body == CONTENT
    assert len(transport.sendfile_calls) == 1
    _fd, offset, count = transport.sendfile_calls[0]
    assert (offset, count) == (0, len(CONTENT))
    assert out.info.sent == len(CONTENT)
    assert out.info.keep_alive is True
    assert app.opened[0].closed  # close() closed the file


def test_seeked_file_is_sent_from_its_offset(data_file: Path) -> None:
    def opener() -> Any:
        f = open(data_file, "rb")
        f.seek(1000)
        return f

    transport = MemoryTransport()
    out = call(file_app(opener), transport=transport)
    resp = out.response
    assert resp is not None
    assert resp.header("Content-Length") == str(len(CONTENT) - 1000)
    assert resp.body == CONTENT[1000:]
    assert transport.sendfile_calls[0][1:] == (1000, len(CONTENT) - 1000)


def test_app_content_length_limits_sendfile(data_file: Path) -> None:
    transport = MemoryTransport()
    out = call(
        file_app(lambda: open(data_file, "rb"), [("Content-Length", "100")]), transport=transport
    )
    assert out.response is not None and out.response.body == CONTENT[:100]
    assert transport.sendfile_calls[0][2] == 100
    assert out.info.keep_alive is True


def test_fallback_to_iteration_when_sendfile_is_unsupported(data_file: Path) -> None:
    transport = MemoryTransport(sendfile=False)
    app = file_app(lambda: open(data_file, "rb"), blksize=1000)
    out = call(app, transport=transport)
    resp = out.response
    assert resp is not None
    assert len(transport.sendfile_calls) == 1
    assert resp.header("Content-Length") == str(len(CONTENT))
    assert resp.body == CONTENT
    assert resp.complete
    assert out.info.sent == len(CONTENT)
    assert out.info.keep_alive is True
    assert app.opened[0].closed


def test_fallback_to_iteration_for_a_filelike_without_fileno() -> None:
    transport = MemoryTransport()
    app = file_app(lambda: io.BytesIO(CONTENT), blksize=4096)
    out = call(app, transport=transport)
    resp = out.response
    assert resp is not None
    assert transport.sendfile_calls == []
    assert resp.body == CONTENT
    assert resp.complete
    assert app.opened[0].closed


def test_object_with_read_only_is_iterated() -> None:
    class Reader:
        def __init__(self) -> None:
            self.buf = io.BytesIO(b"abcdef")

        def read(self, n: int) -> bytes:
            return self.buf.read(n)

    wrapper = FileWrapper(Reader(), 4)  # type: ignore[arg-type]
    assert list(wrapper) == [b"abcd", b"ef"]
    wrapper.close()  # no close() on the filelike: harmless
    assert wrapper.fileno_and_size() is None
    out = call(lambda e, sr: (sr("200 OK", []), e["wsgi.file_wrapper"](Reader(), 2))[1])
    assert out.response is not None and out.response.body == b"abcdef"


def test_head_with_file_sends_no_body(data_file: Path) -> None:
    transport = MemoryTransport()
    app = file_app(lambda: open(data_file, "rb"))
    out = call(app, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", transport=transport)
    resp = out.response
    assert resp is not None
    assert resp.header("Content-Length") == str(len(CONTENT))
    assert resp.body == b""
    assert transport.sendfile_calls == []
    assert app.opened[0].closed


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    out = call(file_app(lambda: open(path, "rb")))
    assert out.response is not None
    assert out.response.header("Content-Length") == "0"
    assert out.response.body == b""
    assert out.info.keep_alive is True


def test_client_disconnect_during_sendfile_closes_the_file(data_file: Path) -> None:
    app = file_app(lambda: open(data_file, "rb"))
    out = call(app, transport=MemoryTransport(disconnect_after=500), parse=False)
    assert out.info.disconnected is True
    assert app.opened[0].closed


def test_fileno_and_size_is_none_for_a_pipe() -> None:
    r, w = os.pipe()
    try:
        with open(r, "rb") as f:
            assert FileWrapper(f).fileno_and_size() is None
    finally:
        os.close(w)


def test_character_device_is_iterated_not_sendfiled() -> None:
    with open(os.devnull, "rb") as f:
        assert FileWrapper(f).fileno_and_size() is None
    transport = MemoryTransport()
    out = call(file_app(lambda: open(os.devnull, "rb")), transport=transport)
    assert transport.sendfile_calls == []
    assert out.response is not None and out.response.body == b"" and out.response.complete
