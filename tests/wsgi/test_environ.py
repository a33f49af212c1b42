"""The PEP 3333 environ built for a request."""

from __future__ import annotations

import io
import wsgiref.validate

import pytest

from wsgikit.wsgi import (
    BytesBody,
    FileWrapper,
    InputStream,
    ServerInfo,
    build_environ,
    split_target,
)

from .helpers import make_environ, open_request

REQUIRED = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
)


def req(
    target: str = "/", headers: str = "Host: x\r\n", method: str = "GET", version: str = "1.1"
) -> bytes:
    return f"{method} {target} HTTP/{version}\r\n{headers}\r\n".encode("latin-1")


def test_every_required_key_is_present_with_native_strings() -> None:
    env = make_environ(req("/p?q=1"))
    for key in REQUIRED:
        assert type(env[key]) is str, key
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.version"] == (1, 0)
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.run_once"] is False
    assert env["wsgi.file_wrapper"] is FileWrapper
    for key in ("wsgi.input", "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess"):
        assert key in env
    for key, value in env.items():
        if key.isupper():
            assert type(value) is str, key


def test_wsgiref_check_environ_passes() -> None:
    env = make_environ(
        req("/a/b?x=y", "Host: x\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n")
    )
    wsgiref.validate.check_environ(env)  # raises AssertionError on a violation


def test_wsgiref_check_environ_passes_with_root_path() -> None:
    env = make_environ(req("/app/x"), info=ServerInfo("h", "80", root_path="/app"))
    wsgiref.validate.check_environ(env)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/a%20b", "/a b"),
        ("/caf%C3%A9", "/caf\xc3\xa9"),  # UTF-8 bytes as latin-1 code points (PEP 3333)
        ("/%2Fslash", "//slash"),
        ("/plain", "/plain"),
        ("/100%", "/100%"),  # an invalid escape stays as it is
    ],
)
def test_path_info_is_percent_decoded_as_latin1(target: str, path: str) -> None:
    assert make_environ(req(target))["PATH_INFO"] == path


def test_utf8_path_round_trips_through_latin1() -> None:
    env = make_environ(req("/caf%C3%A9"))
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café"


def test_query_string_is_raw() -> None:
    env = make_environ(req("/p?a=%20b&c=d+e&f=%C3%A9"))
    assert env["QUERY_STRING"] == "a=%20b&c=d+e&f=%C3%A9"
    assert env["PATH_INFO"] == "/p"


def test_no_query_gives_empty_query_string() -> None:
    assert make_environ(req("/p"))["QUERY_STRING"] == ""


def test_raw_uri_keeps_the_target() -> None:
    env = make_environ(req("/a%20b?x=1"))
    assert env["RAW_URI"] == env["REQUEST_URI"] == "/a%20b?x=1"


@pytest.mark.parametrize(
    ("target", "script", "path"),
    [
        ("/app/x", "/app", "/x"),
        ("/app", "/app", ""),
        ("/app/", "/app", "/"),
        ("/apple", "/app", "/apple"),  # shares a prefix only: not under the mount
        ("/other", "/app", "/other"),
        ("/ap%70/x", "/app", "/x"),  # stripped after decoding
    ],
)
def test_script_name_from_root_path(target: str, script: str, path: str) -> None:
    env = make_environ(req(target), info=ServerInfo("h", "80", root_path="/app"))
    assert env["SCRIPT_NAME"] == script
    assert env["PATH_INFO"] == path


def test_no_root_path_gives_empty_script_name() -> None:
    env = make_environ(req("/x"))
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/x"


def test_content_type_and_length_have_no_http_prefix() -> None:
    env = make_environ(
        req(
            "/", "Host: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n", method="POST"
        )
        + b"{}"
    )
    assert env["CONTENT_TYPE"] == "application/json"
    assert env["CONTENT_LENGTH"] == "2"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


def test_content_type_and_length_absent_without_headers() -> None:
    env = make_environ(req("/"))
    assert "CONTENT_TYPE" not in env
    assert "CONTENT_LENGTH" not in env


def test_headers_become_http_keys() -> None:
    env = make_environ(
        req("/", "Host: example.com:8080\r\nX-Request-Id: abc\r\nAccept: text/html\r\n")
    )
    assert env["HTTP_HOST"] == "example.com:8080"
    assert env["HTTP_X_REQUEST_ID"] == "abc"
    assert env["HTTP_ACCEPT"] == "text/html"


def test_repeated_headers_joined_with_comma() -> None:
    env = make_environ(
        req(
            "/",
            "Host: x\r\nAccept: a\r\nX-Forwarded-For: 1.1.1.1\r\n"
            "Accept: b\r\nX-Forwarded-For: 2.2.2.2\r\n",
        )
    )
    assert env["HTTP_ACCEPT"] == "a, b"
    assert env["HTTP_X_FORWARDED_FOR"] == "1.1.1.1, 2.2.2.2"


def test_repeated_cookie_headers_joined_with_semicolon() -> None:
    env = make_environ(req("/", "Host: x\r\nCookie: a=1\r\nCookie: b=2\r\n"))
    assert env["HTTP_COOKIE"] == "a=1; b=2"


def test_header_names_with_underscore_are_dropped() -> None:
    env = make_environ(req("/", "Host: x\r\nX_Auth_User: admin\r\nX-Auth-User: bob\r\n"))
    assert env["HTTP_X_AUTH_USER"] == "bob"  # not "admin, bob" nor "admin"


def test_underscore_header_alone_never_reaches_the_app() -> None:
    env = make_environ(req("/", "Host: x\r\nX_Auth_User: admin\r\n"))
    assert "HTTP_X_AUTH_USER" not in env
    assert not any("admin" in str(v) for v in env.values())


def test_header_values_are_latin1_native_strings() -> None:
    env = make_environ(b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\n\r\n")
    assert env["HTTP_X_NAME"] == "caf\xe9"


def test_remote_addr_and_port() -> None:
    env = make_environ(req("/"), remote=("192.0.2.5", 40000))
    assert env["REMOTE_ADDR"] == "192.0.2.5"
    assert env["REMOTE_PORT"] == "40000"


def test_unix_socket_peer_has_empty_remote() -> None:
    env = make_environ(req("/"), remote=None)
    assert env["REMOTE_ADDR"] == "" and env["REMOTE_PORT"] == ""  # present, as in Gunicorn


def test_server_name_port_and_scheme() -> None:
    env = make_environ(req("/"), info=ServerInfo("example.org", "8443", url_scheme="https"))
    assert env["SERVER_NAME"] == "example.org"
    assert env["SERVER_PORT"] == "8443"
    assert env["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize(
    ("thread", "process"), [(False, False), (True, False), (True, True), (False, True)]
)
def test_multithread_and_multiprocess_as_given(thread: bool, process: bool) -> None:
    env = make_environ(
        req("/"), info=ServerInfo("h", "1", multithread=thread, multiprocess=process)
    )
    assert env["wsgi.multithread"] is thread
    assert env["wsgi.multiprocess"] is process


def test_absolute_form_target_gives_the_path() -> None:
    env = make_environ(req("http://example.com:8080/a%20b?x=1"))
    assert env["PATH_INFO"] == "/a b"
    assert env["QUERY_STRING"] == "x=1"


def test_absolute_form_without_path_gives_slash() -> None:
    env = make_environ(req("http://example.com"))
    assert env["PATH_INFO"] == "/"


def test_http10_protocol_and_method() -> None:
    env = make_environ(req("/", "", method="DELETE", version="1.0"))
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["REQUEST_METHOD"] == "DELETE"
    wsgiref.validate.check_environ(env)


def test_each_request_gets_a_fresh_environ() -> None:
    info = ServerInfo("h", "1")
    base = info.base_environ(io.StringIO())
    _, r1 = open_request(req("/one", "Host: x\r\nX-A: 1\r\n"))
    _, r2 = open_request(req("/two"))
    e1 = build_environ(r1, base, InputStream(BytesBody(b"")), None)
    e2 = build_environ(r2, base, InputStream(BytesBody(b"")), None)
    assert e1["PATH_INFO"] == "/one" and e2["PATH_INFO"] == "/two"
    assert "HTTP_X_A" not in e2
    assert "PATH_INFO" not in base


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/p?q", (b"/p", b"q")),
        (b"/p", (b"/p", b"")),
        (b"/p?a?b", (b"/p", b"a?b")),
        (b"https://h/x/y?z", (b"/x/y", b"z")),
        (b"*", (b"*", b"")),
    ],
)
def test_split_target(target: bytes, expected: tuple[bytes, bytes]) -> None:
    assert split_target(target) == expected


def test_options_asterisk_has_empty_path_info() -> None:
    env = make_environ(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert env["REQUEST_METHOD"] == "OPTIONS"
    assert env["PATH_INFO"] == ""
    assert env["RAW_URI"] == "*"
    wsgiref.validate.check_environ(env)


def test_absolute_form_authority_overrides_host() -> None:
    # RFC 9112 section 3.2.2: the target's authority, not the Host header.
    env = make_environ(req("http://a.example:8080/p", "Host: b.example\r\n"))
    assert env["HTTP_HOST"] == "a.example:8080"
    assert env["PATH_INFO"] == "/p"
    assert "b.example" not in str(env.values())


def test_host_header_when_the_target_has_no_authority() -> None:
    assert make_environ(req("/p", "Host: b.example\r\n"))["HTTP_HOST"] == "b.example"
    assert "HTTP_HOST" not in make_environ(req("/p", "", version="1.0"))


def test_connect_has_empty_path_info() -> None:
    env = make_environ(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert env["REQUEST_METHOD"] == "CONNECT"
    assert env["PATH_INFO"] == ""
    assert env["RAW_URI"] == "example.com:443"
    assert env["HTTP_HOST"] == "example.com:443"
