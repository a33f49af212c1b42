"""Who the client is, behind a proxy: the PROXY protocol gate and the forwarding headers.

Both are decisions on bytes that :mod:`wsgikit.http` already parses
(:mod:`~wsgikit.http.proxy_protocol`, :mod:`~wsgikit.http.forwarded`); this
module holds the policy the worker loops apply, without doing I/O itself.

- :class:`ProxyGate` reads the first bytes of a connection when
  ``proxy_protocol`` is on. A peer in ``proxy_allow`` (and every unix-socket
  peer) *must* start with a PROXY header of the configured version: the spec
  forbids guessing. Any other peer may talk HTTP directly, but a PROXY header
  from it is refused, since it would let it choose its own address. A refusal
  closes the connection.
- :class:`Peer` is the connection's client as far as the transport knows
  (the socket peer, or the PROXY header's source) and whether that peer's
  forwarding headers are believed; :class:`Forwarding` applies them to an
  environ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..http import NEED_DATA, ForwardedPolicy, ProtocolError, Request, TrustedPeers

if TYPE_CHECKING:
    from ..http.proxy_protocol import ProxyHeader

__all__ = ["ProxyGate", "ProxyRefused", "GateOpen", "Peer", "Forwarding", "ProxyMode"]

ProxyMode = Literal["off", "v1", "v2", "auto"]


class ProxyRefused(ProtocolError):
    """The connection's PROXY header (or its absence) is not acceptable: close it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 400)


@dataclass(frozen=True, slots=True)
class GateOpen:
    """The gate let the connection through.

    ``header`` is None when a peer that need not send one sent plain traffic;
    ``rest`` holds the bytes after the header (the start of HTTP or of TLS).
    """

    header: ProxyHeader | None
    rest: bytes


class ProxyGate:
    """The start of one connection when the PROXY protocol is on (sans-IO).

    ``required``: the peer is a proxy that must send the header (it is in
    ``proxy_allow``, or on a unix socket). :meth:`feed` returns None while it
    needs more bytes, a :class:`GateOpen`, or raises :class:`ProxyRefused`.
    """

    __slots__ = ("mode", "required", "_buffer")

    def __init__(self, mode: ProxyMode, required: bool) -> None:
        if mode == "off":
            raise ValueError("a ProxyGate is only for proxy_protocol v1, v2 or auto")
        self.mode = mode
        self.required = required
        self._buffer = bytearray()

    def feed(self, data: bytes) -> GateOpen | None:
        """Bytes from the connection (``b""`` at its end)."""
        # Loaded only when the PROXY protocol is on (a gate exists): not at every start.
        from ..http.proxy_protocol import NotProxyProtocol, ProxyHeader, parse_proxy_header

        if not data:
            raise ProxyRefused("the connection closed before its PROXY header was complete")
        self._buffer += data
        try:
            result = parse_proxy_header(self._buffer)
        except NotProxyProtocol:
            if self.required:
                raise ProxyRefused("a proxy in proxy_allow_ips sent no PROXY header") from None
            return GateOpen(None, bytes(self._buffer))
        except ProtocolError as exc:
            if not self.required:
                raise ProxyRefused("a PROXY header from a peer not in proxy_allow_ips") from None
            raise ProxyRefused(f"bad PROXY header: {exc}") from None
        if result is NEED_DATA:
            return None
        assert isinstance(result, ProxyHeader)
        if not self.required:
            raise ProxyRefused("a PROXY header from a peer not in proxy_allow_ips")
        if self.mode != "auto" and self.mode != f"v{result.version}":
            raise ProxyRefused(
                f"a PROXY v{result.version} header, but proxy_protocol is {self.mode}"
            )
        return GateOpen(result, bytes(self._buffer[result.length :]))


def client_of(header: ProxyHeader | None, remote: tuple[str, int] | None) -> tuple[str, int] | None:
    """The client a PROXY header names, or the socket peer when it names none."""
    if header is None or not header.has_addresses:
        return remote
    from ..http.proxy_protocol import ProxyFamily  # loaded already: a header was parsed

    if header.family in (ProxyFamily.TCP4, ProxyFamily.TCP6):
        assert header.source_addr is not None and header.source_port is not None
        return header.source_addr, header.source_port
    return None  # a unix-socket client: no address, like a unix-socket peer


class Peer:
    """The client of a connection, and whether its forwarding headers are believed."""

    __slots__ = ("remote", "trusted")

    def __init__(self, remote: tuple[str, int] | None, trusted: bool = False) -> None:
        self.remote = remote
        self.trusted = trusted

    def __repr__(self) -> str:
        return f"Peer({self.remote!r}, trusted={self.trusted})"


class Forwarding:
    """Applies a :class:`ForwardedPolicy` to requests, cheaply when it has nothing to do.

    Only requests from a trusted peer that carry one of the policy's headers
    pay for :meth:`ForwardedPolicy.resolve`; the trust decision is made once
    per connection (:meth:`peer`).
    """

    __slots__ = ("policy", "_names")

    def __init__(self, policy: ForwardedPolicy) -> None:
        self.policy = policy
        names = {name.lower().encode("latin-1") for name in policy.secure_scheme_headers}
        if policy.client_headers == "x-forwarded":
            names |= {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-port"}
        elif policy.client_headers == "forwarded":
            names.add(b"forwarded")
        self._names = frozenset(names)

    def peer(self, remote: tuple[str, int] | None) -> Peer:
        """The connection's :class:`Peer`, its trust decided once."""
        return Peer(remote, (remote[0] if remote is not None else None) in self.policy.trusted)

    def apply(self, environ: dict[str, Any], request: Request, peer: Peer) -> None:
        """Rewrite the client and scheme in ``environ`` from a trusted peer's headers.

        Raises ``ProtocolError(..., 400)`` when the scheme headers contradict
        each other (Gunicorn's ``InvalidSchemeHeaders``).
        """
        if not peer.trusted:
            return
        names = self._names
        for name, _ in request.headers:
            if name in names:
                break
        else:
            return
        remote = peer.remote
        info = self.policy.resolve(
            request.headers,
            remote[0] if remote is not None else None,
            remote[1] if remote is not None else None,
            url_scheme=environ["wsgi.url_scheme"],
        )
        environ["wsgi.url_scheme"] = info.url_scheme
        if info.remote_addr != (remote[0] if remote is not None else None):
            environ["REMOTE_ADDR"] = info.remote_addr or ""
            environ["REMOTE_PORT"] = str(info.remote_port) if info.remote_port else ""
        if info.server_name is not None:
            environ["SERVER_NAME"] = info.server_name
        if info.server_port is not None:
            environ["SERVER_PORT"] = str(info.server_port)
        if info.server_name is not None or info.server_port is not None:
            _forwarded_host(environ, info.server_name, info.server_port)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _forwarded_host(environ: dict[str, Any], name: str | None, port: int | None) -> None:
    """``HTTP_HOST`` as the client used it, from what a trusted proxy forwarded.

    Frameworks (Flask, Django, WebOb) read ``HTTP_HOST`` before ``SERVER_NAME``,
    so setting only the latter would not reach them; Werkzeug's ProxyFix sets
    both too. A forwarded port without a host goes with the Host the proxy sent;
    the scheme's default port is left out, as a client leaves it out.
    """
    if name is None:
        host = environ.get("HTTP_HOST")
        if not host:
            return
        name = host if host.endswith("]") or ":" not in host else host.rsplit(":", 1)[0]
    if port is None or port == _DEFAULT_PORTS.get(environ["wsgi.url_scheme"]):
        environ["HTTP_HOST"] = name
    else:
        environ["HTTP_HOST"] = f"{name}:{port}"


def proxy_gate(
    mode: ProxyMode, allow: TrustedPeers, remote: tuple[str, int] | None
) -> ProxyGate | None:
    """The gate for a new connection, or None when the PROXY protocol is off."""
    if mode == "off":
        return None
    return ProxyGate(mode, (remote[0] if remote is not None else None) in allow)
