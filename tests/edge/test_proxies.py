"""Behind a proxy: forwarding headers trusted from trusted peers only, and the PROXY
protocol (v1 and v2) accepted from the peers that must send it and refused from others."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest

from ..apps import whoami
from ..rawhttp import RawClient
from .conftest import Certs, serving

XFF = (
    "X-Forwarded-For: 203.0.113.7, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n"
    "X-Forwarded-Host: shop.example\r\nX-Forwarded-Port: 8443\r\n"
)


def seen(port: int, extra: str = "", sock: socket.socket | None = None) -> dict[str, Any]:
    with RawClient(port, sock=sock) as client:
        response = client.get("/", extra)
        assert response.status == 200, response
        return dict(json.loads(response.body))


def test_forwarded_headers_from_a_trusted_proxy(worker_class: str) -> None:
    with serving(
        whoami, worker_class=worker_class, forwarded_allow_ips="127.0.0.1,10.0.0.0/8"
    ) as s:
        env = seen(s.port, XFF)
    # The right-most untrusted hop is the client; 10.0.0.2 is a trusted proxy.
    assert env["remote_addr"] == "203.0.113.7"
    assert env["scheme"] == "https"
    assert (env["server_name"], env["server_port"]) == ("shop.example", "8443")


def test_forwarded_headers_from_an_untrusted_peer_pass_through_untouched(worker_class: str) -> None:
    with serving(whoami, worker_class=worker_class, forwarded_allow_ips="10.1.1.1") as s:
        env = seen(s.port, XFF)
    assert env["remote_addr"] == "127.0.0.1"
    assert env["scheme"] == "http"
    assert env["server_name"] == "127.0.0.1"
    assert env["forwarded_for"] == "203.0.113.7, 10.0.0.2"  # the app can still read it


def test_gunicorn_defaults_trust_the_local_host_and_star_trusts_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serving(whoami) as s:
        env = seen(s.port, "X-Forwarded-Proto: https\r\nX-Forwarded-For: 198.51.100.1\r\n")
    assert (env["scheme"], env["remote_addr"]) == ("https", "198.51.100.1")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "192.0.2.1")
    with serving(whoami) as s:
        assert seen(s.port, "X-Forwarded-Proto: https\r\n")["scheme"] == "http"
    with serving(whoami, forwarded_allow_ips="*") as s:
        assert seen(s.port, "X-Forwarded-Ssl: on\r\n")["scheme"] == "https"


def test_contradicting_scheme_headers_from_a_trusted_proxy_are_a_400(worker_class: str) -> None:
    with serving(whoami, worker_class=worker_class) as s, RawClient(s.port) as client:
        response = client.get("/", "X-Forwarded-Proto: http\r\nX-Forwarded-Ssl: on\r\n")
        assert response.status == 400
        assert client.closed_by_server()


def test_rfc_7239_forwarded_and_custom_scheme_headers() -> None:
    with serving(whoami, forwarded_client_headers="forwarded") as s:
        env = seen(
            s.port,
            'Forwarded: for="[2001:db8::1]:4711";proto=https;host=api.example\r\n'
            "X-Forwarded-For: 203.0.113.9\r\n",
        )
    assert env["remote_addr"] == "2001:db8::1" and env["remote_port"] == "4711"
    assert (env["scheme"], env["server_name"], env["server_port"]) == (
        "https",
        "api.example",
        "443",
    )
    with serving(whoami, secure_scheme_headers={"X-Scheme": "https"}) as s:
        assert seen(s.port, "X-Scheme: https\r\n")["scheme"] == "https"
        assert seen(s.port, "X-Forwarded-Proto: https\r\n")["scheme"] == "http"


# ------------------------------------------------------------ PROXY protocol


def v2_header(source: str, sport: int, dest: str = "127.0.0.1", dport: int = 80) -> bytes:
    block = socket.inet_aton(source) + socket.inet_aton(dest) + struct.pack("!HH", sport, dport)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(block)) + block


def test_proxy_v1_and_v2_from_an_allowed_proxy(worker_class: str) -> None:
    with serving(whoami, worker_class=worker_class, proxy_protocol="auto") as s:
        sock = s.connect()
        sock.sendall(b"PROXY TCP4 198.51.100.4 127.0.0.1 51234 80\r\n")
        env = seen(s.port, sock=sock)
        assert (env["remote_addr"], env["remote_port"]) == ("198.51.100.4", "51234")
        sock = s.connect()
        sock.sendall(v2_header("192.0.2.55", 4000))
        env = seen(s.port, sock=sock)
        assert (env["remote_addr"], env["remote_port"]) == ("192.0.2.55", "4000")
        # The PROXY source is the peer the forwarding headers are judged by: not trusted.
        sock = s.connect()
        sock.sendall(b"PROXY TCP4 198.51.100.4 127.0.0.1 51234 80\r\n")
        env = seen(s.port, "X-Forwarded-Proto: https\r\n", sock=sock)
        assert env["scheme"] == "http"


def test_proxy_header_byte_by_byte_and_request_in_the_same_packet(worker_class: str) -> None:
    with serving(whoami, worker_class=worker_class, proxy_protocol="v1") as s:
        with RawClient(sock=s.connect()) as client:
            for byte in b"PROXY TCP6 2001:db8::5 ::1 6000 80\r\n":
                client.send(bytes([byte]))
            assert json.loads(client.get("/").body)["remote_addr"] == "2001:db8::5"
        with RawClient(sock=s.connect()) as client:
            client.send(b"PROXY UNKNOWN\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert json.loads(client.read_response().body)["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize(
    "settings, first",
    [
        ({"proxy_protocol": "v1"}, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),  # must send one
        ({"proxy_protocol": "v1"}, v2_header("192.0.2.1", 1)),  # wrong version
        ({"proxy_protocol": "v2"}, b"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n"),
        ({"proxy_protocol": "auto"}, b"PROXY TCP4 1.2.3 127.0.0.1 1 2\r\n"),  # malformed
        # A peer not allowed to send one: its PROXY header is refused.
        (
            {"proxy_protocol": "auto", "proxy_allow_ips": "10.0.0.1"},
            b"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n",
        ),
        ({"proxy_protocol": "v2", "proxy_allow_ips": "10.0.0.1"}, v2_header("192.0.2.1", 1)),
    ],
)
def test_proxy_header_refused_closes_the_connection(
    worker_class: str, settings: dict[str, Any], first: bytes
) -> None:
    with serving(whoami, worker_class=worker_class, **settings) as s:
        with RawClient(sock=s.connect()) as client:
            client.send(first + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.closed_by_server(timeout=10)


def test_a_peer_not_in_proxy_allow_ips_may_talk_plain_http(worker_class: str) -> None:
    with serving(
        whoami, worker_class=worker_class, proxy_protocol="auto", proxy_allow_ips="10.0.0.1"
    ) as s:
        assert seen(s.port)["remote_addr"] == "127.0.0.1"


def test_a_proxy_that_never_finishes_its_header_is_closed(worker_class: str) -> None:
    with serving(whoami, worker_class=worker_class, proxy_protocol="v1", header_timeout=0.5) as s:
        with RawClient(sock=s.connect()) as client:
            client.send(b"PROXY TCP4 ")
            assert client.closed_by_server(timeout=10)


def test_proxy_v2_in_front_of_tls(certs: Certs, worker_class: str) -> None:
    with serving(
        whoami,
        worker_class=worker_class,
        proxy_protocol="v2",
        certfile=certs.certfile,
        keyfile=certs.keyfile,
    ) as s:
        raw = s.connect()
        raw.sendall(v2_header("203.0.113.200", 55000))
        tls = certs.client_context().wrap_socket(raw, server_hostname="localhost")
        env = seen(s.port, sock=tls)
    assert (env["remote_addr"], env["scheme"]) == ("203.0.113.200", "https")


def _flask_app() -> Any:
    flask = pytest.importorskip("flask")
    app = flask.Flask("forwarded")

    @app.route("/where")
    def where() -> dict[str, str]:
        request = flask.request
        return {"host_url": request.host_url, "url": request.url, "host": request.host}

    return app


@pytest.mark.parametrize(
    ("headers", "host_url"),
    [
        (XFF, "https://shop.example:8443/"),
        ("X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n", "https://shop.example/"),
        ("X-Forwarded-Host: [2001:db8::5]:8080\r\n", "http://[2001:db8::5]:8080/"),
        ("X-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443\r\n", "https://backend:8443/"),
        ("X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n", "https://backend/"),
    ],
)
def test_a_flask_app_sees_the_forwarded_host(
    worker_class: str, headers: str, host_url: str
) -> None:
    with serving(_flask_app(), worker_class=worker_class) as s, RawClient(s.port) as client:
        client.send(f"GET /where HTTP/1.1\r\nHost: backend:8000\r\n{headers}\r\n".encode())
        response = client.read_response()
    assert response.status == 200, response
    seen = json.loads(response.body)
    assert seen["host_url"] == host_url
    assert seen["url"] == host_url + "where"


def test_a_forwarded_host_from_an_untrusted_peer_leaves_the_host_alone() -> None:
    with serving(_flask_app(), forwarded_allow_ips="10.1.1.1") as s, RawClient(s.port) as client:
        client.send(b"GET /where HTTP/1.1\r\nHost: backend:8000\r\n" + XFF.encode() + b"\r\n")
        response = client.read_response()
    assert json.loads(response.body)["host_url"] == "http://backend:8000/"
