"""Bind addresses: parsing and validation, shared by the settings and the server.

Accepted forms: ``HOST:PORT``, ``[IPV6]:PORT``, ``HOST`` (port 8000), ``:PORT``
or ``PORT`` (all IPv4 interfaces), ``unix:/path``, ``fd://N``; a TCP address may be
written ``tcp://HOST:PORT``, as Gunicorn allows. Standard library
only: :mod:`wsgikit.config` validates binds with it and :mod:`wsgikit.server`
opens them, without either importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Address", "BindError", "parse_bind"]


class BindError(Exception):
    """A bind address is malformed or cannot be listened on; ``str()`` is one line."""


@dataclass(frozen=True)
class Address:
    """A parsed bind address."""

    kind: str  # "tcp", "unix" or "fd"
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    @property
    def lookup_host(self) -> str | bytes:
        """``host`` as ``socket.getaddrinfo`` should get it: an ASCII name as the bytes
        the IDNA codec would make of it, so that a start does not load that codec (and
        the Unicode tables it brings); any other name as text, for the codec to encode
        or to refuse (a label empty or longer than 63 characters) as before."""
        if self.host.isascii():
            labels = self.host.split(".")
            if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
                return self.host.encode("ascii")
        return self.host

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "fd":
            return f"fd://{self.fd}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_bind(text: str) -> Address:
    """Parse one bind string, or raise :class:`BindError` saying what was expected."""
    expected = "expected HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N"
    value = text.strip()
    if value.startswith("tcp://"):  # Gunicorn's spelling of a TCP address
        value = value[len("tcp://") :]
        if value.startswith(("unix:", "fd://")):
            raise BindError(f"malformed bind {text!r}: {expected}")
    if value.startswith("unix:"):
        path = value[5:]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise BindError(f"malformed bind {text!r}: empty unix socket path")
        return Address("unix", path=path)
    if value.startswith("fd://"):
        try:
            fd = int(value[5:])
        except ValueError:
            raise BindError(f"malformed bind {text!r}: {expected}") from None
        if fd < 0:
            raise BindError(f"malformed bind {text!r}: {expected}")
        return Address("fd", fd=fd)
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise BindError(f"malformed bind {text!r}: {expected}")
        port_text = rest[1:] if rest else "8000"
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        host = host or "0.0.0.0"
    elif ":" not in value:
        if value.isdigit():
            host, port_text = "0.0.0.0", value
        else:
            host, port_text = value, "8000"
    else:
        raise BindError(f"malformed bind {text!r}: {expected} (put IPv6 hosts in brackets)")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise BindError(f"malformed bind {text!r}: port must be a number from 0 to 65535")
    if not host:
        raise BindError(f"malformed bind {text!r}: {expected}")
    return Address("tcp", host=host, port=int(port_text))
