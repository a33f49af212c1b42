"""What a request's forwarding headers say, when the peer that sent them is trusted.

Behind a reverse proxy the TCP peer is the proxy, not the client. The proxy
reports the client's address, the scheme and host it was reached with in
request headers, which anyone else can forge too, so they count only when the
peer is a trusted proxy (RFC 7239 section 8.1: the header "cannot be relied
upon to be correct" unless it was set by a trusted node).

- :class:`TrustedPeers` holds Gunicorn's ``forwarded_allow_ips``: IPs and CIDR
  networks, ``*`` for everyone; a UNIX-socket peer (no address) is always
  trusted, as in Gunicorn ("Connections not associated with an IP address are
  treated as allowed, unconditionally").
- :class:`ForwardedPolicy` turns the headers, the peer and the connection's own
  scheme into a :class:`ForwardedInfo`: the URL scheme, the client address and
  port, and the server name and port the client used. From an untrusted peer
  the result is the connection itself and no header is looked at.
- :func:`parse_forwarded` parses RFC 7239 ``Forwarded`` into its elements.

Decisions, with the rule they come from:

Scheme (Gunicorn's ``secure_scheme_headers``). Each field line whose name is
in the mapping is a vote: ``https`` when its value equals the mapped value
exactly (case-sensitive, as Gunicorn documents), else ``http``. Votes that
disagree raise ``ProtocolError(..., 400)`` like Gunicorn's
``InvalidSchemeHeaders``. In ``forwarded`` mode the ``proto=`` of the chosen
``Forwarded`` element votes too. No vote keeps the connection's own scheme.
A comma list such as ``X-Forwarded-Proto: https, http`` is compared whole,
as Gunicorn does, so it votes ``http``.

Client address (``X-Forwarded-For`` or ``Forwarded: for=``). Repeated field
lines are one list in order (RFC 9110 section 5.3); empty list elements are
skipped (RFC 9110 section 5.6.1). The list is walked from the right, skipping
addresses that are themselves trusted; the first one that is not trusted is
the client ("rightmost untrusted"). If every hop is trusted, the leftmost one
is. So with ``*`` the leftmost entry is taken, which a client can forge unless
the first proxy overwrites the header. A hop that is not an IP address (the
RFC 7239 section 6.2 ``unknown``, an obfuscated ``_name`` of section 6.3, or
garbage) cannot be matched against the trusted set, so the walk stops there
and the client is unknown: ``remote_addr`` stays the peer's, never the token.
``X-Forwarded-For`` entries may carry a port (``1.2.3.4:5``, ``[::1]:5``) as
some proxies send; an entry whose port is not 0-65535 counts as garbage.

Host and port (``X-Forwarded-Host`` / ``X-Forwarded-Port``, ``Forwarded:
host=``). Proxies append one entry per hop, so the value is taken from the
same hops as the client address: among the last *n* entries, where *n* is the
number of ``X-Forwarded-For`` (or ``Forwarded``) entries the walk consumed
(1 when there were none), the oldest is used; those were all written by
trusted proxies. A host must match RFC 9110 section 7.2 ``uri-host [":"
port]`` and a port must be 1-65535, otherwise that piece of information is
ignored (no 400: Gunicorn has none for these). The explicit port header wins
over a port inside the host; a host without any port means the default port
of the resulting scheme (RFC 9110 section 4.2.1 and 4.2.2).

``Forwarded`` syntax (RFC 7239 section 4). Elements are split at commas
outside quoted strings; an element that does not parse, or that repeats a
parameter ("Each parameter MUST NOT occur more than once"), is kept as an
element without information, so it still counts as a hop. An unterminated
quoted string swallows the rest of the field, so a forged prefix can never
turn a trusted proxy's element into something else. Unquoted IPv6 or
``ip:port`` are syntax errors (section 6: such values "MUST be quoted").
Spaces around ``;`` and ``,`` are tolerated; ``proto`` values other than
``http``/``https`` are ignored.

Which headers: ``X-Forwarded-*`` and ``Forwarded`` are never combined. A proxy
that sets one usually passes the other through from the client unchanged, so
trusting both would let a client forge its address; the policy names the one
the proxy writes (``client_headers``), as Waitress requires too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from types import MappingProxyType
from typing import Literal

from .errors import ProtocolError

__all__ = [
    "DEFAULT_FORWARDED_ALLOW_IPS",
    "DEFAULT_SECURE_SCHEME_HEADERS",
    "ClientHeaders",
    "ForwardedElement",
    "ForwardedInfo",
    "ForwardedPolicy",
    "TrustedPeers",
    "parse_forwarded",
]

DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"
"""Gunicorn's default ``forwarded_allow_ips``: only a proxy on this host."""

DEFAULT_SECURE_SCHEME_HEADERS: Mapping[str, str] = MappingProxyType(
    {"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
)
"""Gunicorn's default ``secure_scheme_headers``: header name to the value meaning HTTPS."""

ClientHeaders = Literal["x-forwarded", "forwarded", "none"]
"""Which headers describe the client: ``X-Forwarded-For/-Host/-Port``, RFC 7239
``Forwarded``, or neither (only the secure scheme headers, Gunicorn's behaviour)."""

_IPAddress = IPv4Address | IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OWS = " \t"

# RFC 9110 section 5.6.2 token and 5.6.4 quoted-string (on latin-1 text).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PAIR = re.compile(
    rf'({_TOKEN})=(?:({_TOKEN})|"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)")'
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
# RFC 7239 section 6: node = nodename [ ":" node-port ]
_OBFUSCATED = r"_[A-Za-z0-9._-]+"
_FORWARDED_NODE = re.compile(
    rf"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+)|(?P<other>unknown|{_OBFUSCATED}))"
    rf"(?::(?:(?P<port>[0-9]{{1,5}})|{_OBFUSCATED}))?",
    re.IGNORECASE,
)
# X-Forwarded-For has no grammar; accept what proxies send: an address,
# optionally with a port, IPv6 bare or in brackets.
_XFF_NODE = re.compile(
    r"\[(?P<v6>[0-9A-Fa-f:.]+)\](?::(?P<port6>[0-9]{1,5}))?"
    r"|(?P<v4>[0-9.]+)(?::(?P<port4>[0-9]{1,5}))?"
    r"|(?P<bare6>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)"
)
# RFC 9110 section 7.2: Host = uri-host [ ":" port ], uri-host from RFC 3986 3.2.2.
_HOST = re.compile(
    r"(?P<name>\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~%!$&'()*+,;=]+)(?::(?P<port>[0-9]*))?"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986 section 3.1


_SEEN = 1024  # peers whose answer a TrustedPeers remembers


class TrustedPeers:
    """The proxies whose forwarding headers are believed (Gunicorn's ``forwarded_allow_ips``).

    Built from a comma-separated string or a list of IPs and CIDR networks;
    ``*`` trusts every peer. A network must not have host bits set
    (``10.0.0.1/8`` is a mistake for ``10.0.0.0/8``), as in Gunicorn; a bad
    entry raises :class:`ValueError` naming it. An IPv4-mapped IPv6 peer
    (``::ffff:10.0.0.1``, as a dual-stack socket reports it) matches the IPv4
    entries. ``None`` or ``""`` stands for a UNIX-socket peer and is trusted.
    """

    __slots__ = ("_networks", "_everyone", "_seen")

    def __init__(self, allow: str | Iterable[str] = DEFAULT_FORWARDED_ALLOW_IPS) -> None:
        items = [allow] if isinstance(allow, str) else list(allow)
        networks: list[IPv4Network | IPv6Network] = []
        everyone = False
        for item in items:
            for entry in item.split(","):
                entry = entry.strip()
                if not entry:
                    continue
                if entry == "*":
                    everyone = True
                    continue
                try:
                    networks.append(ip_network(entry))
                except ValueError:
                    raise ValueError(f"not an IP address, a network or '*': {entry!r}") from None
        self._networks = tuple(networks)
        self._everyone = everyone
        # Answers for the peers seen lately: a server asks for every connection, and
        # parsing an address costs more than the rest of accepting it.
        self._seen: dict[str, bool] = {}

    @property
    def everyone(self) -> bool:
        """True when ``*`` was given: every peer is trusted."""
        return self._everyone

    @property
    def networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The trusted networks (a single address is a /32 or /128)."""
        return self._networks

    def __contains__(self, peer: object) -> bool:
        """Whether a peer address is trusted; ``None``/``""`` (UNIX socket) always is."""
        if peer is None or peer == "":
            return True
        if not isinstance(peer, str):
            return False
        seen = self._seen
        known = seen.get(peer)
        if known is not None:
            return known
        try:
            trusted = self.trusts(ip_address(peer))
        except ValueError:
            trusted = self._everyone
        if len(seen) >= _SEEN:
            seen.clear()
        seen[peer] = trusted
        return trusted

    def trusts(self, address: IPv4Address | IPv6Address) -> bool:
        """Whether an IP address is trusted."""
        if self._everyone:
            return True
        mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
        return any(
            address in net or (mapped is not None and mapped in net) for net in self._networks
        )

    def __repr__(self) -> str:
        entries = [str(net) for net in self._networks] + (["*"] if self._everyone else [])
        return f"TrustedPeers({','.join(entries)!r})"


@dataclass(frozen=True, slots=True)
class ForwardedElement:
    """One element of a ``Forwarded`` field: what one proxy said about one hop (RFC 7239 section 5).

    Values are unquoted but otherwise as sent; ``extensions`` holds other
    parameters (section 5.5) with lower-cased names.
    """

    for_: str | None = None
    by: str | None = None
    host: str | None = None
    proto: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ForwardedInfo:
    """What the server should report about a request once proxies are accounted for.

    ``url_scheme`` is always set. ``remote_addr``/``remote_port`` are the
    client's (the peer's when nothing was forwarded; ``None`` where unknown,
    e.g. a UNIX-socket peer, or a forwarded address without a port).
    ``server_name``/``server_port`` are set only when a trusted proxy said
    which host the client asked for; ``None`` means keep the server's own.
    ``trusted`` tells whether the peer's headers were believed at all.
    """

    url_scheme: str
    remote_addr: str | None
    remote_port: int | None
    server_name: str | None = None
    server_port: int | None = None
    trusted: bool = False


class ForwardedPolicy:
    """Who is trusted and which headers they use; :meth:`resolve` applies it to a request.

    ``secure_scheme_headers`` maps header names (any case) to the exact value
    that means HTTPS, as Gunicorn's setting of that name. ``client_headers``
    picks ``"x-forwarded"`` (default), ``"forwarded"`` (RFC 7239) or
    ``"none"``.
    """

    __slots__ = ("_trusted", "_scheme_headers", "_client_headers")

    def __init__(
        self,
        trusted: TrustedPeers | None = None,
        secure_scheme_headers: Mapping[str, str] = DEFAULT_SECURE_SCHEME_HEADERS,
        client_headers: ClientHeaders = "x-forwarded",
    ) -> None:
        if client_headers not in ("x-forwarded", "forwarded", "none"):
            raise ValueError(
                f"client_headers must be 'x-forwarded', 'forwarded' or 'none', not {client_headers!r}"
            )
        self._trusted = trusted if trusted is not None else TrustedPeers()
        self._scheme_headers = {
            name.strip().lower().encode("latin-1"): value
            for name, value in secure_scheme_headers.items()
        }
        self._client_headers: ClientHeaders = client_headers

    @property
    def trusted(self) -> TrustedPeers:
        """The trusted peers."""
        return self._trusted

    @property
    def client_headers(self) -> ClientHeaders:
        """Which headers describe the client."""
        return self._client_headers

    @property
    def secure_scheme_headers(self) -> Mapping[str, str]:
        """The scheme headers (lower-case names) and the value of each that means HTTPS."""
        return MappingProxyType(
            {name.decode("latin-1"): value for name, value in self._scheme_headers.items()}
        )

    def resolve(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        peer_addr: str | None,
        peer_port: int | None = None,
        *,
        url_scheme: str = "http",
    ) -> ForwardedInfo:
        """Apply the forwarding headers of a request, if its peer is trusted.

        ``headers`` are ``(lower-case name, value)`` pairs as in
        :class:`wsgikit.http.Request`; ``peer_addr``/``peer_port`` are the TCP
        peer (``None`` for a UNIX socket); ``url_scheme`` is the connection's
        own scheme. Raises ``ProtocolError(..., 400)`` when a trusted peer's
        scheme headers contradict each other.
        """
        untouched = ForwardedInfo(url_scheme, peer_addr or None, peer_port)
        if peer_addr not in self._trusted:
            return untouched
        headers = list(headers)
        votes = [
            "https" if value.decode("latin-1").strip(_OWS) == self._scheme_headers[name] else "http"
            for name, value in headers
            if name in self._scheme_headers
        ]
        if self._client_headers == "x-forwarded":
            client, host, port = self._x_forwarded(headers)
        elif self._client_headers == "forwarded":
            client, host, port, proto = self._forwarded(headers)
            if proto is not None:
                votes.append(proto)
        else:
            client, host, port = None, None, None
        if len(set(votes)) > 1:
            raise ProtocolError("the proxy's scheme headers contradict each other", 400)
        scheme = votes[0] if votes else url_scheme
        remote_addr, remote_port = (
            (_ip_text(client[0]), client[1])
            if client is not None
            else (untouched.remote_addr, peer_port)
        )
        if host is not None and port is None:
            port = host[1] if host[1] is not None else _DEFAULT_PORTS.get(scheme)
        return ForwardedInfo(
            scheme,
            remote_addr,
            remote_port,
            host[0] if host is not None else None,
            port,
            trusted=True,
        )

    def _x_forwarded(
        self, headers: list[tuple[bytes, bytes]]
    ) -> tuple[tuple[_IPAddress, int | None] | None, tuple[str, int | None] | None, int | None]:
        hops = [_xff_node(entry) for entry in _list_values(headers, b"x-forwarded-for")]
        client, used = self._walk(hops)
        host = _pick(_list_values(headers, b"x-forwarded-host"), used)
        port = _pick(_list_values(headers, b"x-forwarded-port"), used)
        return client, _parse_host(host), _parse_port(port)

    def _forwarded(
        self, headers: list[tuple[bytes, bytes]]
    ) -> tuple[
        tuple[_IPAddress, int | None] | None,
        tuple[str, int | None] | None,
        int | None,
        str | None,
    ]:
        values = [value for name, value in headers if name == b"forwarded"]
        elements = parse_forwarded(values) if values else ()
        hops = [
            _forwarded_node(element.for_) if element is not None and element.for_ else None
            for element in elements
        ]
        client, used = self._walk(hops)
        window = [element for element in elements[len(elements) - used :] if element is not None]
        host = next((e.host for e in window if e.host is not None), None)
        proto = next((e.proto for e in window if e.proto is not None), None)
        scheme = proto.lower() if proto is not None and _SCHEME.fullmatch(proto) else None
        return client, _parse_host(host), None, scheme if scheme in _DEFAULT_PORTS else None

    def _walk(
        self, hops: list[tuple[_IPAddress, int | None] | None]
    ) -> tuple[tuple[_IPAddress, int | None] | None, int]:
        """The client hop (rightmost untrusted, else leftmost) and how many hops that took."""
        for used, hop in enumerate(reversed(hops), start=1):
            if hop is None or not self._trusted.trusts(hop[0]):
                return hop, used
        return (hops[0], len(hops)) if hops else (None, 1)

    def __repr__(self) -> str:
        return (
            f"ForwardedPolicy({self._trusted!r}, client_headers={self._client_headers!r}, "
            f"secure_scheme_headers={sorted(self._scheme_headers)!r})"
        )


def _ip_text(address: _IPAddress) -> str:
    """The compressed form; IPv4-mapped IPv6 keeps its dotted tail on every Python version."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _list_values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """The elements of a comma-separated list header, all its lines in order."""
    out: list[str] = []
    for header_name, value in headers:
        if header_name == name:
            out.extend(
                part.strip(_OWS) for part in value.decode("latin-1").split(",") if part.strip(_OWS)
            )
    return out


def _pick(values: list[str], used: int) -> str | None:
    """The oldest of the last ``used`` entries (those written by trusted hops)."""
    return values[-used:][0] if values else None


def _parse_port(text: str | None) -> int | None:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    port = int(text)
    return port if 0 < port <= 0xFFFF else None


def _parse_host(text: str | None) -> tuple[str, int | None] | None:
    """``(server_name, port or None)`` from a Host-syntax value, or None if malformed."""
    if text is None:
        return None
    match = _HOST.fullmatch(text)
    if match is None:
        return None
    name, port_text = match["name"], match["port"]
    if name.startswith("["):
        try:
            IPv6Address(name[1:-1])
        except ValueError:
            return None
    if not port_text:  # RFC 3986 section 3.2.3: an empty port is the default
        return name, None
    port = _parse_port(port_text)
    return (name, port) if port is not None else None


def _address(text: str | None, version: int) -> _IPAddress | None:
    if text is None:
        return None
    try:
        address = IPv4Address(text) if version == 4 else IPv6Address(text)
    except ValueError:
        return None
    return address


def _node_port(text: str | None) -> tuple[bool, int | None]:
    """(valid, port) for the digits of a port, or absent."""
    if text is None:
        return True, None
    port = int(text)
    return port <= 0xFFFF, port


def _xff_node(text: str) -> tuple[_IPAddress, int | None] | None:
    """An ``X-Forwarded-For`` entry as (address, port), or None if it is not one."""
    match = _XFF_NODE.fullmatch(text)
    if match is None:
        return None
    if match["v4"] is not None:
        address, port_text = _address(match["v4"], 4), match["port4"]
    else:
        address = _address(match["v6"] if match["v6"] is not None else match["bare6"], 6)
        port_text = match["port6"]
    valid, port = _node_port(port_text)
    return (address, port) if address is not None and valid else None


def _forwarded_node(text: str) -> tuple[_IPAddress, int | None] | None:
    """A ``for=`` node (RFC 7239 section 6) as (address, port); None for unknown/obfuscated/bad."""
    match = _FORWARDED_NODE.fullmatch(text)
    if match is None or match["other"] is not None:
        return None
    if match["v4"] is not None:
        address = _address(match["v4"], 4)
    else:
        address = _address(match["v6"], 6)
    valid, port = _node_port(match["port"])
    return (address, port) if address is not None and valid else None


def _split_elements(text: str) -> list[str]:
    """Split at commas outside quoted strings; an unterminated quote runs to the end."""
    pieces: list[str] = []
    start = 0
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            pieces.append(text[start:index])
            start = index + 1
        index += 1
    pieces.append(text[start:])
    return pieces


def _parse_element(text: str) -> ForwardedElement | None:
    """``[ pair ] *( ";" [ pair ] )`` with optional spaces around ``;``; None if malformed."""
    params: dict[str, str] = {}
    position = 0
    while True:
        while position < len(text) and text[position] in _OWS:
            position += 1
        if position < len(text) and text[position] != ";":
            match = _PAIR.match(text, position)
            if match is None:
                return None
            name = match[1].lower()
            if name in params:
                return None  # RFC 7239 section 4: no parameter twice
            token, quoted = match[2], match[3]
            params[name] = token if token is not None else _QUOTED_PAIR.sub(r"\1", quoted)
            position = match.end()
            while position < len(text) and text[position] in _OWS:
                position += 1
        if position >= len(text):
            break
        if text[position] != ";":
            return None
        position += 1
    known = ("for", "by", "host", "proto")
    return ForwardedElement(
        for_=params.get("for"),
        by=params.get("by"),
        host=params.get("host"),
        proto=params.get("proto"),
        extensions=tuple((k, v) for k, v in params.items() if k not in known),
    )


def parse_forwarded(values: Iterable[bytes | str]) -> tuple[ForwardedElement | None, ...]:
    """Parse the lines of a ``Forwarded`` field (RFC 7239 section 4) into its elements, in order.

    An element that does not parse is ``None``, so that hops stay aligned with
    the proxies that wrote them; empty list elements are skipped (RFC 9110
    section 5.6.1).
    """
    text = ", ".join(v.decode("latin-1") if isinstance(v, bytes) else v for v in values)
    elements: list[ForwardedElement | None] = []
    for piece in _split_elements(text):
        piece = piece.strip(_OWS)
        if piece:
            elements.append(_parse_element(piece))
    return tuple(elements)
