"""Sans-IO HTTP/1.1 for servers, on h11: bytes in, events out; responses in, bytes out.

Also the sans-IO pieces for running behind proxies: the PROXY protocol header
(:mod:`.proxy_protocol`) and trusted forwarding headers (:mod:`.forwarded`).
This package imports nothing else of wsgikit and does no I/O. The PROXY protocol
names are imported on first use: a server without ``proxy_protocol`` never loads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from .forwarded import (
    DEFAULT_FORWARDED_ALLOW_IPS,
    DEFAULT_SECURE_SCHEME_HEADERS,
    ClientHeaders,
    ForwardedElement,
    ForwardedInfo,
    ForwardedPolicy,
    TrustedPeers,
    parse_forwarded,
)
from .headers import HOP_BY_HOP, ResponseHead, check_response, parse_status, validate_headers
from .limits import Limits
from .response import BodyFraming, error_content, error_response, format_date, serialize_head

if TYPE_CHECKING:
    from .proxy_protocol import (
        PROXY_V1_MAX_LENGTH,
        PROXY_V2_MAX_LENGTH,
        PROXY_V2_SIGNATURE,
        NotProxyProtocol,
        ProxyCommand,
        ProxyFamily,
        ProxyHeader,
        ProxyHeaderParser,
        parse_proxy_header,
    )

_PROXY_PROTOCOL = frozenset(
    {
        "PROXY_V1_MAX_LENGTH",
        "PROXY_V2_MAX_LENGTH",
        "PROXY_V2_SIGNATURE",
        "NotProxyProtocol",
        "ProxyCommand",
        "ProxyFamily",
        "ProxyHeader",
        "ProxyHeaderParser",
        "parse_proxy_header",
    }
)

__all__ = [
    "CONNECTION_CLOSED",
    "DEFAULT_FORWARDED_ALLOW_IPS",
    "DEFAULT_SECURE_SCHEME_HEADERS",
    "END_OF_MESSAGE",
    "HOP_BY_HOP",
    "NEED_DATA",
    "PAUSED",
    "PROXY_V1_MAX_LENGTH",
    "PROXY_V2_MAX_LENGTH",
    "PROXY_V2_SIGNATURE",
    "BodyFraming",
    "ClientHeaders",
    "ConnState",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "ForwardedElement",
    "ForwardedInfo",
    "ForwardedPolicy",
    "HTTPConnection",
    "Limits",
    "NeedData",
    "NotProxyProtocol",
    "Paused",
    "ProtocolError",
    "ProxyCommand",
    "ProxyFamily",
    "ProxyHeader",
    "ProxyHeaderParser",
    "Request",
    "ResponseError",
    "ResponseHead",
    "TrustedPeers",
    "check_response",
    "error_content",
    "error_response",
    "format_date",
    "parse_forwarded",
    "parse_proxy_header",
    "parse_status",
    "serialize_head",
    "validate_headers",
]


def __getattr__(name: str) -> Any:
    if name in _PROXY_PROTOCOL:
        return getattr(importlib.import_module(".proxy_protocol", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
