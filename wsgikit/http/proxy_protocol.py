"""The HAProxy PROXY protocol, versions 1 (text) and 2 (binary), sans-IO.

A proxy that relays raw TCP (HAProxy in TCP mode, stunnel, AWS NLB, ...)
prepends one header to each connection that tells the server who the client
really is. Feed the first bytes of a connection to :func:`parse_proxy_header`
(or to a :class:`ProxyHeaderParser`, which keeps the buffer for you): the
answer is ``NEED_DATA``, a :class:`ProxyHeader` whose ``length`` says how many
bytes the header took (everything after it is the HTTP stream), or a
:class:`ProtocolError`. A connection that does not start with a PROXY header at
all raises the subclass :class:`NotProxyProtocol`, so a server can tell a
misconfigured or hostile peer from a broken proxy.

The rules follow the specification, "The PROXY protocol, Versions 1 & 2"
(https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt), cited below as
"spec 2.1" etc. The spec also says (section 2 and 5) that a receiver must be
*configured* to expect the header and must never guess; this module only
parses, the caller decides whether a listener requires it and from which
peers (see :class:`wsgikit.http.TrustedPeers`).

Choices the spec leaves open, made here:

- Detection needs as few bytes as possible: the connection is declared
  :class:`NotProxyProtocol` as soon as its first bytes stop matching both
  ``b"PROXY "`` and the 12-byte v2 signature (spec 2.2, end, gives the same
  test on 8 and 16 bytes; deciding earlier never changes the outcome).
- Version 1 waits for CRLF for at most 107 bytes, the longest legal line
  (spec 2.1); a lone CR or LF anywhere in the line is rejected ("must not
  tolerate a single CR or LF character to end the line").
- Version 2 headers are accepted up to 16 + 65535 bytes, the most the 16-bit
  length field can announce; ``max_v2_length`` lowers that bound.
- ``UNKNOWN`` (v1), the ``LOCAL`` command and the ``UNSPEC`` family or
  transport (v2) give a header without addresses: the server keeps the real
  connection endpoints (spec 2.1 and 2.2). UDP (``DGRAM``) over IPv4/IPv6 and
  UNIX datagram sockets are valid but meaningless for HTTP; they fall back to
  UNSPEC as spec 2.2 allows ("provided that it automatically falls back to the
  UNSPEC mode for the valid combinations above that it does not support").
- For ``LOCAL`` the family byte is not validated: spec 2.2 says the receiver
  "must ... discard the protocol block including the family which is
  ignored".
- TLVs after the addresses (spec 2.2.1-2.2.8) are returned raw, not
  interpreted; they must tile the rest of the header exactly (a TLV that
  overruns the announced length, or 1-2 stray bytes, is malformed). The
  optional CRC32C TLV (spec 2.2.3) is not verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address, IPv6Address

from .errors import ProtocolError
from .events import NEED_DATA, NeedData

__all__ = [
    "PROXY_V1_MAX_LENGTH",
    "PROXY_V2_MAX_LENGTH",
    "PROXY_V2_SIGNATURE",
    "NotProxyProtocol",
    "ProxyCommand",
    "ProxyFamily",
    "ProxyHeader",
    "ProxyHeaderParser",
    "parse_proxy_header",
]

PROXY_V1_MAX_LENGTH = 107
"""The longest version 1 line, CRLF included (spec 2.1, "worst case")."""

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
"""The 12 bytes that open every version 2 header (spec 2.2)."""

PROXY_V2_MAX_LENGTH = 16 + 0xFFFF
"""The largest version 2 header: 16 fixed bytes plus a 16-bit length."""

_V1_PREFIX = b"PROXY "
_V2_FIXED = 16
# spec 2.2: address block sizes for AF_INET, AF_INET6 and AF_UNIX.
_V2_ADDRESS_LENGTH = {1: 12, 2: 36, 3: 216}
_UNIX_PATH = 108

# spec 2.1: decimal without heading zeroes ("to avoid any possible confusion
# with octal numbers"); the range is checked after the match.
_V1_PORT = re.compile(rb"0|[1-9][0-9]{0,4}")
_V1_IPV4 = re.compile(rb"(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})")
# Hex groups, colons and, for IPv4-mapped forms, dots; ipaddress checks the rest.
# No zone index ("%eth0"): it is not part of the canonical format.
_V1_IPV6 = re.compile(rb"[0-9A-Fa-f:.]{2,45}")


class NotProxyProtocol(ProtocolError):
    """The connection does not start with a PROXY protocol header at all.

    Raised as soon as the first bytes rule out both versions, so the server
    can reject a peer that was required to send one (spec 2: the receiver
    "MUST not try to guess whether the protocol header is present or not").
    """


class ProxyCommand(Enum):
    """What a header asks of the receiver (spec 2.2, the version/command byte)."""

    LOCAL = "LOCAL"  # v2 only: the proxy's own connection (a health check)
    PROXY = "PROXY"  # relayed on behalf of the client described by the header


class ProxyFamily(Enum):
    """The transport and address family of the relayed connection."""

    TCP4 = "TCP4"
    TCP6 = "TCP6"
    UNIX = "UNIX"  # v2 only: AF_UNIX stream sockets, addresses are paths
    UNKNOWN = "UNKNOWN"  # v1 UNKNOWN, v2 UNSPEC or a combination we fall back on


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A complete, valid PROXY protocol header.

    ``length`` is the number of bytes the header occupied at the start of the
    connection. Addresses are text: IPv4/IPv6 in their standard compressed
    form, UNIX paths decoded as :func:`socket.getpeername` would (UTF-8 with
    surrogate escapes; an abstract socket name is shown as ``@name``).
    Ports are ``None`` where the family has none.
    """

    version: int
    command: ProxyCommand
    family: ProxyFamily
    source_addr: str | None
    source_port: int | None
    dest_addr: str | None
    dest_port: int | None
    length: int
    tlvs: tuple[tuple[int, bytes], ...] = ()

    @property
    def has_addresses(self) -> bool:
        """True when the header names the client; False when the real endpoints stand."""
        return self.source_addr is not None

    def tlv(self, kind: int) -> bytes | None:
        """The value of the first TLV of type ``kind`` (spec 2.2.1-2.2.8), if present."""
        for tlv_kind, value in self.tlvs:
            if tlv_kind == kind:
                return value
        return None


def _ip_text(address: IPv4Address | IPv6Address) -> str:
    """The compressed form; IPv4-mapped IPv6 keeps its dotted tail on every Python version."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _excerpt(data: bytes | bytearray) -> str:
    return repr(bytes(data[:PROXY_V1_MAX_LENGTH]))


def parse_proxy_header(
    data: bytes | bytearray, *, max_v2_length: int = PROXY_V2_MAX_LENGTH
) -> ProxyHeader | NeedData:
    """Parse the PROXY header at the start of ``data`` (the first bytes of a connection).

    Returns ``NEED_DATA`` while the header is incomplete, the parsed
    :class:`ProxyHeader` once it is complete (bytes past ``header.length``
    belong to the next protocol), and raises :class:`NotProxyProtocol` when
    the connection does not start with a PROXY header, or
    :class:`ProtocolError` when the header is malformed. It never asks for
    more than ``PROXY_V1_MAX_LENGTH`` bytes (v1) or ``max_v2_length`` (v2).
    """
    if max_v2_length < _V2_FIXED:
        raise ValueError(f"max_v2_length must be at least {_V2_FIXED}, got {max_v2_length}")
    if data[:1] == PROXY_V2_SIGNATURE[:1]:
        return _parse_v2(data, max_v2_length)
    if data[: len(_V1_PREFIX)] == _V1_PREFIX[: len(data)]:
        return _parse_v1(data) if len(data) >= len(_V1_PREFIX) else NEED_DATA
    raise NotProxyProtocol(f"the connection does not start with a PROXY header: {_excerpt(data)}")


# -- version 1 (spec 2.1) ---------------------------------------------------


def _parse_v1(data: bytes | bytearray) -> ProxyHeader | NeedData:
    end = data.find(b"\r\n", 0, PROXY_V1_MAX_LENGTH)
    if end < 0:
        head = data[:PROXY_V1_MAX_LENGTH]
        # A CR is legal only as the last byte seen so far (its LF may follow).
        if b"\n" in head or b"\r" in head[:-1]:
            raise ProtocolError(f"PROXY v1 line has a lone CR or LF: {_excerpt(data)}")
        if len(data) >= PROXY_V1_MAX_LENGTH:
            raise ProtocolError(
                f"PROXY v1 line has no CRLF within {PROXY_V1_MAX_LENGTH} bytes: {_excerpt(data)}"
            )
        return NEED_DATA
    line = bytes(data[:end])
    if b"\r" in line or b"\n" in line:
        raise ProtocolError(f"PROXY v1 line has a lone CR or LF: {line!r}")
    parts = line.split(b" ")
    length = end + 2
    if parts[1] == b"UNKNOWN":
        # "the receiver must ignore anything presented before the CRLF is found"
        return ProxyHeader(
            1, ProxyCommand.PROXY, ProxyFamily.UNKNOWN, None, None, None, None, length
        )
    if parts[1] not in (b"TCP4", b"TCP6"):
        raise ProtocolError(f"PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN: {line!r}")
    if len(parts) != 6:
        raise ProtocolError(f"PROXY v1 line must have exactly 6 single-space fields: {line!r}")
    family = ProxyFamily.TCP4 if parts[1] == b"TCP4" else ProxyFamily.TCP6
    source = _v1_address(parts[2], family, line)
    dest = _v1_address(parts[3], family, line)
    return ProxyHeader(
        1,
        ProxyCommand.PROXY,
        family,
        source,
        _v1_port(parts[4], line),
        dest,
        _v1_port(parts[5], line),
        length,
    )


def _v1_address(text: bytes, family: ProxyFamily, line: bytes) -> str:
    """An address "in its canonical format", of the family the line announced."""
    try:
        if family is ProxyFamily.TCP4:
            if _V1_IPV4.fullmatch(text):
                return _ip_text(IPv4Address(text.decode("ascii")))
        elif _V1_IPV6.fullmatch(text):
            return _ip_text(IPv6Address(text.decode("ascii")))
    except ValueError:
        pass
    raise ProtocolError(
        f"PROXY v1 address {text!r} is not a valid {family.value} address: {line!r}"
    )


def _v1_port(text: bytes, line: bytes) -> int:
    if _V1_PORT.fullmatch(text):
        port = int(text)
        if port <= 0xFFFF:
            return port
    raise ProtocolError(f"PROXY v1 port {text!r} is not a decimal in [0..65535]: {line!r}")


# -- version 2 (spec 2.2) ---------------------------------------------------


def _parse_v2(data: bytes | bytearray, max_length: int) -> ProxyHeader | NeedData:
    signature = len(PROXY_V2_SIGNATURE)
    if data[:signature] != PROXY_V2_SIGNATURE[: len(data)]:
        raise NotProxyProtocol(
            f"the connection does not start with a PROXY header: {_excerpt(data)}"
        )
    if len(data) <= signature:
        return NEED_DATA
    version, command = data[12] >> 4, data[12] & 0x0F
    # "it must always be sent as \x2 and the receiver must only accept this value"
    if version != 2:
        raise ProtocolError(f"PROXY v2 signature with unsupported version {version}")
    # "Receivers must drop connections presenting unexpected values here."
    if command > 1:
        raise ProtocolError(f"PROXY v2 command {command:#x} is neither LOCAL nor PROXY")
    if len(data) > 13 and command == 1:
        family, transport = data[13] >> 4, data[13] & 0x0F
        # "other values are unspecified ... and must be rejected as invalid"
        if family > 3 or transport > 2:
            raise ProtocolError(f"PROXY v2 family/protocol byte {data[13]:#04x} is invalid")
    if len(data) < _V2_FIXED:
        return NEED_DATA
    total = _V2_FIXED + int.from_bytes(data[14:16], "big")
    if total > max_length:
        raise ProtocolError(f"PROXY v2 header of {total} bytes exceeds the limit of {max_length}")
    if len(data) < total:
        return NEED_DATA
    if command == 0:
        # LOCAL: the proxy's own connection; skip the block, keep real endpoints.
        return ProxyHeader(
            2, ProxyCommand.LOCAL, ProxyFamily.UNKNOWN, None, None, None, None, total
        )
    return _v2_proxy(bytes(data[_V2_FIXED:total]), data[13], total)


def _v2_proxy(block: bytes, family_byte: int, total: int) -> ProxyHeader:
    family, transport = family_byte >> 4, family_byte & 0x0F
    if family == 0 or transport != 1:
        # UNSPEC, or DGRAM which HTTP cannot have come over: fall back to
        # UNSPEC mode, "the receiver should ignore address information".
        return ProxyHeader(
            2, ProxyCommand.PROXY, ProxyFamily.UNKNOWN, None, None, None, None, total
        )
    needed = _V2_ADDRESS_LENGTH[family]
    if len(block) < needed:
        raise ProtocolError(
            f"PROXY v2 address block of {len(block)} bytes is shorter than the {needed} "
            f"its family {family_byte:#04x} requires"
        )
    tlvs = _v2_tlvs(block, needed)
    if family == 3:
        source = _unix_path(block[:_UNIX_PATH])
        dest = _unix_path(block[_UNIX_PATH : 2 * _UNIX_PATH])
        return ProxyHeader(
            2, ProxyCommand.PROXY, ProxyFamily.UNIX, source, None, dest, None, total, tlvs
        )
    size = 4 if family == 1 else 16
    ip = IPv4Address if family == 1 else IPv6Address
    ports = block[2 * size : 2 * size + 4]
    return ProxyHeader(
        2,
        ProxyCommand.PROXY,
        ProxyFamily.TCP4 if family == 1 else ProxyFamily.TCP6,
        _ip_text(ip(block[:size])),
        int.from_bytes(ports[:2], "big"),
        _ip_text(ip(block[size : 2 * size])),
        int.from_bytes(ports[2:], "big"),
        total,
        tlvs,
    )


def _v2_tlvs(block: bytes, start: int) -> tuple[tuple[int, bytes], ...]:
    """The type-length-value vectors after the addresses, bounded by the header length."""
    tlvs: list[tuple[int, bytes]] = []
    position = start
    while position < len(block):
        if len(block) - position < 3:
            raise ProtocolError("PROXY v2 header ends inside a TLV's type and length")
        kind = block[position]
        size = int.from_bytes(block[position + 1 : position + 3], "big")
        position += 3
        if position + size > len(block):
            raise ProtocolError(f"PROXY v2 TLV {kind:#04x} of {size} bytes overruns the header")
        tlvs.append((kind, block[position : position + size]))
        position += size
    return tuple(tlvs)


def _unix_path(raw: bytes) -> str:
    """A sun_path field: NUL-terminated, or an abstract name after a leading NUL."""
    if raw[:1] == b"\x00":
        name = raw[1:].rstrip(b"\x00")
        return "@" + name.decode("utf-8", "surrogateescape") if name else ""
    return raw.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


class ProxyHeaderParser:
    """Accumulate the first bytes of a connection until its PROXY header is complete.

    Call :meth:`receive_data` with each chunk read from the socket. While it
    returns ``NEED_DATA`` the parser holds fewer bytes than the largest header
    it accepts; once it returns the :class:`ProxyHeader`, :attr:`trailing_data`
    holds what arrived after the header (the start of the HTTP stream), and the
    parser is done. Errors are raised as in :func:`parse_proxy_header`.
    """

    __slots__ = ("_buffer", "_header", "_trailing", "_failed", "_max_v2_length")

    def __init__(self, *, max_v2_length: int = PROXY_V2_MAX_LENGTH) -> None:
        if max_v2_length < _V2_FIXED:
            raise ValueError(f"max_v2_length must be at least {_V2_FIXED}, got {max_v2_length}")
        self._max_v2_length = max_v2_length
        self._buffer = bytearray()
        self._header: ProxyHeader | None = None
        self._trailing = b""
        self._failed = False

    @property
    def header(self) -> ProxyHeader | None:
        """The parsed header, once complete."""
        return self._header

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the header; empty until the header is complete."""
        return self._trailing

    def receive_data(self, data: bytes) -> ProxyHeader | NeedData:
        """Add ``data`` and return the header if it is now complete, else ``NEED_DATA``."""
        if self._header is not None or self._failed:
            raise RuntimeError("the PROXY header was already parsed or rejected")
        self._buffer += data
        try:
            result = parse_proxy_header(self._buffer, max_v2_length=self._max_v2_length)
        except ProtocolError:
            self._failed = True
            self._buffer.clear()
            raise
        if isinstance(result, ProxyHeader):
            self._header = result
            self._trailing = bytes(self._buffer[result.length :])
            self._buffer.clear()
        return result
