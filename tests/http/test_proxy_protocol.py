"""The PROXY protocol parser, v1 and v2, driven with bytes alone.

Section numbers refer to https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgikit.http import (
    NEED_DATA,
    PROXY_V1_MAX_LENGTH,
    PROXY_V2_MAX_LENGTH,
    PROXY_V2_SIGNATURE,
    NotProxyProtocol,
    ProtocolError,
    ProxyCommand,
    ProxyFamily,
    ProxyHeader,
    ProxyHeaderParser,
    parse_proxy_header,
)

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def v2(
    addresses: bytes = b"",
    *,
    command: int = 1,
    family: int = 0x11,
    version: int = 2,
    tlvs: bytes = b"",
    length: int | None = None,
) -> bytes:
    """A version 2 header; ``length`` overrides the announced length."""
    body = addresses + tlvs
    announced = len(body) if length is None else length
    return (
        PROXY_V2_SIGNATURE
        + bytes([version << 4 | command, family])
        + struct.pack(">H", announced)
        + body
    )


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + struct.pack(">H", len(value)) + value


def ipv4_block(src: str, dst: str, sport: int, dport: int) -> bytes:
    return (
        ipaddress.IPv4Address(src).packed
        + ipaddress.IPv4Address(dst).packed
        + struct.pack(">HH", sport, dport)
    )


def ipv6_block(src: str, dst: str, sport: int, dport: int) -> bytes:
    return (
        ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + struct.pack(">HH", sport, dport)
    )


def unix_block(src: bytes, dst: bytes) -> bytes:
    return src.ljust(108, b"\x00") + dst.ljust(108, b"\x00")


def parsed(data: bytes) -> ProxyHeader:
    result = parse_proxy_header(data)
    assert isinstance(result, ProxyHeader), result
    return result


# -- version 1 --------------------------------------------------------------


def test_v1_tcp4_example_from_the_spec() -> None:
    line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    header = parsed(line + REQUEST)
    assert header == ProxyHeader(
        1,
        ProxyCommand.PROXY,
        ProxyFamily.TCP4,
        "192.168.0.1",
        56324,
        "192.168.0.11",
        443,
        len(line),
    )
    assert header.has_addresses


@pytest.mark.parametrize(
    ("line", "family", "source", "dest"),
    [
        # the longest lines of spec 2.1: 56 and 104 bytes
        (
            b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
            ProxyFamily.TCP4,
            "255.255.255.255",
            "255.255.255.255",
        ),
        (
            b"PROXY TCP6 "
            + b":".join([b"ffff"] * 8)
            + b" "
            + b":".join([b"FFFF"] * 8)
            + b" 65535 65535\r\n",
            ProxyFamily.TCP6,
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ),
        (b"PROXY TCP4 0.0.0.0 10.0.0.1 65535 65535\r\n", ProxyFamily.TCP4, "0.0.0.0", "10.0.0.1"),
        (b"PROXY TCP6 2001:DB8::1 ::1 65535 65535\r\n", ProxyFamily.TCP6, "2001:db8::1", "::1"),
        (
            b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8:0:0:0:0:0:2 65535 65535\r\n",
            ProxyFamily.TCP6,
            "::ffff:192.0.2.1",
            "2001:db8::2",
        ),
    ],
)
def test_v1_addresses(line: bytes, family: ProxyFamily, source: str, dest: str) -> None:
    header = parsed(line)
    assert (header.family, header.source_addr, header.dest_addr) == (family, source, dest)
    assert (header.source_port, header.dest_port, header.length) == (65535, 65535, len(line))


def test_v1_ports_at_the_bounds() -> None:
    header = parsed(b"PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n")
    assert (header.source_port, header.dest_port) == (0, 65535)


def test_v1_longest_line_is_104_for_tcp6() -> None:
    full = b":".join([b"ffff"] * 8)
    line = b"PROXY TCP6 " + full + b" " + full + b" 65535 65535\r\n"
    assert len(line) == 104
    assert parsed(line).length == 104


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY UNKNOWN\r\n",
        b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY UNKNOWN anything at all \x00\xff goes\r\n",
        # the worst case of spec 2.1: exactly 107 bytes
        b"PROXY UNKNOWN "
        + b":".join([b"ffff"] * 8)
        + b" "
        + b":".join([b"ffff"] * 8)
        + b" 65535 65535\r\n",
    ],
)
def test_v1_unknown_keeps_the_real_endpoints(line: bytes) -> None:
    header = parsed(line + REQUEST)
    assert header.family is ProxyFamily.UNKNOWN and header.command is ProxyCommand.PROXY
    assert not header.has_addresses
    assert (header.source_addr, header.source_port, header.dest_addr, header.dest_port) == (
        None,
        None,
        None,
        None,
    )
    assert header.length == len(line) <= PROXY_V1_MAX_LENGTH


def test_v1_line_of_107_bytes_is_accepted_and_108_rejected() -> None:
    filler = b"PROXY UNKNOWN "
    line107 = filler + b"x" * (PROXY_V1_MAX_LENGTH - len(filler) - 2) + b"\r\n"
    assert parsed(line107).length == 107
    line108 = filler + b"x" * (PROXY_V1_MAX_LENGTH - len(filler) - 1) + b"\r\n"
    with pytest.raises(ProtocolError, match="no CRLF within 107"):
        parse_proxy_header(line108)


def test_v1_without_crlf_is_rejected_at_107_bytes_not_later() -> None:
    data = b"PROXY TCP4 " + b"1" * 95  # 106 bytes: still possibly valid
    assert parse_proxy_header(data) is NEED_DATA
    with pytest.raises(ProtocolError):
        parse_proxy_header(data + b"1")


@pytest.mark.parametrize(
    "line",
    [
        # line ending: CRLF only (spec 2.1)
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\r\n",
        b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n",
        b"PROXY UNKNOWN\n\r\n",
        b"PROXY UNKNOWN\r\r\n",
        # fields: exactly one space between exactly six of them
        b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
        b"PROXY TCP4\r\n",
        b"PROXY \r\n",
        b"PROXY  \r\n",
        # protocol family
        b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY UNKNOWNX\r\n",
        b"PROXY unknown\r\n",
        # address does not match the family
        b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        b"PROXY TCP6 ::1 1.2.3.4 1 2\r\n",
        # bad IPv4: heading zeroes, range, shape
        b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.004 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.-4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4/32 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 localhost 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 \xd9\xa1.2.3.4 5.6.7.8 1 2\r\n",
        # bad IPv6
        b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
        b"PROXY TCP6 [::1] ::1 1 2\r\n",
        b"PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
        b"PROXY TCP6 12345::1 ::1 1 2\r\n",
        b"PROXY TCP6 ::1::2 ::1 1 2\r\n",
        b"PROXY TCP6 ::g ::1 1 2\r\n",
        # bad ports: heading zeroes, range, sign, non-decimal
        b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1_0 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa1 2\r\n",
    ],
)
def test_v1_malformed_lines_are_rejected(line: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_proxy_header(line + REQUEST)
    assert not isinstance(info.value, NotProxyProtocol)
    assert info.value.status == 400


@pytest.mark.parametrize(
    "partial", [b"PROXY TCP4 1.2.3.4\r5", b"PROXY TCP4 1.2.3.4\n", b"PROXY \r\r"]
)
def test_v1_lone_cr_or_lf_is_rejected_before_the_line_ends(partial: bytes) -> None:
    with pytest.raises(ProtocolError, match="lone CR or LF"):
        parse_proxy_header(partial)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"P",
        b"PROXY",
        b"PROXY ",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r",
    ],
)
def test_v1_incomplete_needs_data(data: bytes) -> None:
    assert parse_proxy_header(data) is NEED_DATA


# -- not a PROXY header at all -----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"G",
        b"GET / HTTP/1.1\r\n\r\n",
        b"PROXX",
        b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXYTCP4",
        b"PROXY\tTCP4",
        b"\x16\x03\x01\x02\x00",  # a TLS ClientHello
        b"\r\nGET / HTTP/1.1\r\n",
        b"\r\n\r\n\x00\r\nQUIX",
        b"\x00",
    ],
)
def test_anything_else_is_not_proxy_protocol(data: bytes) -> None:
    with pytest.raises(NotProxyProtocol) as info:
        parse_proxy_header(data)
    assert isinstance(info.value, ProtocolError) and info.value.status == 400


def test_not_proxy_protocol_is_known_from_the_first_byte() -> None:
    parser = ProxyHeaderParser()
    with pytest.raises(NotProxyProtocol):
        parser.receive_data(b"G")


# -- version 2 --------------------------------------------------------------


def test_v2_tcp4() -> None:
    data = v2(ipv4_block("192.0.2.1", "198.51.100.2", 56324, 443))
    header = parsed(data + REQUEST)
    assert header == ProxyHeader(
        2, ProxyCommand.PROXY, ProxyFamily.TCP4, "192.0.2.1", 56324, "198.51.100.2", 443, 16 + 12
    )


def test_v2_tcp6() -> None:
    data = v2(ipv6_block("2001:db8::1", "::ffff:192.0.2.9", 1, 65535), family=0x21)
    header = parsed(data + REQUEST)
    assert (header.family, header.source_addr, header.dest_addr) == (
        ProxyFamily.TCP6,
        "2001:db8::1",
        "::ffff:192.0.2.9",
    )
    assert (header.source_port, header.dest_port, header.length) == (1, 65535, 16 + 36)


def test_v2_unix_stream_paths_and_abstract_names() -> None:
    header = parsed(v2(unix_block(b"/run/client.sock", b"\x00abstract"), family=0x31))
    assert header.family is ProxyFamily.UNIX
    assert (header.source_addr, header.dest_addr) == ("/run/client.sock", "@abstract")
    assert header.source_port is None and header.dest_port is None
    assert header.length == 16 + 216 and header.has_addresses


def test_v2_unix_unnamed_and_undecodable_paths() -> None:
    header = parsed(v2(unix_block(b"", b"/tmp/\xff"), family=0x31))
    assert header.source_addr == ""
    assert header.dest_addr == "/tmp/\udcff"  # as socket.getpeername() would show it


def test_v2_local_is_a_health_check_with_real_endpoints() -> None:
    header = parsed(v2(command=0, family=0x00) + REQUEST)
    assert header.command is ProxyCommand.LOCAL and header.family is ProxyFamily.UNKNOWN
    assert not header.has_addresses and header.length == 16


def test_v2_local_skips_its_block_and_ignores_the_family() -> None:
    # spec 2.2: receivers "must not assume zero is presented for LOCAL
    # connections", and the family "is ignored"
    block = ipv4_block("1.2.3.4", "5.6.7.8", 1, 2) + tlv(0x04, b"x")
    header = parsed(v2(block, command=0, family=0xFF) + REQUEST)
    assert header.command is ProxyCommand.LOCAL and not header.has_addresses
    assert header.length == 16 + len(block)


@pytest.mark.parametrize(
    "family",
    [0x00, 0x01, 0x02, 0x10, 0x20, 0x30, 0x12, 0x22, 0x32],
    ids=lambda f: f"{f:#04x}",
)
def test_v2_unspec_and_datagram_fall_back_to_unknown(family: int) -> None:
    block = b"\x01" * 216
    header = parsed(v2(block, family=family) + REQUEST)
    assert header.command is ProxyCommand.PROXY and header.family is ProxyFamily.UNKNOWN
    assert not header.has_addresses and header.length == 16 + 216
    assert header.tlvs == ()


def test_v2_tlvs_are_returned_raw() -> None:
    tlvs = tlv(0x01, b"h2") + tlv(0x02, b"example.com") + tlv(0x04, b"") + tlv(0xE0, b"\x00" * 300)
    header = parsed(v2(ipv4_block("1.2.3.4", "5.6.7.8", 1, 2), tlvs=tlvs) + REQUEST)
    assert header.tlvs == (
        (0x01, b"h2"),
        (0x02, b"example.com"),
        (0x04, b""),
        (0xE0, b"\x00" * 300),
    )
    assert header.tlv(0x02) == b"example.com" and header.tlv(0x05) is None
    assert header.length == 16 + 12 + len(tlvs)


def test_v2_unix_with_tlvs() -> None:
    header = parsed(v2(unix_block(b"/a", b"/b"), family=0x31, tlvs=tlv(0x05, b"id")))
    assert header.tlvs == ((0x05, b"id"),)


@pytest.mark.parametrize(
    "trailer",
    [b"\x01", b"\x01\x00", tlv(0x01, b"abc")[:-1], tlv(0x01, b"ok") + b"\x02\x00\x05ab"],
    ids=["one-byte", "two-bytes", "value-cut", "second-overruns"],
)
def test_v2_tlvs_must_fit_the_announced_length(trailer: bytes) -> None:
    with pytest.raises(ProtocolError, match="TLV"):
        parse_proxy_header(v2(ipv4_block("1.2.3.4", "5.6.7.8", 1, 2), tlvs=trailer) + REQUEST)


@pytest.mark.parametrize(
    ("family", "size"), [(0x11, 11), (0x21, 35), (0x31, 215), (0x11, 0), (0x21, 12)]
)
def test_v2_address_block_shorter_than_its_family(family: int, size: int) -> None:
    with pytest.raises(ProtocolError, match="shorter"):
        parse_proxy_header(v2(b"\x00" * size, family=family) + REQUEST)


@pytest.mark.parametrize("version", [0x0, 0x1, 0x3, 0xF])
def test_v2_wrong_version_is_rejected_with_13_bytes(version: int) -> None:
    data = v2(ipv4_block("1.2.3.4", "5.6.7.8", 1, 2), version=version)
    with pytest.raises(ProtocolError, match="version") as info:
        parse_proxy_header(data[:13])
    assert not isinstance(info.value, NotProxyProtocol)


@pytest.mark.parametrize("command", [0x2, 0x3, 0xF])
def test_v2_unknown_command_is_rejected(command: int) -> None:
    with pytest.raises(ProtocolError, match="command"):
        parse_proxy_header(v2(command=command)[:13])


@pytest.mark.parametrize("family", [0x41, 0x13, 0xF1, 0x1F, 0x33])
def test_v2_invalid_family_or_transport_is_rejected_with_14_bytes(family: int) -> None:
    with pytest.raises(ProtocolError, match="family"):
        parse_proxy_header(v2(b"\x00" * 216, family=family)[:14])


def test_v2_length_over_the_limit_is_rejected_from_the_fixed_part() -> None:
    data = v2(length=1000)
    with pytest.raises(ProtocolError, match="exceeds"):
        parse_proxy_header(data[:16], max_v2_length=16 + 999)
    assert parse_proxy_header(data[:16], max_v2_length=16 + 1000) is NEED_DATA


def test_v2_largest_header_the_length_field_allows() -> None:
    addresses = ipv4_block("1.2.3.4", "5.6.7.8", 1, 2)
    noop = tlv(0x04, b"\x00" * (0xFFFF - len(addresses) - 3))
    data = v2(addresses, tlvs=noop)
    assert len(data) == PROXY_V2_MAX_LENGTH
    assert parsed(data + REQUEST).length == PROXY_V2_MAX_LENGTH


def test_max_v2_length_below_the_fixed_part_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_proxy_header(b"", max_v2_length=15)
    with pytest.raises(ValueError):
        ProxyHeaderParser(max_v2_length=15)


def test_v2_signature_prefixes_need_data() -> None:
    data = v2(ipv4_block("1.2.3.4", "5.6.7.8", 1, 2))
    for end in range(len(data)):
        assert parse_proxy_header(data[:end]) is NEED_DATA, end


# -- the incremental parser ----------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        b"PROXY UNKNOWN\r\n",
        v2(ipv6_block("2001:db8::1", "2001:db8::2", 1, 2), family=0x21, tlvs=tlv(0x02, b"h")),
        v2(command=0, family=0),
    ],
)
def test_byte_by_byte(header: bytes) -> None:
    parser = ProxyHeaderParser()
    stream = header + REQUEST
    for index, byte in enumerate(stream[: len(header) - 1]):
        assert parser.receive_data(bytes([byte])) is NEED_DATA, index
        assert parser.header is None and parser.trailing_data == b""
    result = parser.receive_data(stream[len(header) - 1 : len(header) + 5])
    assert isinstance(result, ProxyHeader) and result == parse_proxy_header(stream)
    assert parser.header == result and result.length == len(header)
    assert parser.trailing_data == REQUEST[:5]


def test_parser_is_done_after_the_header() -> None:
    parser = ProxyHeaderParser()
    parser.receive_data(b"PROXY UNKNOWN\r\n" + REQUEST)
    assert parser.trailing_data == REQUEST
    with pytest.raises(RuntimeError):
        parser.receive_data(b"more")


def test_parser_refuses_data_after_an_error() -> None:
    parser = ProxyHeaderParser()
    with pytest.raises(ProtocolError):
        parser.receive_data(b"PROXY TCP4 nonsense\r\n")
    with pytest.raises(RuntimeError):
        parser.receive_data(b"PROXY UNKNOWN\r\n")


def test_parser_never_waits_past_the_limits() -> None:
    parser = ProxyHeaderParser()
    assert parser.receive_data(b"PROXY ") is NEED_DATA
    for _ in range(PROXY_V1_MAX_LENGTH - len(b"PROXY ") - 1):
        assert parser.receive_data(b"x") is NEED_DATA
    with pytest.raises(ProtocolError, match="no CRLF"):
        parser.receive_data(b"x")  # the 107th byte
    parser = ProxyHeaderParser(max_v2_length=16 + 216)
    head = v2(length=217)
    for byte in head[:15]:
        assert parser.receive_data(bytes([byte])) is NEED_DATA
    with pytest.raises(ProtocolError, match="exceeds"):
        parser.receive_data(head[15:16])


# -- properties ---------------------------------------------------------------

_ports = st.integers(0, 0xFFFF)
_ipv4 = st.ip_addresses(v=4)
_ipv6 = st.ip_addresses(v=6)


@st.composite
def _v1_headers(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["TCP4", "TCP6", "UNKNOWN"]))
    if kind == "UNKNOWN":
        rest = draw(st.binary(max_size=90).filter(lambda b: b"\r" not in b and b"\n" not in b))
        return b"PROXY UNKNOWN" + (b" " + rest if rest else b"") + b"\r\n"
    addresses = _ipv4 if kind == "TCP4" else _ipv6
    fields = [
        str(draw(addresses)).encode(),
        str(draw(addresses)).encode(),
        str(draw(_ports)).encode(),
        str(draw(_ports)).encode(),
    ]
    return b"PROXY " + kind.encode() + b" " + b" ".join(fields) + b"\r\n"


@st.composite
def _v2_headers(draw: st.DrawFn) -> bytes:
    command = draw(st.sampled_from([0, 1]))
    family = draw(st.sampled_from([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]))
    if family >> 4 == 1:
        block = (
            draw(_ipv4).packed + draw(_ipv4).packed + struct.pack(">HH", draw(_ports), draw(_ports))
        )
    elif family >> 4 == 2:
        block = (
            draw(_ipv6).packed + draw(_ipv6).packed + struct.pack(">HH", draw(_ports), draw(_ports))
        )
    elif family >> 4 == 3:
        block = draw(st.binary(min_size=216, max_size=216))
    else:
        block = b""
    pairs = draw(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=4))
    return v2(block, command=command, family=family, tlvs=b"".join(tlv(k, v) for k, v in pairs))


@settings(max_examples=300, deadline=None)
@given(
    header=st.one_of(_v1_headers(), _v2_headers()),
    rest=st.binary(max_size=40),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_any_split_gives_the_same_header(header: bytes, rest: bytes, cuts: list[int]) -> None:
    stream = header + rest
    whole = parse_proxy_header(stream)
    assert isinstance(whole, ProxyHeader) and whole.length == len(header)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    parser = ProxyHeaderParser()
    after = b""
    for start, end in zip(bounds, bounds[1:], strict=False):
        if parser.header is None:
            assert parser.receive_data(stream[start:end]) in (NEED_DATA, whole)
        else:
            after += stream[start:end]
    assert parser.header == whole
    assert parser.trailing_data + after == rest


@settings(max_examples=300, deadline=None)
@given(
    address=st.one_of(_ipv4, _ipv6),
    other=st.one_of(_ipv4, _ipv6),
    sport=_ports,
    dport=_ports,
)
def test_v1_round_trip(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    other: ipaddress.IPv4Address | ipaddress.IPv6Address,
    sport: int,
    dport: int,
) -> None:
    family = "TCP4" if address.version == 4 else "TCP6"
    line = f"PROXY {family} {address.exploded} {other.exploded} {sport} {dport}\r\n".encode()
    if address.version != other.version:
        with pytest.raises(ProtocolError):
            parse_proxy_header(line)
        return
    header = parsed(line)
    assert ipaddress.ip_address(header.source_addr or "") == address
    assert ipaddress.ip_address(header.dest_addr or "") == other
    assert (header.source_port, header.dest_port) == (sport, dport)


@settings(max_examples=500, deadline=None)
@given(
    prefix=st.sampled_from([b"", b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", PROXY_V2_SIGNATURE]),
    noise=st.binary(max_size=300),
    cut=st.integers(0, 300),
)
def test_random_bytes_raise_only_protocol_errors(prefix: bytes, noise: bytes, cut: int) -> None:
    data = prefix + noise
    try:
        result = parse_proxy_header(data)
    except ProtocolError as error:
        parser = ProxyHeaderParser()
        with pytest.raises(type(error)):
            parser.receive_data(data[:cut])
            parser.receive_data(data[cut:])
        return
    assert result is NEED_DATA or isinstance(result, ProxyHeader)
    if isinstance(result, ProxyHeader):
        assert result.length <= len(data)
    else:
        assert len(data) < PROXY_V2_MAX_LENGTH


def test_the_http_package_offers_every_name_of_the_parser_loaded_on_first_use() -> None:
    """``wsgikit.http`` loads the PROXY protocol parser only when one of its names is
    first used; the names it lists for that are exactly the parser's own."""
    import wsgikit.http
    from wsgikit.http import proxy_protocol

    for name in proxy_protocol.__all__:
        assert name in wsgikit.http.__all__
        assert getattr(wsgikit.http, name) is getattr(proxy_protocol, name)
    assert wsgikit.http._PROXY_PROTOCOL == frozenset(proxy_protocol.__all__)
