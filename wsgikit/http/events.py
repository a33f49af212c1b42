"""Events produced by :class:`wsgikit.http.HTTPConnection`.

They mirror h11's events but belong to wsgikit, so that the layers above never
import h11 themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Request", "Data", "EndOfMessage", "NeedData", "Paused", "ConnectionClosed", "Event"]


@dataclass(slots=True)
class Request:
    """A complete request head.

    ``headers`` holds ``(name, value)`` pairs with lower-cased names, in the
    order received. ``keep_alive`` is the client's wish under the HTTP/1.0 and
    1.1 rules (RFC 9112 section 9.3); ``expects_continue`` is true for an
    HTTP/1.1 request carrying ``Expect: 100-continue`` (RFC 9110 section 10.1.1).
    ``host`` is the authority the request is for: an absolute-form target's
    authority, which a server MUST use instead of ``Host`` (RFC 9112 section
    3.2.2), else the ``Host`` value; None for an HTTP/1.0 request without one.
    """

    method: bytes
    target: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    expects_continue: bool
    content_length: int | None
    chunked: bool
    host: bytes | None = None


@dataclass(slots=True)
class Data:
    """A piece of the request body."""

    data: bytes


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


class EndOfMessage(_Marker):
    """The request body is complete."""


class NeedData(_Marker):
    """More bytes must be received before the next event."""


class Paused(_Marker):
    """The request is complete; nothing more is read until the response ends."""


class ConnectionClosed(_Marker):
    """The client closed the connection cleanly between requests."""


END_OF_MESSAGE = EndOfMessage("END_OF_MESSAGE")
NEED_DATA = NeedData("NEED_DATA")
PAUSED = Paused("PAUSED")
CONNECTION_CLOSED = ConnectionClosed("CONNECTION_CLOSED")

Event = Request | Data | EndOfMessage | NeedData | Paused | ConnectionClosed
