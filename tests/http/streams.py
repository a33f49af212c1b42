"""Hypothesis strategies: valid request streams, and mutations of them.

Shared by the property tests and the fuzz harness's seed corpus. A stream is
one to three pipelined requests (Content-Length, chunked with extensions and
trailers, or no body), each described by a :class:`Sent` so a test can compare
what the connection parsed with what was sent.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from itertools import pairwise

from hypothesis import assume
from hypothesis import strategies as st

TCHAR = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits
# Field names the generator leaves out: they would change framing or keep-alive,
# or are refused in trailers (RFC 9110 section 6.5.1).
_RESERVED = {
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "expect",
    "host",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
_PATH = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%"
_VALUE = "".join(chr(c) for c in range(0x21, 0x7F))


@dataclass(frozen=True)
class Sent:
    """What one generated request carries."""

    method: bytes
    target: bytes
    body: bytes


names = st.text(TCHAR, min_size=1, max_size=12).filter(lambda n: n.lower() not in _RESERVED)
values = st.builds(
    lambda a, b: (a + b).strip(" \t"),
    st.text(_VALUE, max_size=10),
    st.text(_VALUE + " \t", max_size=10),
)
fields = st.lists(st.tuples(names, values), max_size=5)
tokens = st.text(TCHAR, min_size=1, max_size=6)
quoted = st.text(_VALUE.replace('"', "").replace("\\", "") + " \t", max_size=6).map(
    lambda s: f'"{s}"'
)
extension = st.tuples(st.sampled_from(["", " ", "\t "]), tokens, st.none() | tokens | quoted).map(
    lambda t: f"{t[0]};{t[1]}" + ("" if t[2] is None else f"={t[2]}")
)
extensions = st.lists(extension, max_size=2).map("".join)


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, Sent]:
    """One valid HTTP/1.1 request and what it carries."""
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"PURGE"]))
    path = draw(st.text(_PATH, max_size=20)).replace("%", "%25")
    query = draw(st.none() | st.text(_PATH + "?", max_size=10).map(lambda q: q.replace("%", "%25")))
    target = ("/" + path + ("" if query is None else "?" + query)).encode()
    body = draw(st.binary(max_size=200))
    assume(b"HTTP/" not in body)
    framing = draw(
        st.sampled_from(["length", "chunked"] if body else ["none", "length", "chunked"])
    )
    head = [f"{method.decode()} {target.decode()} HTTP/1.1", "Host: example.com"]
    head += [f"{name}: {value}" for name, value in draw(fields)]
    if framing == "length":
        head.append(f"Content-Length: {len(body)}")
        wire = body
    elif framing == "chunked":
        head.append("Transfer-Encoding: " + draw(st.sampled_from(["chunked", "Chunked"])))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=4)))
        bounds = [0, *[c for c in cuts if c < len(body)], len(body)]
        wire = b""
        for a, b in pairwise(bounds):
            if b > a:
                size = draw(st.sampled_from(["%x", "%X", "%03x"])) % (b - a)
                wire += (size + draw(extensions)).encode() + b"\r\n" + body[a:b] + b"\r\n"
        wire += ("0" + draw(extensions)).encode() + b"\r\n"
        wire += "".join(f"{n}: {v}\r\n" for n, v in draw(fields)).encode() + b"\r\n"
    else:
        wire = b""
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + wire
    return raw, Sent(method, target, body)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[Sent]]:
    """One to three pipelined requests; one may be preceded by one empty line."""
    pairs = draw(st.lists(requests(), min_size=1, max_size=3))
    raw = b""
    for item, _ in pairs:
        raw += draw(st.sampled_from([b"", b"", b"\r\n"])) + item
    return raw, [sent for _, sent in pairs]


@st.composite
def mutations(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with one to four random edits of the kinds that break parsers."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "crlf", "duplicate", "cut"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            special = st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"\t", b"\x00", b";", b":"])
            data[at:at] = draw(special | st.binary(min_size=1, max_size=3))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        elif kind == "crlf":
            nl = data.find(b"\r\n", at)
            if nl >= 0:
                data[nl : nl + 2] = draw(st.sampled_from([b"\n", b"\r", b"\r\r\n", b"\n\r"]))
        elif kind == "duplicate":
            start = data.rfind(b"\r\n", 0, at) + 2
            end = data.find(b"\r\n", at)
            if start >= 2 and end > start:
                data[end + 2 : end + 2] = data[start : end + 2]
        else:
            del data[at:]
    return bytes(data)
