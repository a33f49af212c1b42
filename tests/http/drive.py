"""Drive a sans-IO HTTPConnection with bytes alone, as a server would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from wsgikit.http import (
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    Data,
    HTTPConnection,
    Limits,
    ProtocolError,
    Request,
)

_LIMIT_NAMES = {
    "limit_request_line": "request_line",
    "limit_request_fields": "header_fields",
    "limit_request_field_size": "header_field_size",
    "limit_request_body": "body",
}


def limits_from(overrides: dict[str, int]) -> Limits:
    return Limits(**{_LIMIT_NAMES[k]: v for k, v in overrides.items()})


@dataclass
class Outcome:
    requests: list[Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    error: ProtocolError | None = None
    output: bytes = b""


def drive(raw: bytes, limits: Limits | None = None, piece: int = 0, eof: bool = True) -> Outcome:
    """Feed ``raw`` (whole, or ``piece`` bytes at a time), answering every request with 200."""
    conn = HTTPConnection(limits)
    out = Outcome()
    pieces = [raw] if not piece else [raw[i : i + piece] for i in range(0, len(raw), piece)]
    if eof:
        pieces.append(b"")
    body = b""
    try:
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                if not pieces:
                    return out
                conn.receive_data(pieces.pop(0))
            elif isinstance(event, Request):
                out.requests.append(event)
                body = b""
            elif isinstance(event, Data):
                body += event.data
            elif event is END_OF_MESSAGE:
                out.bodies.append(body)
            elif event is PAUSED:
                out.output += conn.start_response("200 OK", [("Content-Length", "2")], "D")
                out.output += conn.send_body(b"ok") + conn.end_response()
                if not conn.start_next_cycle():
                    return out
            else:
                return out
    except ProtocolError as exc:
        out.error = exc
        return out


ERROR_STATUSES = frozenset({400, 413, 414, 431, 501, 505})


def split(raw: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``raw`` cut at the given offsets (out-of-range and repeated ones ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(raw)})
    bounds = [0, *points, len(raw)]
    return [raw[a:b] for a, b in pairwise(bounds) if b > a]


def trace(
    raw: bytes, cuts: Sequence[int] = (), limits: Limits | None = None, eof: bool = True
) -> list[tuple[object, ...]]:
    """What the connection makes of ``raw`` fed in pieces, as a comparable list of events.

    Every request is answered with 200 as soon as its body is complete; adjacent
    body pieces are merged, so the list does not depend on how the bytes were
    cut. A ``ProtocolError`` ends the list with ``("error", status)``; any other
    exception propagates (that is a bug), and so does a loop that stops making
    progress.
    """
    conn = HTTPConnection(limits)
    pieces = split(raw, cuts)
    if eof:
        pieces.append(b"")
    events: list[tuple[object, ...]] = []
    budget = 4 * len(raw) + 64  # next_event calls; each must make progress
    try:
        while budget > 0:
            budget -= 1
            event = conn.next_event()
            if event is NEED_DATA:
                if not pieces:
                    events.append(("need-data",))
                    return events
                conn.receive_data(pieces.pop(0))
            elif isinstance(event, Request):
                events.append(
                    (
                        "request",
                        event.method,
                        event.target,
                        event.http_version,
                        tuple(event.headers),
                        event.keep_alive,
                        event.content_length,
                        event.chunked,
                        event.host,
                    )
                )
            elif isinstance(event, Data):
                assert event.data, "an empty Data event"
                if events and events[-1][0] == "data":
                    events[-1] = ("data", events[-1][1] + event.data)  # type: ignore[operator]
                else:
                    events.append(("data", event.data))
            elif event is END_OF_MESSAGE:
                events.append(("end",))
            elif event is PAUSED:
                conn.start_response("200 OK", [("Content-Length", "0")], "D")
                conn.end_response()
                if not conn.start_next_cycle():
                    events.append(("server-closes",))
                    return events
            else:
                events.append(("closed",))
                return events
    except ProtocolError as exc:
        events.append(("error", exc.status))
        return events
    raise AssertionError(f"no progress after {4 * len(raw) + 64} events")


def check_trace(events: list[tuple[object, ...]], limits: Limits | None = None) -> None:
    """The invariants every trace keeps, whatever the input."""
    limits = limits or Limits()
    length: int | None = None
    body = 0
    for event in events:
        kind = event[0]
        if kind == "request":
            length = event[6]  # type: ignore[assignment]
            body = 0
            assert b"#" not in event[2]  # type: ignore[operator]
        elif kind == "data":
            body += len(event[1])  # type: ignore[arg-type]
            if length is not None:
                assert body <= length
            if limits.body is not None:
                assert body <= limits.body
        elif kind == "end":
            assert length is None or body == length
        elif kind == "error":
            assert event[1] in ERROR_STATUSES, event
            assert event is events[-1]
