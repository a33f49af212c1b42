"""TLS for the worker loops: the context the settings ask for, and one session per connection.

The loops keep doing their own socket I/O on plain, non-blocking sockets; TLS
sits between the socket and the HTTP parser as a :class:`TLSSession`, an
:class:`ssl.SSLObject` over two memory buffers (the standard library's
``wrap_bio``, as asyncio does). Ciphertext read from the socket goes in,
plaintext comes out; plaintext to send goes in, ciphertext to send comes out.
So the handshake never blocks the threaded worker's selector loop (it is
driven by readiness events like any read), bytes read ahead of TLS (a PROXY
protocol header) are no problem, and a write never has to be retried with the
same buffer, as a non-blocking :class:`ssl.SSLSocket` would demand.

Zero-copy ``sendfile`` cannot work through TLS: transports over a session
report it unsupported and ``wsgi.file_wrapper`` responses are iterated.
"""

from __future__ import annotations

import ssl
import threading

__all__ = ["TLSSession", "TLSSetupError", "make_ssl_context", "TLS_MINIMUM_VERSION"]

#: Older protocol versions are refused (RFC 8996 deprecates TLS 1.0 and 1.1).
TLS_MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

_READ = 65536


class TLSSetupError(ValueError):
    """A context cannot be built; ``parameter`` names the argument at fault."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def _reason(exc: Exception) -> str:
    """OpenSSL's reason, else the OS's, else the message: one line either way.

    Not every :class:`ssl.SSLError` carries ``reason``: ``set_ciphers`` raises
    one with only a message, whose ``str()`` is the tuple of its arguments.
    """
    text = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    if not text:
        strings = [arg for arg in exc.args if isinstance(arg, str)]
        text = strings[-1] if strings else str(exc)
    return " ".join(str(text).split())


def _chain_error(certfile: str, keyfile: str | None, exc: Exception) -> TLSSetupError:
    """Say which file is wrong, since OpenSSL only says "PEM lib"."""
    if not isinstance(exc, ssl.SSLError):
        return TLSSetupError("certfile", f"cannot load {certfile!r}: {_reason(exc)}")
    try:
        with open(certfile, "rb") as file:
            cert_text = file.read()
        key_text = cert_text
        if keyfile:
            with open(keyfile, "rb") as file:
                key_text = file.read()
    except OSError as error:
        name = "keyfile" if keyfile and error.filename == keyfile else "certfile"
        return TLSSetupError(name, f"cannot load {error.filename!r}: {_reason(error)}")
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        return TLSSetupError("certfile", f"no PEM certificate in {certfile!r}")
    if b"PRIVATE KEY-----" not in key_text:
        if keyfile:
            return TLSSetupError("keyfile", f"no PEM private key in {keyfile!r}")
        return TLSSetupError("keyfile", f"no private key in {certfile!r}: set keyfile")
    return TLSSetupError(
        "keyfile" if keyfile else "certfile",
        f"cannot use {certfile!r}{f' with {keyfile!r}' if keyfile else ''}: {_reason(exc)} "
        "(a key that does not match the certificate, or an encrypted key?)",
    )


def make_ssl_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    ca_certs: str | None = None,
    cert_reqs: int = ssl.CERT_NONE,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    """A server context: the certificate chain and key, TLS 1.2 at least, no renegotiation.

    ``ca_certs`` and ``cert_reqs`` (``ssl.CERT_NONE``/``OPTIONAL``/``REQUIRED``)
    ask clients for certificates; ``ciphers`` is an OpenSSL cipher list (TLS 1.2;
    TLS 1.3 suites stay OpenSSL's). Raises :class:`TLSSetupError` naming the
    argument that could not be used, and why, in one line.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_MINIMUM_VERSION
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ValueError) as exc:
        raise _chain_error(certfile, keyfile, exc) from None
    if ca_certs:
        try:
            context.load_verify_locations(ca_certs)
        except (OSError, ValueError) as exc:
            raise TLSSetupError("ca_certs", f"cannot load {ca_certs!r}: {_reason(exc)}") from None
    context.verify_mode = ssl.VerifyMode(cert_reqs)
    if ciphers:
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError as exc:
            raise TLSSetupError("ciphers", f"{ciphers!r}: {_reason(exc)}") from None
    context.set_alpn_protocols(["http/1.1"])
    return context


class TLSSession:
    """The TLS state of one server-side connection, without I/O.

    Feed what the socket gave with :meth:`receive` (it drives the handshake
    first); send what :meth:`outgoing` and :meth:`encrypt` return. The app
    thread (encrypting a response) and the loop (decrypting the next request)
    never use one session at once, but a lock makes sure of it.
    """

    __slots__ = ("_incoming", "_outgoing", "_object", "_lock", "established")

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._lock = threading.Lock()
        self.established = False  # the handshake is complete

    def receive(self, data: bytes) -> tuple[bytes, bool]:
        """Ciphertext from the peer (``b""``: the socket reached its end).

        Returns ``(plaintext, ended)``: the application bytes now readable
        (empty while a record or the handshake is incomplete) and whether the
        peer's stream ended (close_notify, or the socket closed). Raises
        :class:`ssl.SSLError` when the handshake or a record fails.
        """
        with self._lock:
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()
            if not self.established:
                try:
                    self._object.do_handshake()
                except ssl.SSLWantReadError:
                    return b"", not data
                self.established = True
            chunks: list[bytes] = []
            ended = False
            while True:
                try:
                    chunk = self._object.read(_READ)
                except ssl.SSLWantReadError:
                    ended = not data
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    ended = True  # close_notify, or a close without it (a ragged EOF)
                    break
                if not chunk:
                    ended = True
                    break
                chunks.append(chunk)
            return b"".join(chunks), ended

    def outgoing(self) -> bytes:
        """Ciphertext the session produced on its own (handshake, tickets, alerts)."""
        with self._lock:
            return self._outgoing.read()

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """The ciphertext for ``data``, with anything the session had pending before it."""
        with self._lock:
            if data:
                self._object.write(data)
            return self._outgoing.read()

    def close_notify(self) -> bytes:
        """The alert that tells the peer we close (best effort; empty if none can be made)."""
        with self._lock:
            if self.established:
                try:
                    self._object.unwrap()
                except ssl.SSLError:
                    pass
            return self._outgoing.read()
