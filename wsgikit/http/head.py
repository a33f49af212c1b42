"""Request heads: the raw-line checks made while a head arrives, then h11's parse and ours.

:class:`HeadScanner` looks at each line of a head as it arrives, before h11
sees any of it: CRLF line endings, the size and count limits (answered
414/431 without buffering the rest) and obs-fold. :func:`parse_head` checks
the complete head for control bytes and reads its raw Content-Length /
Transfer-Encoding lines, which h11 folds together (it drops a repeated
Content-Length and reads ``5, 5`` as ``5``) before we could see them; then it
hands the head to h11 (request line and field-line syntax) and applies the
rules h11 leaves to us. Every rule cites the RFC section it comes from;
where the RFC leaves a choice, we reject.
"""

from __future__ import annotations

import re

import h11

from .buffer import InputBuffer
from .errors import ProtocolError
from .events import Request
from .limits import Limits
from .syntax import check_method, content_length, transfer_coding

__all__ = ["HeadScanner", "parse_head"]

_CR = 13
_LF = 10
# RFC 9110 section 5.5: no control bytes in a head but HTAB and the CRLFs that end
# lines (scan() refuses a bare LF; h11's grammar has no room for a bare CR).
_CTL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The framing field lines as h11 will read them: it refuses whitespace before the
# colon and a name that is no token, and scan() refuses obs-fold.
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding):([^\r]*)", re.IGNORECASE)
# RFC 3986 section 3.2.2 host (IP-literal, IPv4 or reg-name) and section 3.2.3 port.
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.vV]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]*)(:[0-9]*)?\Z")
# RFC 9112 section 3.2.2: absolute-form; only the http and https schemes make sense here.
_ABSOLUTE = re.compile(rb"[hH][tT][tT][pP][sS]?://([^/?#]*)")
# RFC 9110 section 4.2.1: the authority of an http(s) URI; its host may not be empty,
# and userinfo ("@") is no part of it (section 4.2.4).
_URI_HOST = re.compile(rb"(\[[0-9A-Fa-f:.vV]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]+)(:[0-9]*)?\Z")
# RFC 9112 section 3.2.3: authority-form = uri-host ":" port, for CONNECT only.
_AUTHORITY = re.compile(rb"(\[[0-9A-Fa-f:.vV]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]+):[0-9]+\Z")


class HeadScanner:
    """Checks the lines of one request head as they arrive; finds where it ends.

    Lines already checked are not scanned again, so a head that trickles in
    byte by byte costs linear time.
    """

    __slots__ = ("limits", "fields", "_scanned", "_started", "_skipped")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.fields = 0  # header field lines so far
        self._scanned = 0  # bytes of the buffer whose lines have been checked
        self._started = False  # the request line has begun
        self._skipped = False  # the empty line allowed before it was seen

    def scan(self, buf: InputBuffer) -> int:
        """The length of the complete head in ``buf`` (its blank line included), or -1.

        Raises :class:`ProtocolError` as soon as the bytes so far break a rule.
        """
        if not self._started and not self._start(buf):
            return -1
        limits = self.limits
        pos = self._scanned
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            if nl == pos or buf.byte(nl - 1) != _CR:
                # RFC 9112 section 2.2: a recipient MAY accept a bare LF as a line
                # terminator. A CRLF-only peer in front of us would see one line
                # where we see two (a hidden Content-Length): reject.
                raise ProtocolError("bare LF in the request head")
            end = nl - 1  # the line without its CRLF
            length = end - pos
            if pos == 0:
                if length > limits.request_line:
                    raise ProtocolError(
                        f"request line longer than {limits.request_line} bytes", status=414
                    )
            elif length == 0:
                return nl + 1  # the blank line that ends the head
            else:
                if length > limits.header_field_size:
                    raise ProtocolError(
                        f"header field longer than {limits.header_field_size} bytes", status=431
                    )
                self.fields += 1
                if self.fields > limits.header_fields:
                    raise ProtocolError(
                        f"more than {limits.header_fields} header fields", status=431
                    )
                if buf.byte(pos) in (32, 9):
                    # RFC 9112 section 5.2: obs-fold may be rejected with 400; we do.
                    raise ProtocolError("obsolete line folding in the request head")
            pos = self._scanned = nl + 1
        size = len(buf)
        # Bytes of the line still open (a final CR may be half of its CRLF).
        partial = size - pos - (1 if size > pos and buf.byte(size - 1) == _CR else 0)
        if pos == 0 and partial > limits.request_line:
            raise ProtocolError(f"request line longer than {limits.request_line} bytes", status=414)
        if pos > 0 and partial > limits.header_field_size:
            raise ProtocolError(
                f"header field longer than {limits.header_field_size} bytes", status=431
            )
        return -1

    def _start(self, buf: InputBuffer) -> bool:
        """Skip the one empty line RFC 9112 section 2.2 lets precede a request line.

        The RFC says a server SHOULD ignore *at least one*; Gunicorn ignores
        exactly one CRLF, so a second one is where a peer's reading and ours
        could part: it is rejected.
        """
        while len(buf):
            if buf.byte(0) != _CR:  # a bare LF fails as any bare LF does, in scan()
                self._started = True
                return True
            if len(buf) < 2:
                return False
            if buf.byte(1) != _LF:
                raise ProtocolError("bare CR before the request line")
            if self._skipped:
                raise ProtocolError("more than one empty line before the request line")
            self._skipped = True
            buf.skip(2)
        return False


def parse_head(head: bytes, scanner: HeadScanner) -> Request:
    """Parse a complete head that ``scanner`` passed; raises :class:`ProtocolError`."""
    if _CTL.search(head) is not None:
        raise ProtocolError("control character in the request head")
    framing: dict[bytes, list[bytes]] = {}
    for match in _FRAMING.finditer(head):
        framing.setdefault(match.group(1).lower(), []).append(match.group(2))
    chunked, length = _framing(framing)
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=len(head) + 1)
    conn.receive_data(head)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError as exc:
        raise ProtocolError(f"malformed request head: {exc}", exc.error_status_hint) from None
    if not isinstance(event, h11.Request):  # pragma: no cover - a complete head is a Request
        raise ProtocolError("malformed request head")
    version = event.http_version
    if not version.startswith(b"1."):
        # RFC 9110 section 15.6.6: the major version is not supported.
        raise ProtocolError(f"HTTP/{version.decode()} is not supported", status=505)
    if chunked and version == b"1.0":
        # RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
        raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")
    method = event.method
    check_method(method)
    headers = list(event.headers)
    host: bytes | None = None
    connection: set[bytes] = set()
    expect = False
    for name, value in headers:
        if name == b"host":
            # RFC 9112 section 3.2: an invalid Host value MUST get 400 (h11
            # already rejects a missing or repeated one).
            if _HOST.match(value) is None:
                raise ProtocolError("malformed Host header")
            host = value
        elif name == b"connection":
            connection |= {part.strip(b" \t").lower() for part in value.split(b",")}
        elif name == b"expect" and value.lower() == b"100-continue":
            expect = True
    target = event.target
    authority = _target_authority(method, target)
    if authority is not None:
        host = authority
    limit = scanner.limits.body
    if limit is not None and length is not None and length > limit:
        raise ProtocolError(f"request body larger than {limit} bytes", status=413)
    # RFC 9112 section 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
    # "keep-alive" (and "close" wins over it, section 9.6). After CONNECT the
    # bytes are a tunnel, never another request (RFC 9110 section 9.3.6).
    keep_alive = (
        b"close" not in connection
        and (version != b"1.0" or b"keep-alive" in connection)
        and method != b"CONNECT"
    )
    return Request(
        method=method,
        target=target,
        http_version=version,
        headers=headers,
        keep_alive=keep_alive,
        expects_continue=expect and version != b"1.0",
        content_length=length,
        chunked=chunked,
        host=host,
    )


def _framing(framing: dict[bytes, list[bytes]]) -> tuple[bool, int | None]:
    """Whether the body is chunked, and its Content-Length; from the raw field lines."""
    te = framing.get(b"transfer-encoding")
    cl = framing.get(b"content-length")
    if te is not None and cl is not None:
        # RFC 9112 section 6.1: a server MAY reject this outright, and must close
        # after answering; a proxy in front of us may have framed the body by
        # the other header (smuggling).
        raise ProtocolError("both Content-Length and Transfer-Encoding")
    if te is not None:
        transfer_coding(te)
        return True, None
    if cl is not None:
        return False, content_length(cl)
    return False, None


def _target_authority(method: bytes, target: bytes) -> bytes | None:
    """Check the request-target's form; return its authority if it carries one.

    RFC 9112 section 3.2: origin-form for most requests, asterisk-form for
    OPTIONS only (3.2.4), authority-form for CONNECT only (3.2.3), and the
    absolute-form, whose authority a server MUST use instead of Host (3.2.2).
    """
    if b"#" in target:
        # RFC 9112 section 3.2: a request-target carries no fragment. A peer that
        # strips one would route a different path from the one the app sees.
        raise ProtocolError("fragment in the request target")
    if method == b"CONNECT":
        if _AUTHORITY.match(target) is None:
            raise ProtocolError("CONNECT needs an authority-form target (host:port)")
        return target
    if target == b"*":
        if method != b"OPTIONS":
            raise ProtocolError("asterisk-form target with a method other than OPTIONS")
        return None
    if target[:1] == b"/":
        return None
    match = _ABSOLUTE.match(target)
    if match is None:
        raise ProtocolError("request target is neither origin-form nor absolute-form")
    authority = match.group(1)
    if _URI_HOST.match(authority) is None:
        # RFC 9110 section 4.2.1: an http URI with an empty host MUST be rejected;
        # section 4.2.4: userinfo in one SHOULD be treated as an error; we do.
        raise ProtocolError("malformed authority in an absolute-form target")
    return authority
