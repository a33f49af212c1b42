"""The request grammar wsgikit checks itself, on raw bytes (RFC 9110, RFC 9112).

h11 parses request heads; these rules are the ones it leaves out or reads
more leniently than a strict peer would, and the ones the chunked body reader
needs (h11 never shows the raw chunk lines). Each rule cites where it comes
from; where the RFC leaves a choice, the rule rejects.
"""

from __future__ import annotations

import re

from .errors import ProtocolError

__all__ = [
    "MAX_CHUNK_SIZE_DIGITS",
    "MAX_CONTENT_LENGTH_DIGITS",
    "check_field_line",
    "check_method",
    "content_length",
    "transfer_coding",
]

# RFC 9110 section 5.6.2: token = 1*tchar.
TCHARS = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
TOKEN = re.compile(rb"[" + TCHARS + rb"]+\Z")
# RFC 9110 section 5.5: a field value holds VCHAR, obs-text, SP and HTAB only.
BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9110 section 9.1 makes methods case-sensitive tokens. A proxy that
# folds case (or sends `get` on as GET) would disagree with us about the
# method, so, as Gunicorn does by default, only the conventional form passes:
# no lower-case letters, no '#', 3 to 20 characters. Every registered method
# fits; an unknown method of that form goes to the application.
_METHOD = re.compile(rb"[!$%&'*+\-.^_`|~0-9A-Z]{3,20}\Z")

# RFC 9110 section 8.6 and RFC 9112 section 7.1 ask recipients to guard
# against integer overflow. 18 decimal digits and 15 hex digits always fit a
# signed 64-bit integer, so no peer in front of us can read the number
# differently (wrap it, truncate it) from the way we do.
MAX_CONTENT_LENGTH_DIGITS = 18
MAX_CHUNK_SIZE_DIGITS = 15
_DIGITS = re.compile(rb"[0-9]{1,%d}\Z" % MAX_CONTENT_LENGTH_DIGITS)


def check_method(method: bytes) -> None:
    """Reject a method outside the conventional form (RFC 9110 section 9.1; see above)."""
    if _METHOD.match(method) is None:
        raise ProtocolError(f"unconventional request method {method[:40]!r}")


def content_length(values: list[bytes]) -> int:
    """The body length the Content-Length field lines declare, or a 400.

    RFC 9110 section 8.6 lets a recipient accept a repeated or listed
    Content-Length whose members are all equal (``5, 5``); RFC 9112 section
    6.3 item 5 calls anything else unrecoverable. A peer that takes the first
    member and one that takes the last agree only if there is one member, so
    exactly one field line holding 1*DIGIT is accepted.
    """
    if len(values) != 1:
        raise ProtocolError("more than one Content-Length field line")
    value = values[0].strip(b" \t")
    if _DIGITS.match(value) is None:
        raise ProtocolError(f"malformed Content-Length {value[:40]!r}")
    return int(value)


def transfer_coding(values: list[bytes]) -> None:
    """Check the Transfer-Encoding field lines of a request; only ``chunked`` passes.

    The lines make one list (RFC 9110 section 5.3); codings are
    case-insensitive (RFC 9112 section 7).
    """
    codings = [item.strip(b" \t").lower() for value in values for item in value.split(b",")]
    if b"" in codings:
        # RFC 9110 section 5.6.1 asks recipients to skip empty list members; a
        # peer that compares the whole value with "chunked" does not: reject.
        raise ProtocolError("empty member in Transfer-Encoding")
    if codings[-1] != b"chunked":
        # RFC 9112 section 6.3 item 4: chunked not the final coding of a request
        # (or absent) leaves the length undeterminable: MUST answer 400.
        raise ProtocolError("chunked is not the final transfer coding")
    if codings.count(b"chunked") > 1:
        # RFC 9112 section 6.1: a sender MUST NOT apply chunked more than once.
        raise ProtocolError("chunked applied more than once")
    if len(codings) > 1:
        # RFC 9112 section 6.1: a coding we do not implement SHOULD get 501.
        raise ProtocolError(f"unsupported transfer coding in {b', '.join(values)[:80]!r}", 501)


def check_field_line(line: bytes, where: str) -> bytes:
    """Check one trailer field line; return its lower-cased name.

    Trailers get the rules of head fields; a head's lines are checked by h11's
    grammar and by :func:`~wsgikit.http.head.parse_head`'s control-byte scan.

    RFC 9112 section 5: field-line = field-name ":" OWS field-value OWS, with
    no whitespace before the colon (section 5.1: MUST reject with 400), a
    token name (RFC 9110 section 5.1) and a value without control bytes, bare
    CR and LF included (RFC 9110 section 5.5). A line that starts with
    whitespace (obs-fold) has no token name.
    """
    colon = line.find(b":")
    name = line[:colon] if colon > 0 else b""
    if TOKEN.match(name) is None:
        raise ProtocolError(f"malformed {where} field line {line[:60]!r}")
    if BAD_VALUE.search(line, colon + 1) is not None:
        raise ProtocolError(f"control character in {where} field {name[:40]!r}")
    return name.lower()
