"""Trusted proxies and what their forwarding headers say, with bytes alone."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgikit.http import (
    DEFAULT_SECURE_SCHEME_HEADERS,
    ForwardedElement,
    ForwardedInfo,
    ForwardedPolicy,
    ProtocolError,
    TrustedPeers,
    parse_forwarded,
)

Headers = list[tuple[bytes, bytes]]

PROXY = "10.0.0.2"  # the peer in most tests: trusted by ``policy()``
CLIENT = "203.0.113.7"


def policy(allow: str = "10.0.0.0/8", **kwargs: object) -> ForwardedPolicy:
    return ForwardedPolicy(TrustedPeers(allow), **kwargs)  # type: ignore[arg-type]


def h(*pairs: tuple[str, str]) -> Headers:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


# -- TrustedPeers -------------------------------------------------------------


def test_default_trusts_only_loopback() -> None:
    peers = TrustedPeers()
    assert "127.0.0.1" in peers and "::1" in peers
    assert "127.0.0.2" not in peers and "10.0.0.1" not in peers and "::2" not in peers


def test_unix_socket_peers_are_always_trusted() -> None:
    peers = TrustedPeers("")
    assert None in peers and "" in peers
    assert "127.0.0.1" not in peers


def test_star_trusts_everyone() -> None:
    peers = TrustedPeers("*")
    assert peers.everyone
    assert "198.51.100.1" in peers and "2001:db8::1" in peers and None in peers


@pytest.mark.parametrize(
    "allow",
    [
        "10.0.0.0/8, 192.168.1.0/24,2001:db8::/32 , 172.16.0.1",
        ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "172.16.0.1"],
        ["10.0.0.0/8,192.168.1.0/24", " 2001:db8::/32", "172.16.0.1", ""],
    ],
)
def test_ips_and_networks_from_a_string_or_a_list(allow: str | list[str]) -> None:
    peers = TrustedPeers(allow)
    assert not peers.everyone and len(peers.networks) == 4
    for inside in ["10.255.0.1", "192.168.1.200", "2001:db8:ffff::1", "172.16.0.1"]:
        assert inside in peers, inside
    for outside in ["11.0.0.1", "192.168.2.1", "2001:db9::1", "172.16.0.2", "garbage", "::1"]:
        assert outside not in peers, outside


def test_ipv4_mapped_peers_match_ipv4_entries() -> None:
    peers = TrustedPeers("10.0.0.0/8")
    assert "::ffff:10.1.2.3" in peers and "::ffff:11.1.2.3" not in peers


def test_non_strings_are_not_trusted() -> None:
    assert 127 not in TrustedPeers()


@pytest.mark.parametrize(
    "entry", ["10.0.0.1/8", "example.com", "1.2.3.256", "[::1]", "10.0.0.0/33", "* *"]
)
def test_bad_entries_are_refused_with_their_name(entry: str) -> None:
    with pytest.raises(ValueError, match=entry.replace("[", r"\[").replace("*", r"\*")):
        TrustedPeers(f"127.0.0.1,{entry}")


def test_trusted_peers_repr() -> None:
    assert repr(TrustedPeers("10.0.0.0/8,*")) == "TrustedPeers('10.0.0.0/8,*')"


# -- who is trusted -------------------------------------------------------------


def test_untrusted_peer_changes_nothing() -> None:
    headers = h(
        ("X-Forwarded-For", "1.1.1.1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Ssl", "off"),  # would conflict if it were looked at
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Port", "444"),
        ("Forwarded", "for=1.1.1.1;proto=https"),
    )
    for mode in ("x-forwarded", "forwarded", "none"):
        info = policy(client_headers=mode).resolve(headers, "198.51.100.9", 4000)
        assert info == ForwardedInfo("http", "198.51.100.9", 4000, trusted=False)
    info = policy().resolve(headers, "198.51.100.9", 4000, url_scheme="https")
    assert info.url_scheme == "https"


def test_trusted_peer_without_headers_is_itself() -> None:
    assert policy().resolve([], PROXY, 4000) == ForwardedInfo("http", PROXY, 4000, trusted=True)


def test_unix_socket_peer_is_trusted_even_by_an_empty_list() -> None:
    info = policy("").resolve(h(("X-Forwarded-For", CLIENT)), None)
    assert (info.remote_addr, info.remote_port, info.trusted) == (CLIENT, None, True)
    assert policy("").resolve([], None) == ForwardedInfo("http", None, None, trusted=True)


def test_default_policy_trusts_loopback() -> None:
    default = ForwardedPolicy()
    assert default.client_headers == "x-forwarded" and "::1" in default.trusted
    assert default.resolve(h(("X-Forwarded-For", CLIENT)), "::1", 1).remote_addr == CLIENT
    assert default.resolve(h(("X-Forwarded-For", CLIENT)), "10.0.0.1", 1).remote_addr == "10.0.0.1"


def test_bad_client_headers_choice() -> None:
    with pytest.raises(ValueError, match="client_headers"):
        policy(client_headers="both")


# -- scheme: Gunicorn's secure_scheme_headers ------------------------------------


@pytest.mark.parametrize(("name", "value"), list(DEFAULT_SECURE_SCHEME_HEADERS.items()))
def test_each_default_secure_header_means_https(name: str, value: str) -> None:
    assert policy().resolve(h((name, value)), PROXY).url_scheme == "https"


@pytest.mark.parametrize(
    "headers",
    [
        h(("X-Forwarded-Proto", "http")),
        h(("X-Forwarded-Proto", "HTTPS")),  # exact, case-sensitive comparison
        h(("X-Forwarded-Ssl", "off")),
        h(("X-Forwarded-Proto", "https, http")),  # compared whole, as Gunicorn does
    ],
)
def test_a_secure_header_with_another_value_means_http_even_over_tls(headers: Headers) -> None:
    assert policy().resolve(headers, PROXY, url_scheme="https").url_scheme == "http"


def test_no_secure_header_keeps_the_connection_scheme() -> None:
    assert (
        policy().resolve(h(("X-Scheme", "https")), PROXY, url_scheme="https").url_scheme == "https"
    )
    assert policy().resolve(h(("X-Scheme", "https")), PROXY).url_scheme == "http"


def test_agreeing_secure_headers() -> None:
    headers = h(
        ("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "on"), ("X-Forwarded-Protocol", "ssl")
    )
    assert policy().resolve(headers, PROXY).url_scheme == "https"


@pytest.mark.parametrize(
    "headers",
    [
        h(("X-Forwarded-Ssl", "on"), ("X-Forwarded-Proto", "http")),  # Gunicorn's documented case
        h(("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http")),
        h(("X-Forwarded-Protocol", "tls"), ("X-Forwarded-Proto", "https")),
    ],
)
def test_conflicting_secure_headers_are_a_400(headers: Headers) -> None:
    with pytest.raises(ProtocolError) as info:
        policy().resolve(headers, PROXY)
    assert info.value.status == 400


def test_custom_secure_scheme_headers_any_case() -> None:
    custom = policy(secure_scheme_headers={"x-scheme": "https", " Front-End-Https ": "On"})
    assert custom.resolve(h(("X-Scheme", "https")), PROXY).url_scheme == "https"
    assert custom.resolve(h(("Front-End-Https", "On")), PROXY).url_scheme == "https"
    assert custom.resolve(h(("X-Forwarded-Proto", "https")), PROXY).url_scheme == "http"


def test_empty_secure_scheme_headers_ignore_them_all() -> None:
    headers = h(("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off"))
    assert policy(secure_scheme_headers={}).resolve(headers, PROXY).url_scheme == "http"


# -- client address: X-Forwarded-For ------------------------------------------------


@pytest.mark.parametrize(
    ("xff", "addr", "port"),
    [
        (CLIENT, CLIENT, None),
        (f"{CLIENT}:4711", CLIENT, 4711),
        ("2001:DB8::7", "2001:db8::7", None),
        ("[2001:db8::7]", "2001:db8::7", None),
        ("[2001:db8::7]:4711", "2001:db8::7", 4711),
        ("::ffff:203.0.113.7", "::ffff:203.0.113.7", None),
        (f" {CLIENT} ", CLIENT, None),
        (f", ,{CLIENT},", CLIENT, None),  # empty list elements are ignored
        (f"{CLIENT}:0", CLIENT, 0),
        (f"{CLIENT}:65535", CLIENT, 65535),
    ],
)
def test_x_forwarded_for_forms(xff: str, addr: str, port: int | None) -> None:
    info = policy().resolve(h(("X-Forwarded-For", xff)), PROXY, 9999)
    assert (info.remote_addr, info.remote_port) == (addr, port)


@pytest.mark.parametrize(
    "xff",
    [
        "unknown",
        "_hidden",
        "garbage",
        "01.2.3.4",
        "1.2.3.256",
        f"{CLIENT}:65536",
        f"{CLIENT}:123456",
        f"{CLIENT}:",
        f"{CLIENT}:-1",
        "[2001:db8::7",
        "2001:db8::7]:80",
        "fe80::1%eth0",
        '"203.0.113.7"',
        "1.2.3.4 5.6.7.8",
        "[203.0.113.7]",
    ],
)
def test_unusable_rightmost_entry_leaves_the_peer(xff: str) -> None:
    info = policy().resolve(h(("X-Forwarded-For", f"198.51.100.1, {xff}")), PROXY, 9999)
    assert (info.remote_addr, info.remote_port, info.trusted) == (PROXY, 9999, True)


def test_rightmost_untrusted_hop_is_the_client() -> None:
    # the client forged "6.6.6.6"; the first proxy appended what it saw
    xff = f"6.6.6.6, {CLIENT}, 10.0.0.5, 10.0.0.6"
    assert policy().resolve(h(("X-Forwarded-For", xff)), PROXY).remote_addr == CLIENT


def test_garbage_left_of_the_client_does_not_matter() -> None:
    xff = f"not an address, unknown, {CLIENT}, 10.0.0.5"
    assert policy().resolve(h(("X-Forwarded-For", xff)), PROXY).remote_addr == CLIENT


def test_garbage_between_trusted_hops_stops_the_walk() -> None:
    xff = f"{CLIENT}, _hidden, 10.0.0.5"
    info = policy().resolve(h(("X-Forwarded-For", xff)), PROXY, 1)
    assert info.remote_addr == PROXY


def test_all_hops_trusted_gives_the_leftmost() -> None:
    xff = "10.0.0.9, 10.0.0.8"
    assert policy().resolve(h(("X-Forwarded-For", xff)), PROXY).remote_addr == "10.0.0.9"


def test_star_trusts_every_hop_so_the_leftmost_wins() -> None:
    xff = f"6.6.6.6, {CLIENT}"
    assert policy("*").resolve(h(("X-Forwarded-For", xff)), "198.51.100.1").remote_addr == "6.6.6.6"


def test_repeated_x_forwarded_for_lines_are_one_list_in_order() -> None:
    headers = h(("X-Forwarded-For", f"6.6.6.6, {CLIENT}"), ("X-Forwarded-For", "10.0.0.5"))
    assert policy().resolve(headers, PROXY).remote_addr == CLIENT
    headers = h(("X-Forwarded-For", "10.0.0.5"), ("X-Forwarded-For", CLIENT))
    assert policy().resolve(headers, PROXY).remote_addr == CLIENT


def test_ipv6_trusted_hops() -> None:
    peers = "2001:db8:aaaa::/48"
    xff = f"{CLIENT}, [2001:db8:aaaa::5]:80, 2001:db8:aaaa::6"
    info = policy(peers).resolve(h(("X-Forwarded-For", xff)), "2001:db8:aaaa::1", 1)
    assert info.remote_addr == CLIENT


def test_none_mode_ignores_the_client_headers() -> None:
    headers = h(
        ("X-Forwarded-For", CLIENT),
        ("X-Forwarded-Host", "example.com"),
        ("Forwarded", f"for={CLIENT};host=example.com"),
        ("X-Forwarded-Proto", "https"),
    )
    info = policy(client_headers="none").resolve(headers, PROXY, 5)
    assert info == ForwardedInfo("https", PROXY, 5, trusted=True)


def test_x_forwarded_mode_ignores_forwarded() -> None:
    headers = h(
        ("Forwarded", f"for={CLIENT};proto=http;host=example.com"), ("X-Forwarded-Proto", "https")
    )
    assert policy().resolve(headers, PROXY, 5) == ForwardedInfo("https", PROXY, 5, trusted=True)


# -- server name and port: X-Forwarded-Host / -Port ------------------------------


@pytest.mark.parametrize(
    ("headers", "name", "port"),
    [
        (h(("X-Forwarded-Host", "example.com")), "example.com", 80),
        (
            h(("X-Forwarded-Host", "example.com"), ("X-Forwarded-Proto", "https")),
            "example.com",
            443,
        ),
        (h(("X-Forwarded-Host", "example.com:8443")), "example.com", 8443),
        (h(("X-Forwarded-Host", "example.com:")), "example.com", 80),
        (h(("X-Forwarded-Host", "[2001:db8::1]:8080")), "[2001:db8::1]", 8080),
        (h(("X-Forwarded-Host", "192.0.2.1")), "192.0.2.1", 80),
        (
            h(("X-Forwarded-Host", "example.com:8443"), ("X-Forwarded-Port", "9443")),
            "example.com",
            9443,
        ),
        (h(("X-Forwarded-Host", "example.com"), ("X-Forwarded-Port", "8080")), "example.com", 8080),
        (h(("X-Forwarded-Port", "8080")), None, 8080),
        (h(("X-Forwarded-Host", "example.com"), ("X-Forwarded-Port", "0")), "example.com", 80),
        (h(("X-Forwarded-Host", "example.com"), ("X-Forwarded-Port", "65536")), "example.com", 80),
        (h(("X-Forwarded-Host", "example.com"), ("X-Forwarded-Port", "8\xb2")), "example.com", 80),
        (h(("X-Forwarded-Host", "example.com"), ("X-Forwarded-Port", "http")), "example.com", 80),
        (h(("X-Forwarded-Host", "example.com:99999")), None, None),
        (h(("X-Forwarded-Host", "example.com:0")), None, None),
        (h(("X-Forwarded-Host", "example.com:http")), None, None),
        (h(("X-Forwarded-Host", "evil.com/path")), None, None),
        (h(("X-Forwarded-Host", "user@evil.com")), None, None),
        (h(("X-Forwarded-Host", "[2001:db8::zz]")), None, None),
        (h(("X-Forwarded-Host", "[not-ipv6]")), None, None),
        (h(("X-Forwarded-Host", "a b")), None, None),
        (h(("X-Forwarded-Port", "8080")), None, 8080),
    ],
)
def test_forwarded_host_and_port(headers: Headers, name: str | None, port: int | None) -> None:
    info = policy().resolve(headers, PROXY)
    assert (info.server_name, info.server_port) == (name, port)


def test_host_is_taken_from_the_same_hops_as_the_client() -> None:
    # each proxy appended what it received: the client asked the first one for
    # public.example; the second one was asked for internal:8080
    headers = h(
        ("X-Forwarded-For", f"6.6.6.6, {CLIENT}, 10.0.0.5"),
        ("X-Forwarded-Host", "forged.example, public.example, internal:8080"),
        ("X-Forwarded-Port", "1, 443, 8080"),
        ("X-Forwarded-Proto", "https"),
    )
    info = policy().resolve(headers, PROXY)
    assert (info.remote_addr, info.server_name, info.server_port) == (CLIENT, "public.example", 443)


def test_a_single_host_set_by_the_nearest_proxy() -> None:
    headers = h(("X-Forwarded-For", f"{CLIENT}, 10.0.0.5"), ("X-Forwarded-Host", "public.example"))
    info = policy().resolve(headers, PROXY)
    assert (info.server_name, info.server_port) == ("public.example", 80)


def test_without_x_forwarded_for_the_nearest_host_is_used() -> None:
    headers = h(("X-Forwarded-Host", "forged.example"), ("X-Forwarded-Host", "public.example"))
    assert policy().resolve(headers, PROXY).server_name == "public.example"


# -- RFC 7239 Forwarded ---------------------------------------------------------------


def fwd(*values: str, peer: str = PROXY, allow: str = "10.0.0.0/8") -> ForwardedInfo:
    return policy(allow, client_headers="forwarded").resolve(
        h(*(("Forwarded", v) for v in values)), peer, 9999
    )


@pytest.mark.parametrize(
    ("value", "addr", "port"),
    [
        (f"for={CLIENT}", CLIENT, None),
        (f'for="{CLIENT}"', CLIENT, None),
        (f'for="{CLIENT}:4711"', CLIENT, 4711),
        (f'for="{CLIENT}:_port"', CLIENT, None),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17", None),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17", 4711),
        ('FOR="[2001:DB8:CAFE::17]:4711"', "2001:db8:cafe::17", 4711),
        (f"for={CLIENT};by=10.0.0.1;proto=http;host=example.com", CLIENT, None),
        (f"for={CLIENT} ; proto=http", CLIENT, None),
        (f";for={CLIENT};;", CLIENT, None),
        (f'for="{CLIENT}", for=10.0.0.5', CLIENT, None),
    ],
)
def test_forwarded_for(value: str, addr: str, port: int | None) -> None:
    info = fwd(value)
    assert (info.remote_addr, info.remote_port) == (addr, port)


@pytest.mark.parametrize(
    "value",
    [
        "for=unknown",
        "for=UNKNOWN",
        'for="unknown:4711"',
        "for=_hidden",
        'for="_hidden:_port"',
        "for=_",  # obfnode needs a character after "_"
        "for=2001:db8::1",  # must be quoted (section 6)
        "for=[2001:db8::1]",
        'for="2001:db8::1"',  # must be in brackets (section 6.1)
        f"for={CLIENT}:80",  # ":" is not a token character
        f'for="{CLIENT}:99999"',
        f'for="{CLIENT}:"',
        'for="[2001:db8::1]:"',
        "for=example.com",
        "for=01.2.3.4",
        'for="fe80::1%eth0"',
        'for="[fe80::1%eth0]"',
        "proto=https",  # no for= at all
        f"for={CLIENT};for=1.1.1.1",  # a parameter twice
        f"for ={CLIENT}",
        f"for= {CLIENT}",
        f'for="{CLIENT}',  # unterminated quoted string
        f'for="{CLIENT}"x',
        f"for={CLIENT} proto=https",
        f"for={CLIENT};proto",
        f"for=\x7f{CLIENT}",
    ],
)
def test_forwarded_unusable_client_leaves_the_peer(value: str) -> None:
    info = fwd(f"for=198.51.100.1, {value}")
    assert (info.remote_addr, info.remote_port, info.trusted) == (PROXY, 9999, True)


def test_forwarded_walks_trusted_hops_and_lines_combine() -> None:
    assert fwd(f"for=6.6.6.6, for={CLIENT}", "for=10.0.0.5").remote_addr == CLIENT
    assert fwd("for=10.0.0.7, for=10.0.0.5").remote_addr == "10.0.0.7"
    assert fwd(f"for=6.6.6.6, for={CLIENT}", allow="*").remote_addr == "6.6.6.6"


def test_forwarded_proto_and_host_from_the_client_hop() -> None:
    info = fwd(
        'for=6.6.6.6;proto=http;host="forged.example"',
        f'for={CLIENT};proto=https;host="public.example"',
        'for=10.0.0.5;proto=http;host="internal:8080"',
    )
    assert info == ForwardedInfo("https", CLIENT, None, "public.example", 443, trusted=True)


def test_forwarded_proto_and_host_fall_back_to_newer_trusted_hops() -> None:
    info = fwd(f"for={CLIENT}", 'for=10.0.0.5;proto=https;host="public.example:8443"')
    assert info == ForwardedInfo("https", CLIENT, None, "public.example", 8443, trusted=True)


def test_forwarded_proto_and_host_without_a_known_client() -> None:
    info = fwd("for=_hidden;proto=https;host=example.com")
    assert info == ForwardedInfo("https", PROXY, 9999, "example.com", 443, trusted=True)
    assert fwd("proto=https").url_scheme == "https"


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [
        ("HTTPS", "https"),
        ("Http", "http"),
        ("wss", "http"),
        ("ftp", "http"),
        ('"https"', "https"),
        ("1http", "http"),
    ],
)
def test_forwarded_proto_values(proto: str, scheme: str) -> None:
    assert fwd(f"for={CLIENT};proto={proto}").url_scheme == scheme


def test_forwarded_proto_votes_with_the_secure_scheme_headers() -> None:
    mode = policy(client_headers="forwarded")
    agree = h(("Forwarded", f"for={CLIENT};proto=https"), ("X-Forwarded-Proto", "https"))
    assert mode.resolve(agree, PROXY).url_scheme == "https"
    conflict = h(("Forwarded", f"for={CLIENT};proto=http"), ("X-Forwarded-Proto", "https"))
    with pytest.raises(ProtocolError) as info:
        mode.resolve(conflict, PROXY)
    assert info.value.status == 400


@pytest.mark.parametrize("host", ['"example.com:99999"', '"bad host"', '"a/b"', '"[::g]"', '""'])
def test_forwarded_bad_host_is_ignored(host: str) -> None:
    info = fwd(f"for={CLIENT};host={host}")
    assert (info.remote_addr, info.server_name, info.server_port) == (CLIENT, None, None)


def test_forwarded_unquoted_ipv6_host_breaks_the_whole_element() -> None:
    info = fwd(f"for={CLIENT};host=[::1]")
    assert (info.remote_addr, info.server_name) == (PROXY, None)
    info = fwd(f'for={CLIENT};host="[::1]:8080"')
    assert (info.remote_addr, info.server_name, info.server_port) == (CLIENT, "[::1]", 8080)


def test_a_forged_open_quote_cannot_capture_the_proxy_element() -> None:
    # the client sends an unterminated quoted string; the proxy appends its own
    # element (on the same line or a new one): the whole tail is one broken
    # element, so nothing the client wrote is believed
    for forged in ['for=6.6.6.6;x="', 'for=6.6.6.6;x="\\']:
        assert fwd(f"{forged}, for={CLIENT}").remote_addr == PROXY
        assert fwd(forged, f"for={CLIENT}").remote_addr == PROXY
        assert fwd(forged, 'for="[2001:db8::1]";proto="https"').remote_addr == PROXY


def test_a_malformed_element_still_counts_as_a_hop() -> None:
    info = fwd(f"for={CLIENT};proto=https", "garbage", "for=10.0.0.5")
    assert info.remote_addr == PROXY and info.url_scheme == "http"


# -- parse_forwarded ------------------------------------------------------------------


def test_parse_forwarded_elements() -> None:
    elements = parse_forwarded(
        [
            b'for="_gazonk"',
            b'For="[2001:db8:cafe::17]:4711"',
            b"for=192.0.2.60;proto=http;by=203.0.113.43",
            b"for=192.0.2.43, for=198.51.100.17",
        ]
    )
    assert elements == (
        ForwardedElement(for_="_gazonk"),
        ForwardedElement(for_="[2001:db8:cafe::17]:4711"),
        ForwardedElement(for_="192.0.2.60", by="203.0.113.43", proto="http"),
        ForwardedElement(for_="192.0.2.43"),
        ForwardedElement(for_="198.51.100.17"),
    )


def test_parse_forwarded_quoting_and_extensions() -> None:
    (element,) = parse_forwarded(['host="a\\"b,c;d";Ext="x\\\\y" ; secret=_token'])
    assert element == ForwardedElement(
        host='a"b,c;d', extensions=(("ext", "x\\y"), ("secret", "_token"))
    )


def test_parse_forwarded_empty_elements_and_pairs() -> None:
    assert parse_forwarded([", , for=1.2.3.4 ,", ""]) == (ForwardedElement(for_="1.2.3.4"),)
    assert parse_forwarded([";"]) == (ForwardedElement(),)
    assert parse_forwarded([]) == ()


@pytest.mark.parametrize(
    "value",
    [
        b"for",
        b"for=",
        b"=x",
        b"for=a=b",
        b'for="a"b',
        b"for=a b",
        b"f(r=a",
        b'for="\x00"',
        b"for=\xff",
        b'for="a',
    ],
)
def test_parse_forwarded_malformed_element_is_none(value: bytes) -> None:
    assert parse_forwarded([b"for=1.2.3.4", value]) == (ForwardedElement(for_="1.2.3.4"), None)


def test_parse_forwarded_accepts_obs_text_in_quotes() -> None:
    (element,) = parse_forwarded([b'host="caf\xe9"'])
    assert element is not None and element.host == "caf\xe9"


# -- properties -------------------------------------------------------------------------

_TRUSTED_NET = ipaddress.ip_network("10.0.0.0/8")


@settings(max_examples=300, deadline=None)
@given(
    hops=st.lists(
        st.one_of(
            st.ip_addresses(v=4).map(str),
            st.ip_addresses(network="10.0.0.0/8").map(str),
            st.sampled_from(["unknown", "_x", "garbage", "[::1]:80", "::ffff:10.1.1.1"]),
        ),
        max_size=6,
    ),
    split=st.integers(0, 6),
)
def test_rightmost_untrusted_property(hops: list[str], split: int) -> None:
    lines = [", ".join(hops[:split]), ", ".join(hops[split:])]
    info = policy().resolve(h(*(("X-Forwarded-For", line) for line in lines)), PROXY, 1)

    def trusted(hop: str) -> bool:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address in _TRUSTED_NET

    expected = PROXY
    for hop in reversed(hops):
        if not trusted(hop):
            try:
                expected = str(ipaddress.ip_address(hop)) if hop != "[::1]:80" else "::1"
            except ValueError:
                expected = PROXY
            break
    else:
        if hops:
            expected = str(ipaddress.ip_address(hops[0]))
            if expected.startswith("::ffff:"):
                expected = "::ffff:" + str(ipaddress.ip_address(hops[0]).ipv4_mapped)  # type: ignore[union-attr]
    assert info.remote_addr == expected


_header_names = st.sampled_from(
    [
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"forwarded",
        b"x-forwarded-proto",
        b"host",
    ]
)


@settings(max_examples=500, deadline=None)
@given(
    headers=st.lists(st.tuples(_header_names, st.binary(max_size=60)), max_size=6),
    mode=st.sampled_from(["x-forwarded", "forwarded", "none"]),
)
def test_random_values_never_crash(headers: Headers, mode: str) -> None:
    scheme_headers = {"X-Forwarded-Proto": "https"}
    try:
        info = policy(client_headers=mode, secure_scheme_headers=scheme_headers).resolve(
            headers, PROXY, 1
        )
    except ProtocolError as error:
        # only contradicting scheme votes are an error
        assert error.status == 400
        return
    assert info.trusted and info.url_scheme in ("http", "https")
    assert info.remote_addr is not None
    ipaddress.ip_address(info.remote_addr)
    assert info.server_port is None or 0 < info.server_port <= 65535
    assert info.remote_port is None or 0 <= info.remote_port <= 65535
