"""Drive a sans-IO HTTPConnection with bytes alone, as a server would."""

from __future__ import annotations

from dataclasses import dataclass, field

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
