"""Request bodies: Content-Length and chunked framing, read by us rather than by h11.

h11 parses chunked bodies without showing the raw chunk lines, so the rules a
strict peer applies to them could not be checked: a NUL or 100 KB in a chunk
extension, a 17-digit chunk size, obs-fold in a trailer. These sans-IO readers
take body bytes from the connection's :class:`~wsgikit.http.buffer.InputBuffer`
and stop exactly at the end of the body, so whatever follows is the next
request's head (pipelining).

Every rule cites RFC 9112 section 7; where the RFC leaves a choice, we reject.
"""

from __future__ import annotations

import re

from .buffer import InputBuffer
from .errors import ProtocolError
from .events import END_OF_MESSAGE, NEED_DATA, Data, EndOfMessage, NeedData
from .limits import Limits
from .syntax import MAX_CHUNK_SIZE_DIGITS, check_field_line

__all__ = ["BodyReader", "ChunkedBody", "LengthBody"]

BodyEvent = Data | EndOfMessage | NeedData

_CR = 13
_HEX = re.compile(rb"[0-9A-Fa-f]{1,%d}" % MAX_CHUNK_SIZE_DIGITS)
# A chunk-size line without extensions, whole: what nearly every client sends.
_SIMPLE_SIZE = re.compile(rb"([0-9A-Fa-f]{1,%d})\r\n" % MAX_CHUNK_SIZE_DIGITS)
# RFC 9112 section 7.1.1, from the first ";" on (the BWS before it is stripped):
#   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
#   chunk-ext-name = token; chunk-ext-val = token / quoted-string (RFC 9110 5.6.2, 5.6.4)
# A quoted-string admits no CTL but HTAB, so NUL, CR and LF never pass.
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_EXTENSIONS = re.compile(
    rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?)+\Z"
)
# RFC 9110 section 6.5.1: fields that frame, route, authenticate or control a
# message MUST NOT be sent as trailers. We never merge trailers into the
# request, but a peer that did would act on them: refuse them, as Gunicorn does.
_FORBIDDEN_TRAILERS = frozenset(
    {
        b"authorization",
        b"connection",
        b"content-encoding",
        b"content-length",
        b"content-range",
        b"content-type",
        b"expect",
        b"host",
        b"keep-alive",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class LengthBody:
    """A body of ``length`` bytes (RFC 9112 section 6.2)."""

    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        self.remaining = length

    def next_event(self, buf: InputBuffer, eof: bool) -> BodyEvent:
        """The next piece of the body, its end, or NEED_DATA."""
        if self.remaining == 0:
            return END_OF_MESSAGE
        if not len(buf):
            if eof:
                raise ProtocolError("connection closed before the end of the request body")
            return NEED_DATA
        data = buf.take(self.remaining)
        self.remaining -= len(data)
        return Data(data)


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedBody:
    """A chunked body (RFC 9112 section 7.1) with its trailer section.

    Limits: chunk sizes of at most 15 hex digits, at most
    ``limits.chunk_extension`` bytes after them on a size line, the body limit
    (413, checked when a chunk announces its size), small chunks
    (``limits.chunk_average`` and ``limits.small_chunks``: 400), and trailer
    fields counted with the head's fields against ``limits.header_fields`` and
    ``limits.header_field_size`` (431).

    One call returns the data of every chunk the buffer holds, in one
    :class:`Data`: a client sending tiny chunks costs the caller one event per
    read, not one per chunk. Whole chunks without extensions are matched in
    place, one regular expression each.
    """

    __slots__ = (
        "limits",
        "received",
        "_state",
        "_left",
        "_fields",
        "_searched",
        "_small",
        "_small_limit",
        "_error",
    )

    def __init__(self, limits: Limits, fields: int) -> None:
        self.limits = limits
        self.received = 0  # body bytes announced by the chunks so far
        self._state = _SIZE
        self._left = 0  # bytes of the current chunk not yet taken
        self._fields = fields  # header fields of the request; trailers count on
        self._searched = 0  # bytes searched for the end of the current line
        self._small = 0  # what small chunks cost beyond what their data paid for
        self._small_limit = limits.small_chunks * limits.chunk_average
        self._error: ProtocolError | None = None  # found behind data not returned yet

    def next_event(self, buf: InputBuffer, eof: bool) -> BodyEvent:
        """The data of the chunks the buffer holds, the end of the body, or NEED_DATA.

        An error found behind some data is raised on the next call, after that data,
        so what is accepted never depends on how the bytes were cut into reads.
        """
        if self._error is not None:
            raise self._error
        pieces: list[bytes | bytearray] = []
        try:
            ended = self._parse(buf, pieces)
        except ProtocolError as exc:
            if not pieces:
                raise
            self._error = exc
            ended = False
        if pieces:
            return Data(b"".join(pieces))  # the end (or an error) on the next call
        if ended:
            return END_OF_MESSAGE
        if eof:
            raise ProtocolError("connection closed in the middle of a chunked body")
        return NEED_DATA

    def _parse(self, buf: InputBuffer, pieces: list[bytes | bytearray]) -> bool:
        """Add the data of the chunks in ``buf`` to ``pieces``; True at the end of the body."""
        while True:
            state = self._state
            if state == _DATA:
                if not len(buf):
                    return False
                data = buf.take(self._left)
                self._left -= len(data)
                if not self._left:
                    self._state = _DATA_END
                pieces.append(data)
                continue
            if state == _DATA_END:
                # RFC 9112 section 7.1: chunk = chunk-size [ chunk-ext ] CRLF
                # chunk-data CRLF. Anything else after the data (CVE-2025-43859
                # in h11 0.14 took any two bytes) is a framing error.
                have = len(buf)
                if have >= 2 and buf.byte(0) == _CR and buf.byte(1) == 10:
                    buf.skip(2)
                    self._state = _SIZE
                    continue
                if have >= 2 or (have == 1 and buf.byte(0) != _CR):
                    raise ProtocolError("chunk data not followed by CRLF")
                return False
            if state == _SIZE:
                if not self._searched:
                    self._whole_chunks(buf, pieces)
                line = self._line(buf, MAX_CHUNK_SIZE_DIGITS + self.limits.chunk_extension, 400)
                if line is None:
                    return False
                self._size_line(line)
                continue
            if state == _TRAILER:
                line = self._line(buf, self.limits.header_field_size, 431)
                if line is None:
                    return False
                if not line:
                    self._state = _DONE
                    return True
                self._trailer_line(line)
                continue
            return True  # _DONE

    def _whole_chunks(self, buf: InputBuffer, pieces: list[bytes | bytearray]) -> None:
        """Take the chunks that are whole in ``buf`` and have no extension, in place.

        Stops before anything else (the last chunk, an extension, a chunk not
        all here, a malformed line): the line-by-line reader takes it from there
        with every check, so both readings agree.
        """
        data, start = buf.view()
        end = len(data)
        pos = start
        match = _SIMPLE_SIZE.match
        while (found := match(data, pos)) is not None:
            size = int(found[1], 16)
            first = found.end()
            stop = first + size
            if not size or stop + 2 > end or data[stop] != _CR or data[stop + 1] != 10:
                break
            self._count(size, 0)
            pieces.append(data[first:stop])
            pos = stop + 2
        if pos > start:
            buf.skip(pos - start)

    def _count(self, size: int, extension: int) -> None:
        """Apply the body limit (413) and the small-chunk bound (400) to one chunk."""
        self.received += size
        limit = self.limits.body
        if limit is not None and self.received > limit:
            raise ProtocolError(f"request body larger than {limit} bytes", status=413)
        small = self._small + self.limits.chunk_average + extension - size
        self._small = small if small > 0 else 0
        if small > self._small_limit:
            raise ProtocolError(
                f"chunked body of too many small chunks (more than {self.limits.small_chunks}"
                f" carrying less than {self.limits.chunk_average} bytes each)"
            )

    def _line(self, buf: InputBuffer, limit: int, status: int) -> bytes | None:
        """Take one CRLF-terminated line (without its CRLF), or None while it is incomplete."""
        nl = buf.find(b"\n", self._searched)
        if nl < 0:
            size = len(buf)
            open_line = size - (1 if size and buf.byte(size - 1) == _CR else 0)
            if open_line > limit:
                raise ProtocolError(f"chunked framing line longer than {limit} bytes", status)
            self._searched = size
            return None
        self._searched = 0
        if nl == 0 or buf.byte(nl - 1) != _CR:
            raise ProtocolError("bare LF in chunked framing")  # RFC 9112 section 2.2
        if nl - 1 > limit:
            raise ProtocolError(f"chunked framing line longer than {limit} bytes", status)
        line = buf.take(nl - 1)
        buf.skip(2)
        return line  # a bare CR in it fails the chunk-ext or field-line syntax

    def _size_line(self, line: bytes) -> None:
        # RFC 9112 section 7.1: chunk-size = 1*HEXDIG. No sign, prefix or
        # whitespace; at most 15 digits, so no peer can overflow on it.
        match = _HEX.match(line)
        if match is None:
            raise ProtocolError(f"malformed chunk size {line[:40]!r}")
        digits = match.end()
        if digits < len(line):
            if len(line) - digits > self.limits.chunk_extension:
                raise ProtocolError(
                    f"chunk extensions longer than {self.limits.chunk_extension} bytes"
                )
            # RFC 9112 section 7.1.1: only BWS and chunk extensions follow the size.
            if _EXTENSIONS.match(line, digits) is None:
                raise ProtocolError(f"malformed chunk size line {line[:60]!r}")
        size = int(line[:digits], 16)
        if size == 0:
            self._state = _TRAILER  # RFC 9112 section 7.1: last-chunk, then trailers
            return
        self._count(size, len(line) - digits)
        self._left = size
        self._state = _DATA

    def _trailer_line(self, line: bytes) -> None:
        # RFC 9112 section 7.1.2: trailer fields are field lines, with the same
        # syntax and the same limits as the head's (section 5).
        self._fields += 1
        limit = self.limits.header_fields
        if self._fields > limit:
            raise ProtocolError(f"more than {limit} header and trailer fields", status=431)
        # Obs-fold (a line starting with whitespace; RFC 9112 section 5.2:
        # reject with 400 or unfold; we reject) fails the field-line syntax.
        name = check_field_line(line, "trailer")
        if name in _FORBIDDEN_TRAILERS:
            raise ProtocolError(f"{name.decode()} is not allowed in trailers")


BodyReader = LengthBody | ChunkedBody
