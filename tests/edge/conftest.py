"""Certificates made on the fly (trustme) and a worker loop served from a thread."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from wsgikit.config import Config
from wsgikit.server import WorkerLoop, close_listeners, make_server, open_listeners
from wsgikit.translate import server_options


@dataclass
class Certs:
    ca: trustme.CA
    certfile: str  # the chain
    keyfile: str
    ca_file: str

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    where: Path = tmp_path_factory.mktemp("certs")
    certfile, keyfile, ca_file = where / "cert.pem", where / "key.pem", where / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(certfile), append=True)
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    return Certs(ca, str(certfile), str(keyfile), str(ca_file))


@dataclass
class Served:
    server: WorkerLoop
    port: int

    def connect(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout)


@contextlib.contextmanager
def serving(app: Any, **settings: Any) -> Iterator[Served]:
    """``app`` served by a worker loop in a thread, with settings as ``Config`` takes them."""
    config = Config(bind=("127.0.0.1:0",), workers=0, **settings)
    listeners = open_listeners(config.bind)
    server = make_server(app, listeners, server_options(config))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(server, listeners[0].getsockname()[1])
    finally:
        server.stop(graceful=False)
        thread.join(10)
        close_listeners(listeners)
        assert not thread.is_alive()


@pytest.fixture(params=["sync", "threaded"])
def worker_class(request: pytest.FixtureRequest) -> str:
    return str(request.param)
