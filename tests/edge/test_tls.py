"""TLS: a handshake and requests with a certificate made on the fly; what a TLS port does
with plain HTTP or a failed handshake; the handshake never blocks other connections."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import trustme

from wsgikit.server.tls import make_ssl_context
from wsgikit.testing import LiveServer

from ..apps import whoami
from ..rawhttp import RawClient
from .conftest import Certs, serving


def tls_client(certs: Certs, port: int, timeout: float = 10.0) -> RawClient:
    raw = socket.create_connection(("127.0.0.1", port), timeout)
    sock = certs.client_context().wrap_socket(raw, server_hostname="localhost")
    return RawClient(sock=sock, timeout=timeout)


def test_handshake_and_keep_alive_requests(certs: Certs, worker_class: str) -> None:
    with (
        serving(
            whoami, worker_class=worker_class, certfile=certs.certfile, keyfile=certs.keyfile
        ) as served,
        tls_client(certs, served.port) as client,
    ):
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")  # type: ignore[attr-defined]
        first = client.get("/")
        second = client.get("/again")
        assert first.status == second.status == 200
        seen = json.loads(first.body)
        assert seen["scheme"] == "https"
        assert seen["remote_addr"] == "127.0.0.1"
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + b"y" * 300000)
        assert json.loads(client.read_response().body)["body_size"] == 300000


def test_a_large_and_a_file_response_go_through_tls(
    certs: Certs, worker_class: str, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: sendfile cannot be used, iteration must be
    path = tmp_path / "blob"
    path.write_bytes(data)

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    with serving(
        app, worker_class=worker_class, certfile=certs.certfile, keyfile=certs.keyfile
    ) as served:
        with tls_client(certs, served.port) as client:
            assert client.get("/").body == data
        with tls_client(certs, served.port) as client:
            assert client.get("/").body == data


def test_plain_http_to_a_tls_port_is_closed_and_others_are_served(
    certs: Certs, worker_class: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="wsgikit.error")
    with serving(
        whoami, worker_class=worker_class, certfile=certs.certfile, keyfile=certs.keyfile
    ) as served:
        with RawClient(served.port, timeout=10) as plain:
            plain.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"HTTP/1.1 200" not in plain.read_until_close()
        untrusting = ssl.create_default_context()  # does not trust the test CA
        with pytest.raises(ssl.SSLError):
            with socket.create_connection(("127.0.0.1", served.port), 10) as raw:
                untrusting.wrap_socket(raw, server_hostname="localhost")
        with tls_client(certs, served.port) as client:
            assert client.get("/").status == 200
    assert any("TLS handshake" in r.getMessage() and r.levelname == "DEBUG" for r in caplog.records)


def test_a_stalled_handshake_does_not_hold_the_threaded_loop(certs: Certs) -> None:
    with serving(
        whoami,
        worker_class="threaded",
        certfile=certs.certfile,
        keyfile=certs.keyfile,
        header_timeout=30,
    ) as served:
        stalled = served.connect()
        stalled.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        try:
            with tls_client(certs, served.port, timeout=5) as client:
                assert client.get("/").status == 200
        finally:
            stalled.close()


def test_a_handshake_that_never_comes_is_closed_at_the_header_timeout(
    certs: Certs, worker_class: str
) -> None:
    with serving(
        whoami,
        worker_class=worker_class,
        certfile=certs.certfile,
        keyfile=certs.keyfile,
        header_timeout=0.5,
    ) as served:
        with RawClient(sock=served.connect()) as idle:
            assert idle.closed_by_server(timeout=10)


def test_client_certificates_when_required(certs: Certs) -> None:
    with serving(
        whoami, certfile=certs.certfile, keyfile=certs.keyfile, ca_certs=certs.ca_file, cert_reqs=2
    ) as served:
        context = certs.client_context()
        with socket.create_connection(("127.0.0.1", served.port), 10) as raw:
            # TLS 1.3 reports the missing certificate at the first read.
            with pytest.raises((ssl.SSLError, ConnectionError)):
                sock = context.wrap_socket(raw, server_hostname="localhost")
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                if not sock.recv(100):
                    raise ConnectionError("closed")
        client_cert = certs.ca.issue_cert("client@example.com")
        client_cert.configure_cert(context)
        with socket.create_connection(("127.0.0.1", served.port), 10) as raw:
            with RawClient(sock=context.wrap_socket(raw, server_hostname="localhost")) as client:
                assert client.get("/").status == 200


def _tls_1_1_client(certs: Certs) -> ssl.SSLContext:
    """A client that offers TLS 1.1 and nothing else (OpenSSL 3 needs SECLEVEL=0 for it)."""
    context = certs.client_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def test_tls_1_1_is_refused(certs: Certs) -> None:
    client = _tls_1_1_client(certs)
    # The client really speaks TLS 1.1: a server that allows it completes the handshake.
    lenient = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    lenient.load_cert_chain(certs.certfile, certs.keyfile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lenient.minimum_version = ssl.TLSVersion.TLSv1_1
    lenient.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname(), 10) as raw:
            accepted, _ = listener.accept()
            accepted.settimeout(10)
            done = threading.Thread(
                target=lambda: lenient.wrap_socket(accepted, server_side=True).close()
            )
            done.start()
            try:
                with client.wrap_socket(raw, server_hostname="localhost") as tls:
                    assert tls.version() == "TLSv1.1"
            finally:
                done.join(10)
                accepted.close()
    # wsgikit refuses it, and goes on serving TLS 1.2 and later.
    with serving(whoami, certfile=certs.certfile, keyfile=certs.keyfile) as served:
        with socket.create_connection(("127.0.0.1", served.port), 10) as raw:
            with pytest.raises(ssl.SSLError):
                client.wrap_socket(raw, server_hostname="localhost")
        with tls_client(certs, served.port) as modern:
            assert modern.get("/").status == 200


def test_a_bad_cipher_string_is_one_line_and_exit_2(certs: Certs) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgikit",
            "tests.apps:whoami",
            "-b",
            "127.0.0.1:0",
            "--certfile",
            certs.certfile,
            "--keyfile",
            certs.keyfile,
            "--ciphers",
            "NOPE",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "wsgikit: error: setting 'ciphers': 'NOPE': No cipher can be selected."
    ]


def test_prefork_server_over_tls_and_a_bad_certfile_is_one_line(
    certs: Certs, tmp_path: Path
) -> None:
    with LiveServer(
        "tests.apps:whoami", workers=2, certfile=certs.certfile, keyfile=certs.keyfile
    ) as server:
        assert server.url.startswith("https://")
        assert json.loads(server.get("/").body)["scheme"] == "https"
        assert "Listening at: https://" in server.log_text()
    missing = tmp_path / "missing.pem"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgikit",
            "tests.apps:whoami",
            "-b",
            "127.0.0.1:0",
            "--certfile",
            str(missing),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"wsgikit: error: setting 'certfile': cannot load {str(missing)!r}: No such file or directory"
    ]
    hook = tmp_path / "conf.py"
    hook.write_text(
        "import ssl\n"
        f"certfile = {certs.certfile!r}\nkeyfile = {certs.keyfile!r}\n"
        "def ssl_context(conf, default_ssl_context_factory):\n"
        "    context = default_ssl_context_factory()\n"
        "    context.minimum_version = ssl.TLSVersion.TLSv1_3\n"
        "    return context\n"
    )
    with LiveServer(
        "tests.apps:whoami", workers=1, config=str(hook), certfile=certs.certfile
    ) as server:
        raw = socket.create_connection(("127.0.0.1", server.port), 10)
        context = certs.client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="localhost")
        raw.close()
        start = time.monotonic()
        assert server.get("/").status == 200 and time.monotonic() - start < 30


def test_a_certificate_without_its_key_is_named(certs: Certs) -> None:
    from wsgikit.server.tls import TLSSetupError

    with pytest.raises(TLSSetupError, match="no private key in .*set keyfile") as info:
        make_ssl_context(certs.certfile)
    assert info.value.parameter == "keyfile"


def _issue(where: Path) -> trustme.CA:
    """A new CA and a certificate for localhost from it, written to cert.pem/key.pem."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(where / "cert.pem"))
    cert.private_key_pem.write_to_path(str(where / "key.pem"))
    return ca


def _trusts(ca: trustme.CA, port: int) -> bool:
    """Whether a client that trusts only ``ca`` completes a handshake with the server."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        try:
            context.wrap_socket(raw, server_hostname="localhost").close()
        except ssl.SSLCertVerificationError:
            return False
    return True


def test_hup_reads_the_certificate_again_and_a_broken_one_is_one_line(tmp_path: Path) -> None:
    first = _issue(tmp_path)
    certfile, keyfile = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    with LiveServer("tests.apps:whoami", workers=1, certfile=certfile, keyfile=keyfile) as server:
        assert _trusts(first, server.port)
        # Rotation: new files at the same paths, then HUP; the new workers use them.
        second = _issue(tmp_path)
        server.reload()
        assert _trusts(second, server.port) and not _trusts(first, server.port)
        # A broken certificate at HUP: one line, and the workers keep serving.
        (tmp_path / "cert.pem").write_text("not a certificate\n")
        server.signal(signal.SIGHUP)
        log = server.wait_for_log("reload failed")
        assert "Traceback" not in log, log
        (line,) = [line for line in log.splitlines() if "reload failed" in line]
        assert line.endswith(
            f"reload failed: setting 'certfile': no PEM certificate in {certfile!r}; "
            "keeping the current workers"
        ), line
        assert _trusts(second, server.port)
        assert server.get("/").status == 200
