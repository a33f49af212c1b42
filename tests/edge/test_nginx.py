"""A real reverse proxy in front of wsgikit: nginx (the Debian package) terminates TLS on
loopback and proxies to a pre-fork wsgikit with keep-alive, over TCP and over a unix
socket, with the configuration block of docs/deployment.md, read from that page.

The client connects from 127.0.0.2, so the address the app sees can only have come
from nginx's X-Forwarded-For. nginx runs with its own config, pid file, logs and temp
directories under the test's tmp directory, and is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsgikit.testing import LiveServer

from ..rawhttp import RawClient
from ..support import free_port, wait_for
from .conftest import Certs

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)

if NGINX is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx is missing: .ci/run installs it (apt-get install nginx-light)")
    pytestmark = pytest.mark.skip(reason="nginx is not installed (apt-get install nginx-light)")

# What the page's block is put in: nginx's main context, with the test's paths.
MAIN = """
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log notice;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{block}
}}
"""


def documented_block() -> str:
    """The ``nginx`` block of docs/deployment.md, as it stands there."""
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOYMENT.read_text(), re.S)
    assert len(blocks) == 1, "docs/deployment.md should show one nginx configuration"
    return str(blocks[0])


def substitute(block: str, changes: dict[str, str]) -> str:
    """``block`` with each key replaced by its value; each key must occur exactly once, so
    a change to the page that this test would no longer follow fails here."""
    for old, new in changes.items():
        assert block.count(old) == 1, f"{old!r} is not in docs/deployment.md's nginx block once"
        block = block.replace(old, new)
    return block


@pytest.fixture(params=["tcp", "unix"])
def nginx(request: pytest.FixtureRequest, tmp_path: Path, certs: Certs) -> Iterator[Upstream]:
    """nginx on loopback, configured as the page says, in front of wsgikit's address."""
    assert NGINX is not None
    port = free_port()
    if request.param == "tcp":
        upstream = Upstream(port, f"127.0.0.1:{free_port()}")
    else:
        upstream = Upstream(port, f"unix:{tmp_path / 'wsgikit.sock'}")
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    block = substitute(
        documented_block(),
        {
            "server 127.0.0.1:8000;": f"server {upstream.bind};",
            "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
            "/etc/ssl/myapp/fullchain.pem": certs.certfile,
            "/etc/ssl/myapp/privkey.pem": certs.keyfile,
        },
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(MAIN.format(user=user, tmp=tmp_path, block=block))
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def listening() -> bool:
            assert proc.poll() is None, (tmp_path / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                return False

        wait_for(listening, "nginx to listen")
        yield upstream
    finally:
        proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Upstream:
    """Where nginx listens (``port``) and where wsgikit does (``bind``, a bind string)."""

    def __init__(self, port: int, bind: str) -> None:
        self.port = port
        self.bind = bind

    def connections(self) -> set[int]:
        """The upstream connections open now, or closed a moment ago (TCP: TIME_WAIT):
        nginx's local ports over TCP, the inodes of wsgikit's accepted sockets over a
        unix socket (/proc/net/unix; they vanish once closed)."""
        if self.bind.startswith("unix:"):
            path = self.bind[len("unix:") :]
            inodes = set()
            for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) == 8 and fields[7] == path and fields[5] == "03":  # connected
                    inodes.add(int(fields[6]))
            return inodes
        port = int(self.bind.rsplit(":", 1)[1])
        ports = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            local, remote = line.split()[1:3]
            if int(remote.split(":")[1], 16) == port:
                ports.add(int(local.split(":")[1], 16))
        return ports


def via_nginx(certs: Certs, port: int) -> RawClient:
    raw = socket.create_connection(("127.0.0.1", port), 15, source_address=("127.0.0.2", 0))
    tls = certs.client_context().wrap_socket(raw, server_hostname="localhost")
    return RawClient(sock=tls, timeout=30)


def test_nginx_in_front_of_wsgikit(certs: Certs, nginx: Upstream, tmp_path: Path) -> None:
    with (
        LiveServer("tests.apps:whoami", workers=2, bind=nginx.bind, keepalive=75) as server,
        via_nginx(certs, nginx.port) as client,
    ):
        seen: set[int] = set()
        answers = []
        for i in range(10):
            answers.append(json.loads(client.get(f"/n{i}").body))
            seen |= nginx.connections()
        # The client, as nginx saw it, and the scheme nginx served it with.
        assert {a["remote_addr"] for a in answers} == {"127.0.0.2"}
        assert {a["scheme"] for a in answers} == {"https"}
        assert {a["host"] for a in answers} == {"test"}  # the client's Host, kept
        # One upstream connection carried all ten requests.
        assert len(seen) == 1, seen

        upload = os.urandom(1 << 16) * 320  # 20 MiB
        client.send(
            f"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(upload)}"
            "\r\n\r\n".encode()
            + upload
        )
        assert json.loads(client.read_response().body)["body_size"] == len(upload)

        # Streamed: the first piece reaches the client while the app still runs (it
        # sends the second only once the gate file exists, which we make only now).
        gate = tmp_path / "gate"
        client.send(f"GET /gated?{gate} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        status, headers = client.read_head()
        assert status == 200 and headers.get("transfer-encoding") == "chunked"
        client.read_until(b"first\n")
        assert not gate.exists()
        gate.touch()
        rest = client.read_until(b"\r\n0\r\n\r\n")
        assert b"second\n" in rest and b"never" not in rest
        assert server.get("/").status == 200
