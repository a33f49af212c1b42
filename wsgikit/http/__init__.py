"""Sans-IO HTTP/1.1 for servers, on h11: bytes in, events out; responses in, bytes out.

This package imports nothing else of wsgikit and does no I/O.
"""

from .connection import ConnState, HTTPConnection
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
from .headers import HOP_BY_HOP, ResponseHead, check_response, parse_status, validate_headers
from .limits import Limits
from .response import BodyFraming, error_content, error_response, format_date, serialize_head

__all__ = [
    "CONNECTION_CLOSED",
    "END_OF_MESSAGE",
    "HOP_BY_HOP",
    "NEED_DATA",
    "PAUSED",
    "BodyFraming",
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
    "ResponseHead",
    "check_response",
    "error_content",
    "error_response",
    "format_date",
    "parse_status",
    "serialize_head",
    "validate_headers",
]
