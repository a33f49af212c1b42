"""A real reverse proxy in front of wsgikit: nginx (the Debian package) terminates TLS on
loopback and proxies to a pre-fork wsgikit with keep-alive, as docs/deployment.md shows.

The client connects from 127.0.0.2, so the address the app sees can only have come
from nginx's X-Forwarded-For. nginx runs with its own config, pid file, logs and temp
directories under the test's tmp directory, and is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import pwd
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

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)

if NGINX is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx is missing: .ci/run installs it (apt-get install nginx-light)")
    pytestmark = pytest.mark.skip(reason="nginx is not installed (apt-get install nginx-light)")

# The server block of docs/deployment.md, with the test's paths and ports.
CONFIG = """
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

    upstream wsgikit {{
        server 127.0.0.1:{upstream};
        keepalive 16;                      # idle connections kept to wsgikit
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certfile};
        ssl_certificate_key {keyfile};
        client_max_body_size 64m;

        location / {{
            proxy_pass http://wsgikit;
            proxy_http_version 1.1;        # keep-alive to the upstream needs 1.1
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;           # stream responses as the app produces them
            proxy_request_buffering on;    # slow uploads cost nginx, not a worker
        }}
    }}
}}
"""


@pytest.fixture
def nginx(tmp_path: Path, certs: Certs) -> Iterator[tuple[int, int]]:
    """(nginx port, wsgikit port), both on loopback."""
    assert NGINX is not None
    port, upstream = free_port(), free_port()
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        CONFIG.format(
            user=user,
            tmp=tmp_path,
            upstream=upstream,
            port=port,
            certfile=certs.certfile,
            keyfile=certs.keyfile,
        )
    )
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
        yield port, upstream
    finally:
        proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def via_nginx(certs: Certs, port: int) -> RawClient:
    raw = socket.create_connection(("127.0.0.1", port), 15, source_address=("127.0.0.2", 0))
    tls = certs.client_context().wrap_socket(raw, server_hostname="localhost")
    return RawClient(sock=tls, timeout=30)


def upstream_connections(port: int) -> set[int]:
    """nginx's ports of the TCP connections to wsgikit's port (open or in TIME_WAIT)."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote = line.split()[1:3]
        if int(remote.split(":")[1], 16) == port:
            ports.add(int(local.split(":")[1], 16))
    return ports


def test_nginx_in_front_of_wsgikit(certs: Certs, nginx: tuple[int, int]) -> None:
    port, upstream = nginx
    with LiveServer("tests.apps:whoami", workers=2, port=upstream) as server:
        with via_nginx(certs, port) as client:
            answers = [json.loads(client.get(f"/n{i}").body) for i in range(10)]
            # The client, as nginx saw it, and the scheme nginx served it with.
            assert {a["remote_addr"] for a in answers} == {"127.0.0.2"}
            assert {a["scheme"] for a in answers} == {"https"}
            assert {a["host"] for a in answers} == {"test"}  # the client's Host, kept
            # One upstream connection carried all ten requests.
            assert len(upstream_connections(upstream)) == 1

            upload = os.urandom(1 << 16) * 320  # 20 MiB
            client.send(
                f"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(upload)}"
                "\r\n\r\n".encode()
                + upload
            )
            assert json.loads(client.read_response().body)["body_size"] == len(upload)

            streamed = client.get("/big/5000000")  # a generator: chunked through nginx
            assert streamed.status == 200 and streamed.body == b"x" * 5000000
            assert streamed.headers.get("transfer-encoding") == "chunked"
        assert server.get("/").status == 200
