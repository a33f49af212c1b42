"""The sync worker: one connection at a time, with keep-alive and timeouts.

A selector waits on the listening sockets and a wake-up channel; each accepted
connection is served to the end (its keep-alive requests included) before the
next accept. While other clients wait to connect, a connection keeps the worker
for its turn (up to 16 requests within a millisecond) and is then answered with
``Connection: close``; an idle one is given up. Four timeouts bound a client:
the request head must arrive within ``header_timeout``, an idle keep-alive
connection is closed after ``keepalive`` seconds, a stalled body read fails
after ``body_timeout`` and a stalled response write after ``write_timeout``.

A graceful stop finishes the connection being served and then answers the
connections already waiting in the listen backlog, one after another with
``Connection: close``: they were received before the stop, and closing the
listeners would reset them. A keep-alive connection is not closed under its
client: a request that comes on it within ``drain_window`` is answered (with
``Connection: close``), and only a connection quiet for that long is closed,
with a lingering close.

The client socket is non-blocking: a send or receive goes straight to the
kernel and the worker only polls when it would block. Every wait is cut in
slices of at most a second that report a heartbeat, so a worker waiting on a
slow client is never mistaken for a stuck one.
"""

from __future__ import annotations

import errno
import math
import os
import select
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from ..http import (
    CONNECTION_CLOSED,
    NEED_DATA,
    HTTPConnection,
    ProtocolError,
    Request,
)
from ..wsgi import BodySource, ClientDisconnected, ConnectionBody, drain_body
from .buffers import SpoolBuffer
from .loop import WorkerLoop
from .proxied import ProxyRefused, client_of, proxy_gate
from .request import peer_address
from .tls import TLSSession
from .waker import Waker

__all__ = ["SyncServer", "SocketTransport"]

_RECV = 65536
_DRAIN_LIMIT = 1 << 20  # unread body bytes we discard to keep a connection alive
_CLOSE_GRACE = 0.02  # seconds to wait for a request already on its way before closing
_FRESH_GRACE = 1.0  # seconds a just-accepted connection gets to send its request at a stop
_BEAT = 1.0  # longest wait without a heartbeat
# A connection's turn: while other clients wait to connect, a keep-alive connection
# keeps the worker for this many requests or this long since it was accepted,
# whichever ends first, then its response says Connection: close. An accept and a
# close cost about as much as a small request: a turn shares them among its requests,
# and a millisecond keeps the others' wait short (hello under wrk -c32: p99 7-9 ms
# with no turn, 20-25 ms with this one, 71-78 ms with 10 ms turns).
_TURN_REQUESTS = 16
_TURN_SECONDS = 0.001


class _Wait:
    """Waits for a socket to become readable, or for a reason to give up waiting.

    Between requests (``idle``) it also watches the listening sockets: a sync
    worker holding an idle keep-alive connection while another client waits to
    connect would starve that client, so the idle connection is given up.
    """

    def __init__(
        self,
        sock: socket.socket,
        waker: Waker,
        listeners: list[socket.socket],
        beat: Callable[[], None],
    ) -> None:
        self._beat = beat
        self._sock_fd = sock.fileno()
        self._waker_fd = waker.fileno()
        self._busy = select.poll()
        self._idle = select.poll()
        for poll in (self._busy, self._idle):
            poll.register(self._sock_fd, select.POLLIN)
            poll.register(self._waker_fd, select.POLLIN)
        for listener in listeners:
            self._idle.register(listener.fileno(), select.POLLIN)

    def readable(self, timeout: float, idle: bool = False) -> bool | None:
        """True: socket readable; False: timed out; None: a stop was requested, or
        (when idle) a client waits to connect.

        Mid-request, a stop is reported once; the wake-up channel is then no
        longer watched (it stays readable), so later waits block on the socket.
        """
        poll = self._idle if idle else self._busy
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            ready = poll.poll(max(0.0, min(left, _BEAT)) * 1000)
            self._beat()  # waiting for a client is not being stuck
            if ready or left <= _BEAT:
                break
        fds = {fd for fd, _ in ready}
        if self._sock_fd in fds:
            return True
        if not fds:
            return False
        if not idle and self._waker_fd in fds:
            self._busy.unregister(self._waker_fd)
        return None


class SocketTransport:
    """Sends through a non-blocking socket, waiting (and beating) only when it is full.

    A send that makes no progress for ``timeout`` seconds means the client
    stopped reading: :class:`ClientDisconnected`. ``progress`` is told after
    each send and while waiting (see :meth:`RequestHandler.touch`). Over a
    ``tls`` session the bytes are encrypted first and ``sendfile`` is refused.
    """

    def __init__(
        self,
        sock: socket.socket,
        timeout: float,
        beat: Callable[[], None],
        progress: Callable[[], None],
        tls: TLSSession | None = None,
    ) -> None:
        self.sock = sock
        self.tls = tls
        self.timeout = timeout
        self._beat = beat
        self._progress = progress
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLOUT)

    def _wait_writable(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClientDisconnected(f"client read nothing for {self.timeout:g} s")
            if self._poll.poll(min(left, _BEAT) * 1000):
                return
            self._beat()
            self._progress()

    def send(self, data: bytes) -> None:
        if not data:
            return  # (the end of a Content-Length body frames nothing)
        if self.tls is not None:
            data = self.tls.encrypt(data)
        self.send_raw(data)

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (ciphertext, for a TLS session)."""
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                self._wait_writable()
                continue
            except OSError as exc:
                raise ClientDisconnected(str(exc) or type(exc).__name__) from exc
            view = view[sent:]
        self._beat()
        self._progress()

    def sendfile(self, fd: int, offset: int, count: int) -> bool:
        if self.tls is not None:
            return False  # the bytes must be encrypted: iterate the file instead
        out = self.sock.fileno()
        started = False
        while count > 0:
            try:
                sent = os.sendfile(out, fd, offset, count)
            except (BlockingIOError, InterruptedError):
                self._wait_writable()
                continue
            except OSError as exc:
                if not started and exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    return False  # not for this kind of file or socket: iterate instead
                raise ClientDisconnected(str(exc) or type(exc).__name__) from exc
            if sent == 0:
                raise ClientDisconnected("the file ended before its announced length")
            started = True
            offset += sent
            count -= sent
            self._beat()
            self._progress()
        return True


def receive(
    conn: HTTPConnection,
    sock: socket.socket,
    wait: _Wait,
    deadline: float,
    stop_on_wake: bool,
    wake_grace: float = math.inf,
    transport: SocketTransport | None = None,
) -> bool:
    """Wait for bytes until ``deadline`` and feed them to ``conn``.

    Returns False on timeout, or, with ``stop_on_wake`` (an idle wait between
    requests), when a stop is requested or another client waits to connect (the
    caller looks at which). Otherwise a stop shortens the wait to ``wake_grace``
    seconds from then.
    A reset connection counts as end of input. Over TLS (``transport.tls``)
    the bytes are decrypted first; a broken record also ends the input.
    """
    tls = transport.tls if transport is not None else None
    while True:
        ready = wait.readable(deadline - time.monotonic(), idle=stop_on_wake)
        if ready is None and stop_on_wake:
            # Give the idle connection up, unless its next request is already on
            # the way: closing under it would race the client (a reset, a lost
            # request); that request is answered with Connection: close instead.
            ready = wait.readable(_CLOSE_GRACE) or None
            if ready is None:
                return False
        if ready is None:
            deadline = min(deadline, time.monotonic() + wake_grace)
            if time.monotonic() >= deadline:
                return False
            continue  # woken for a stop: finish the request in flight first
        if not ready:
            return False
        try:
            data = sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if tls is not None:
            assert transport is not None
            try:
                plain, ended = tls.receive(data)
                pending = tls.outgoing()
                if pending:
                    transport.send_raw(pending)
            except (ssl.SSLError, ClientDisconnected):
                plain, ended = b"", True
            if plain:
                conn.receive_data(plain)
            if ended:
                conn.receive_data(b"")
            elif not plain:
                continue  # part of a record: wait for the rest, same deadline
            return True
        conn.receive_data(data)
        return True


class SyncServer(WorkerLoop):
    """Serves listening sockets one connection at a time until :meth:`stop`."""

    def _setup(self) -> None:
        self._turn_requests = 0
        self._turn_ends = 0.0
        self._listen_poll = select.poll()
        for sock in self.listeners:
            self._listen_poll.register(sock.fileno(), select.POLLIN)

    def _keep_alive(self) -> bool:
        """Keep the connection while its turn lasts, then only while nobody else
        waits to connect (fairness). Asked once per response."""
        if self._stopping or self.options.keepalive <= 0:
            return False
        self._turn_requests += 1
        if self._turn_requests < _TURN_REQUESTS and time.monotonic() < self._turn_ends:
            return True
        return not self._listen_poll.poll(0)

    def serve_forever(self) -> None:
        selector = selectors.DefaultSelector()
        for sock in self.listeners:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        selector.register(self._waker.fileno(), selectors.EVENT_READ)
        try:
            while not self._stopping:
                self.monitor.notify()
                for key, _ in selector.select(timeout=1.0):
                    if self._stopping:
                        break
                    if key.fileobj is self._waker.fileno():
                        self._waker.drain()
                        continue
                    listener = key.fileobj
                    assert isinstance(listener, socket.socket)
                    try:
                        client, addr = listener.accept()
                    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                        continue  # another worker took it, or it went away
                    except OSError as exc:
                        self.logger.error("accept() failed on %s: %s", listener, exc)
                        continue
                    self._serve_client(client, addr, listener)
            if self._graceful:
                self._serve_backlog()
        finally:
            selector.close()
            self._waker.close()

    def _serve_backlog(self) -> None:
        """At a graceful stop: answer the connections waiting in the listen backlog,
        one after another (``Connection: close``), then return; a fast stop meanwhile
        closes the rest. See :meth:`WorkerLoop._accept_backlog`."""
        waiting = self._accept_backlog()
        try:
            while waiting and self._graceful:
                client, addr, listener = waiting.pop(0)
                self._serve_client(client, addr, listener)
        finally:
            for client, _, _ in waiting:
                client.close()

    # ------------------------------------------------------- connections

    def _serve_client(self, client: socket.socket, addr: Any, listener: socket.socket) -> None:
        try:
            client.setblocking(False)
            if client.family != socket.AF_UNIX:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._serve_connection(client, addr, listener)
        except Exception:
            self.logger.exception("unexpected error serving a connection")
        finally:
            # Unread input (a request crossing our Connection: close, or pipelined
            # behind it) would make close() send a reset, which can destroy the
            # answer before the client reads it: linger then.
            if _has_input(client):
                linger_close(client)
            client.close()

    def _serve_connection(self, client: socket.socket, addr: Any, listener: socket.socket) -> None:
        options = self.options
        handler = self.handler
        conn = handler.new_connection()
        wait = _Wait(client, self._waker, self.listeners, self.monitor.notify)
        tls = TLSSession(options.ssl_context) if options.ssl_context is not None else None
        transport = SocketTransport(
            client, options.write_timeout, self.monitor.notify, handler.touch, tls
        )
        base = handler.base_environ(listener)
        remote = peer_address(addr)
        now = time.monotonic()
        idle_deadline = now + options.header_timeout
        self._turn_requests = 0
        self._turn_ends = now + _TURN_SECONDS
        start = self._open(client, wait, transport, remote, idle_deadline)
        if start is None:
            return
        remote, first = start
        peer = handler.peer(remote)
        if first:
            conn.receive_data(first)
        head_deadline: float | None = None
        fresh = True  # no request yet: the client surely means to send one
        while True:
            try:
                event = conn.next_event()
            except ProtocolError as exc:
                self._reject(client, exc, tls)
                return
            if event is NEED_DATA:
                if conn.buffered_head and head_deadline is None:
                    head_deadline = time.monotonic() + options.header_timeout
                # Idle between keep-alive requests, a waiting client ends the wait
                # (fairness). A stop does not: the client was told it may send
                # another request and may be sending it now, so the connection
                # (and one accepted a moment ago) gets the drain window, and what
                # comes is answered with Connection: close.
                idle = head_deadline is None and not fresh and not self._stopping
                deadline = idle_deadline if head_deadline is None else head_deadline
                if self._stopping:
                    window = _FRESH_GRACE if fresh else self.drain_window
                    deadline = min(deadline, time.monotonic() + window)
                grace = _FRESH_GRACE if fresh else math.inf
                if not receive(
                    conn,
                    client,
                    wait,
                    deadline,
                    stop_on_wake=idle,
                    wake_grace=grace,
                    transport=transport,
                ):
                    if idle and self._stopping and time.monotonic() < deadline:
                        continue  # woken by the stop: wait on as a stopping worker
                    if head_deadline is not None and time.monotonic() >= deadline:
                        self._reject(client, ProtocolError("request head timed out", 408), tls)
                    elif self._stopping and not fresh:
                        # Quiet for the whole drain window: a request that crosses our
                        # FIN now is met with the end of the stream, not a reset.
                        linger_close(client)
                    return
                continue
            if event is CONNECTION_CLOSED or not isinstance(event, Request):
                return
            head_deadline = None
            fresh = False
            body: BodySource = self._body(conn, client, wait, transport)
            length: int | None = None
            spool: SpoolBuffer | None = None
            if event.chunked:
                # Frameworks need a CONTENT_LENGTH: read the chunked body whole first
                # (spooled to a file past spool_threshold), as the threaded worker does.
                try:
                    spool = self._read_whole(body)
                except ProtocolError as exc:
                    self._reject(client, exc, tls)
                    return
                except ClientDisconnected:
                    return
                body, length = spool.source(), spool.size
            try:
                info = handler.handle(
                    conn, event, base, transport, body, peer, self._keep_alive, length
                )
            finally:
                if spool is not None:
                    spool.close()
            if not info.keep_alive:
                return  # (a stop that began after the head said keep-alive waits above)
            if not conn.request_complete and not self._drain(conn, body):
                return
            if not conn.start_next_cycle():
                return
            idle_deadline = time.monotonic() + options.keepalive

    def _body(
        self, conn: HTTPConnection, client: socket.socket, wait: _Wait, transport: SocketTransport
    ) -> ConnectionBody:
        """``wsgi.input``'s source: the rest of the body, read from the socket on demand."""
        timeout = self.options.body_timeout

        def fill() -> bool:
            deadline = time.monotonic() + timeout
            return receive(conn, client, wait, deadline, stop_on_wake=False, transport=transport)

        return ConnectionBody(conn, fill, transport.send)

    def _read_whole(self, body: BodySource) -> SpoolBuffer:
        """The rest of a request body, in memory up to ``spool_threshold``, then in a
        temporary file; the body limit and timeouts apply as the app's reads would."""
        spool = SpoolBuffer(self.options.spool_threshold)
        try:
            while data := body.read_chunk(_RECV):
                spool.write(data)
        except BaseException:
            spool.close()
            raise
        return spool

    def _drain(self, conn: HTTPConnection, body: BodySource) -> bool:
        """Discard the unread rest of a request body, within bounds."""
        try:
            return drain_body(body, _DRAIN_LIMIT, _RECV) and conn.request_complete
        except (ProtocolError, ClientDisconnected):
            return False

    def _open(
        self,
        client: socket.socket,
        wait: _Wait,
        transport: SocketTransport,
        remote: tuple[str, int] | None,
        deadline: float,
    ) -> tuple[tuple[str, int] | None, bytes] | None:
        """Before the first request: the PROXY header, then the TLS handshake.

        Returns the client (the PROXY header may name it) and the first
        plaintext bytes, or None when the connection must close (refused,
        failed, or it did not finish within the head deadline).
        """
        gate = proxy_gate(self.options.proxy_protocol, self.options.proxy_allow, remote)
        tls = transport.tls
        data = b""
        while gate is not None or (tls is not None and not tls.established):
            if not data:
                ready = wait.readable(deadline - time.monotonic())
                if ready is None:  # a stop: this connection gets a short grace
                    deadline = min(deadline, time.monotonic() + _FRESH_GRACE)
                    continue
                if not ready:
                    self.logger.debug("connection from %s: nothing usable in time", remote)
                    return None
                try:
                    data = client.recv(_RECV)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return None
            try:
                if gate is not None:
                    opened = gate.feed(data)
                    data = b""
                    if opened is None:
                        continue
                    gate = None
                    remote = client_of(opened.header, remote)
                    data = opened.rest
                    if tls is None:
                        return remote, data
                    continue
                assert tls is not None
                if not data:
                    return None
                plain, ended = tls.receive(data)
                data = b""
                pending = tls.outgoing()
                if pending:
                    transport.send_raw(pending)
                if ended:
                    return None
                if tls.established:
                    return remote, plain
            except ProxyRefused as exc:
                self.logger.debug("connection from %s closed: %s", remote, exc)
                return None
            except ssl.SSLError as exc:
                self.logger.debug("TLS handshake with %s failed: %s", remote, exc)
                try:
                    pending = tls.outgoing() if tls is not None else b""
                    if pending:
                        client.send(pending)  # the alert, if the socket takes it now
                except OSError:
                    pass
                return None
            except ClientDisconnected:
                return None
        return remote, data

    def _reject(
        self, client: socket.socket, exc: ProtocolError, tls: TLSSession | None = None
    ) -> None:
        self.logger.debug("rejected request (%d): %s", exc.status, exc)
        try:
            data = self.handler.error_bytes(exc.status)
            if tls is not None:
                data = tls.encrypt(data)
            client.setblocking(True)
            client.settimeout(self.options.write_timeout)
            client.sendall(data)
        except OSError:
            return
        linger_close(client)


def _has_input(sock: socket.socket) -> bool:
    """Whether bytes wait in ``sock`` (or it was reset), without reading them."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False  # reset or closed: nothing to read, nothing to protect


def linger_close(sock: socket.socket, seconds: float = 0.5) -> None:
    """Half-close and discard what the client still sends, briefly.

    Closing a socket with unread input makes the kernel send a reset, which can
    destroy the error response we just wrote before the client reads it
    (e.g. after rejecting a request that had more pipelined behind it).
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sock.recv(_RECV):
            pass
    except OSError:
        pass
