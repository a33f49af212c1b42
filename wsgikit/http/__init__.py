"""Sans-IO HTTP/1.1 for servers, on h11: bytes in, events out; responses in, bytes out.

This package imports nothing else of wsgikit and does no I/O.
"""

from .connection import ConnState, HTTPConnection, error_response
from .errors import ProtocolError, ResponseError
from .events import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    NeedData,
    Paused,
    Request,
)
from .limits import Limits
from .response import HOP_BY_HOP, format_date, parse_status, validate_headers

__all__ = [
    "CONNECTION_CLOSED",
    "END_OF_MESSAGE",
    "HOP_BY_HOP",
    "NEED_DATA",
    "PAUSED",
    "ConnState",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "HTTPConnection",
    "Limits",
    "NeedData",
    "Paused",
    "ProtocolError",
    "Request",
    "ResponseError",
    "error_response",
    "format_date",
    "parse_status",
    "validate_headers",
]
