"""The threaded worker: one selector loop owns every connection, app threads only run apps.

The loop (the thread that calls :meth:`ThreadedServer.serve_forever`) accepts
connections, reads request heads and bodies into a :class:`SpoolBuffer`
(memory up to ``spool_threshold``, then a temporary file), and holds idle
keep-alive connections. Only a complete request (head and whole body) is
queued for one of ``threads`` app threads, so idle, slow or hostile clients
cost a buffer and a file descriptor, never an app thread (Waitress's
channel/task split).

With one app thread and ``options.app_in_loop`` (a supervised worker process) the
loop runs the app itself, in its own thread, once the request is complete: no
handoff per request. A writer that must wait then sends itself (see
:class:`OutputBuffer`), the heartbeat beats on each write, and "others wait" means
any connection or listener with something to read (:meth:`ThreadedServer._inline_crowded`).

Responses go out through an :class:`OutputBuffer` per connection: the app
thread sends directly while the socket takes the bytes, queues the rest, and
the loop flushes the queue with non-blocking sends. Past 512 KiB in memory the
queue spills to a temporary file (up to ``response_spool_limit``), so an app
thread answering a client that reads slowly or not at all is free once the
response is written; the loop closes a client that takes nothing for
``write_timeout``. Only past the spool limit does the app thread wait for the
client: at most ``write_timeout`` without progress, and at most one second
without progress while other requests wait for an app thread (then the client
is closed and the app gets ``ClientDisconnected``): a client that reads
nothing of a response larger than the spool limit costs its app thread a
second at most, not ``write_timeout``, when others need it.

Memory and disk are bounded per worker, not only per connection: one
:class:`Budget` counts the bytes of bodies and responses every connection holds
in memory (``buffer_memory``; past it they spool sooner) and in the spool
directory (``spool_dir``, ``spool_budget``). A request body the spool cannot
hold is refused: 413 if it never could (its Content-Length exceeds the whole
budget), 503 with ``Retry-After`` if it cannot now (checked from the
Content-Length before reading, and again as bytes arrive, which covers chunked
bodies), 507 if the spool's file system is full.

Backpressure:

- ``worker_connections`` is the most connections held at once; at the limit
  the listeners are unregistered, so new connections wait in the listen backlog.
- When every app thread is busy and the run queue is full (``threads`` complete
  requests, at least 64: what one wake-up of the loop brings is taken whole),
  a connection that starts sending a new request is not read (its reads are
  unregistered) until a thread frees up. Those queued requests wait in the app
  threads' own queue, handed over as soon as they are read: a thread that
  finishes a request takes the next at once, instead of waiting for the loop to
  wake up, see the finished one and hand it over (a 10 ms app with 4 threads
  lost 0.5-1 ms per request to that round trip).

``Expect: 100-continue`` (RFC 9110 section 10.1.1): the loop sends
``100 Continue`` itself when it starts waiting for the body, and only after the
head passed every check a server can make without the application: limits and
framing (a Content-Length over ``limit_request_body`` is 413) and the spool
budget (413 or 503 as above). So an upload the worker could not store is
refused before the client sends it. The application itself does not get to
refuse it first: that would mean running the app on the head and streaming the
body to it as it arrives, so any client sending ``Expect: 100-continue`` and
then trickling its body could hold an app thread for as long as it likes; with
the default single app thread, two such clients would stop a two-worker
server, the very failure this worker exists to prevent. An application that
must decide on an upload before it is stored (authentication, quotas) can run
the sync worker, which answers ``100 Continue`` when the app first reads the
body, behind a buffering proxy.

Timeouts: a request head must complete within ``header_timeout`` of its first
byte (of the accept, for a new connection) or is answered 408; a connection
that sent nothing is closed quietly at that deadline, an idle keep-alive
connection after ``keepalive`` seconds; a body that stalls for
``body_timeout`` is answered 408. Every error response is followed by a
lingering close so that the client reads it rather than a reset.

A graceful :meth:`~ThreadedServer.stop` stops accepting and answers, with
``Connection: close``, every request already received (the ones read, the ones
waiting their turn in their sockets while the app threads were busy, and the
connections waiting in the listen backlog, accepted once, at the stop, even
past ``worker_connections``: see :meth:`WorkerLoop._accept_backlog`) and every
request that comes on an open connection within the loop's ``drain_window``:
a keep-alive client was told it may send another request and may be sending
it as the stop begins, so a connection between requests is closed only once
it has been quiet for that window (and a request found in its socket then is
still read), with a lingering close. That may take a while (50 requests queued behind
one app thread), so the bound is ``graceful_timeout``, the time the supervisor
gives a stopping worker, not ``header_timeout``. A connection in the middle of
a request keeps its own deadlines. A fast stop closes every connection at once
and waits for no app thread.
"""

from __future__ import annotations

import collections
import enum
import errno
import functools
import selectors
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ..http import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    Data,
    HTTPConnection,
    ProtocolError,
    Request,
)
from ..wsgi import BodySource
from .admission import Admission
from .app_threads import AppThreads
from .buffers import Budget, BudgetExceeded, OutputBuffer, SpoolBuffer
from .loop import WorkerLoop
from .proxied import Peer, ProxyGate, ProxyRefused, client_of, proxy_gate
from .request import peer_address
from .tls import TLSSession

__all__ = ["ThreadedServer", "BufferedTransport"]

_RECV = 65536
_OUTPUT_LIMIT = 512 * 1024  # response bytes kept in memory per connection before spilling
_RETRY_AFTER = 5  # seconds, in a 503/507 for a body the spool has no room for
# Connections accepted per readable event of a listener. One: the workers of a master
# share the listener and all wake for it, so a burst of connections (wrk, a proxy's
# upstream keep-alive pool) is spread over them instead of going whole to the first
# to wake, where keep-alive would keep it.
_ACCEPT_BATCH = 1
_READ_AHEAD = 64  # complete requests the loop reads ahead of its app threads (at least)
_SWEEP = 0.1  # seconds between timeout checks
_HEARTBEAT = 0.5  # seconds between monitor.notify() calls
_LINGER = 0.5  # seconds an error response is given before the socket closes
_STOP_JOIN = 1.0  # seconds a fast stop waits for app threads
_FRESH_GRACE = 1.0  # seconds a never-used connection gets to send its request at a stop


class _EmptyBody:
    """The body source of a request without a body (shared: it holds no state)."""

    def read_chunk(self, size: int) -> bytes:
        return b""


_NO_BODY = _EmptyBody()


def _has_input(sock: socket.socket) -> bool:
    """Whether bytes (a request on its way) wait in ``sock``, without reading them."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True  # a reset: let the read that follows find out


class _Phase(enum.Enum):
    PROXY = "proxy"  # reading the PROXY protocol header
    HANDSHAKE = "handshake"  # TLS handshake
    HEAD = "head"  # reading a request head (or idle between requests)
    BODY = "body"  # reading a request body
    READY = "ready"  # complete request, waiting for an app thread
    RUNNING = "running"  # an app thread is answering
    FLUSH = "flush"  # the app finished; the loop flushes what is left
    CLOSING = "closing"  # flushing an error response
    LINGER = "linger"  # error response sent; discarding input until EOF or deadline


_OPENING = (_Phase.PROXY, _Phase.HANDSHAKE)  # before the first request can be read
_READING = frozenset((*_OPENING, _Phase.HEAD, _Phase.BODY, _Phase.LINGER))


class BufferedTransport:
    """The app thread's :class:`~wsgikit.wsgi.Transport`: writes into an :class:`OutputBuffer`.

    ``progress`` is told after each write and while a write waits for the
    client (see :meth:`RequestHandler.touch`); ``crowded`` says whether other
    requests wait for an app thread (a write waiting for a client that takes
    nothing then gives up sooner: see :meth:`OutputBuffer.write`).
    """

    def __init__(
        self,
        out: OutputBuffer,
        timeout: float,
        progress: Callable[[], None],
        crowded: Callable[[], bool] | None = None,
    ) -> None:
        self.out = out
        self.timeout = timeout
        self.progress = progress
        self.crowded = crowded

    def send(self, data: bytes) -> None:
        if data:
            self.out.write(data, self.timeout, self.progress, self.crowded)
            self.progress()

    def sendfile(self, fd: int, offset: int, count: int) -> bool:
        return self.out.sendfile(fd, offset, count, self.timeout, self.progress, self.crowded)


class _Connection:
    """Loop-side state of one client connection."""

    __slots__ = (
        "sock",
        "fd",
        "http",
        "base",
        "remote",
        "peer",
        "gate",
        "tls",
        "phase",
        "deadline",
        "head_started",
        "paused",
        "admitted",
        "served",
        "closed",
        "events",
        "muted",
        "request",
        "spool",
        "body",
        "keep",
        "out",
        "transport",
        "held",
    )

    def __init__(
        self,
        sock: socket.socket,
        http: HTTPConnection,
        base: dict[str, Any],
        remote: tuple[str, int] | None,
        out: OutputBuffer,
        transport: BufferedTransport,
        peer: Peer,
        gate: ProxyGate | None = None,
        tls: TLSSession | None = None,
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.http = http
        self.base = base
        self.remote = remote  # the socket's peer
        self.peer = peer  # the client (a PROXY header may name another) and its trust
        self.gate = gate
        self.tls = tls
        if gate is not None:
            self.phase = _Phase.PROXY
        elif tls is not None:
            self.phase = _Phase.HANDSHAKE
        else:
            self.phase = _Phase.HEAD
        self.deadline = 0.0
        self.head_started = True  # a new connection's head deadline runs from the accept
        self.paused = False
        self.admitted = False  # resumed from the paused queue: may read once ahead of it
        self.served = 0  # responses sent on this connection
        self.closed = False
        self.events = 0  # what the selector watches for
        self.muted = False  # a read event came while not reading: reads unregistered
        self.request: Request | None = None
        self.spool: SpoolBuffer | None = None
        self.body: BodySource | None = None
        self.keep = False
        self.out = out
        self.transport = transport
        self.held = 0  # received bytes not parsed yet, counted in the worker's budget


class ThreadedServer(WorkerLoop):
    """Serves listening sockets from one selector loop and a pool of app threads."""

    def _setup(self) -> None:
        self.threads = max(1, self.options.threads)
        # One app thread, in a supervised worker: the loop's thread runs the app.
        self._inline = self.threads == 1 and self.options.app_in_loop
        self._next_inline_beat = 0.0
        self._running_here: _Connection | None = None  # whose app the loop runs now
        self.max_connections = max(1, self.options.worker_connections)
        # Complete requests waiting for a thread: what one wake-up of the loop brings
        # is taken (up to _READ_AHEAD requests, or one per thread), instead of pausing
        # and resuming all but the few a thread is free for.
        self.max_queued = max(self.threads, _READ_AHEAD)
        # They wait in the pool's queue (hand_ahead): see the module's docstring.
        self._admission: Admission[_Connection] = Admission(
            self.threads, self.max_queued, hand_ahead=not self._inline
        )
        # Filled by app threads, drained by the loop (deque appends are atomic).
        self._finished: collections.deque[tuple[_Connection, bool]] = collections.deque()
        # The connections (by fd) whose OutputBuffer asks the loop to flush it. By fd,
        # not by connection: the buffer's callback would otherwise hold its own
        # connection, a reference cycle that made every closed connection wait for
        # the cyclic garbage collector (about 10 us per connection in its runs).
        self._want_write: collections.deque[int] = collections.deque()
        # Loop-only state.
        self._lined: list[_Connection] = []  # put in line since the loop last slept
        self._selector: selectors.BaseSelector | None = None
        self._pool: AppThreads[_Connection] | None = None
        self._conns: dict[int, _Connection] = {}
        self._accepting = False
        self._accept_retry_at = 0.0
        self._stop_handled = False
        self._stop_cutoff = 0.0
        self._sleeping = False  # the loop is (about to be) blocked in select()
        options = self.options
        #: What this worker holds for its clients, all connections together.
        self.budget = Budget(options.buffer_memory, options.spool_budget, options.spool_dir)
        self._spool_failing = False  # a spool write failed; logged once until one works

    # ------------------------------------------------------------ control

    def multithreaded(self) -> bool:
        # One app thread never runs the app twice at once (PEP 3333's meaning).
        return self.options.threads > 1

    @property
    def connection_count(self) -> int:
        """How many client connections the loop holds now (at most ``worker_connections``)."""
        return len(self._conns)

    def serve_forever(self) -> None:
        """Run the loop until :meth:`stop`; returns once drained (or at once, fast stop)."""
        selector = selectors.DefaultSelector()
        self._selector = selector
        pool = None if self._inline else AppThreads(self.threads, self._run_app, self.logger)
        self._pool = pool
        if pool is not None:
            pool.start()
        selector.register(self._waker.fileno(), selectors.EVENT_READ, None)
        for sock in self.listeners:
            sock.setblocking(False)
        self._start_accepting()
        next_sweep = next_beat = time.monotonic()
        try:
            while True:
                if self._stopping and not self._stop_handled:
                    self._begin_stop()
                if self._stop_handled and (
                    not self._graceful or (not self._conns and self._admission.idle)
                ):
                    break
                now = time.monotonic()
                if now >= next_beat:
                    self.monitor.notify()
                    next_beat = now + _HEARTBEAT
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + _SWEEP
                wake_at = min(next_beat, next_sweep) if self._conns else next_beat
                timeout = max(0.0, wake_at - time.monotonic())
                # App threads wake the loop only while it sleeps (see _wake_loop):
                # announce the sleep first, then look at their queues once more.
                self._sleeping = True
                if self._finished or self._want_write:
                    timeout = 0.0
                events = selector.select(timeout)
                self._sleeping = False
                for key, mask in events:
                    self._on_event(key, mask)
                self._after_events()
        finally:
            self._stop_handled = True  # nothing re-registers the listeners from here on
            graceful = self._graceful
            for conn in list(self._conns.values()):
                self._close(conn)
            self._admission.clear()
            self._stop_accepting()
            selector.close()
            self._selector = None
            if pool is not None:
                pool.shutdown(None if graceful else _STOP_JOIN)
            self._waker.close()

    # --------------------------------------------------------- loop steps

    def _on_event(self, key: selectors.SelectorKey, mask: int) -> None:
        data = key.data
        if data is None:
            self._waker.drain()
        elif isinstance(data, _Connection):
            if data.closed:
                return
            try:
                if mask & selectors.EVENT_WRITE:
                    self._flush(data)
                if mask & selectors.EVENT_READ and not data.closed:
                    self._on_readable(data)
            except Exception:
                self.logger.exception(
                    "unexpected error on the connection from %s; closing it", data.peer.remote
                )
                self._close(data)
        else:
            self._accept(data)

    def _after_events(self) -> None:
        """Handle what app threads reported: buffers to flush, responses finished."""
        while self._want_write:
            # A connection closed meanwhile is gone from _conns, or its fd now
            # belongs to a new one, for which an _update is merely redundant.
            conn = self._conns.get(self._want_write.popleft())
            if conn is not None:
                self._update(conn)
        self._take_finished()
        self._dispatch()
        self._resume_paused()
        self._mute_lined()

    def _mute_lined(self) -> None:
        """Stop watching the connections put in line since the last sleep that are
        still waiting (level-triggered, their readiness would wake the loop at once)."""
        lined = self._lined
        while lined:
            conn = lined.pop()
            if conn.paused:
                self._update(conn)

    def _sweep(self, now: float) -> None:
        """Apply the deadlines; retry accepting after an accept() error."""
        if not self._accepting and self._accept_retry_at and now >= self._accept_retry_at:
            self._accept_retry_at = 0.0
            self._maybe_resume_accepting()
        stopping = self._stop_handled
        for conn in list(self._conns.values()):
            phase = conn.phase
            if conn.paused and conn.http.buffered_head and now >= conn.deadline:
                # Part of a head came, then the rest took too long, whether or not
                # the worker was busy meanwhile (slowloris must not hide in line).
                self._admission.leave_line(conn)
                self._reject(conn, 408, "request head timed out")
                continue
            if phase in (_Phase.READY, _Phase.RUNNING) or conn.paused:
                if stopping and conn.paused and now >= self._stop_cutoff:
                    self._close(conn)
                continue
            if (
                stopping
                and phase in _OPENING + (_Phase.HEAD, _Phase.BODY)
                and now >= self._stop_cutoff
            ):
                self._close(conn)
            elif now < conn.deadline:
                continue
            elif phase is _Phase.PROXY or phase is _Phase.HANDSHAKE:
                self.logger.debug(
                    "connection from %s closed: no %s in time",
                    conn.remote,
                    "PROXY header" if phase is _Phase.PROXY else "TLS handshake",
                )
                self._close(conn)
            elif phase is _Phase.HEAD:
                if conn.http.buffered_head:
                    self._reject(conn, 408, "request head timed out")
                elif conn.served and _has_input(conn.sock):
                    # Quiet until now, but a request just came: it is read (the
                    # selector reports it) and gets the head deadline.
                    conn.head_started = True
                    conn.deadline = now + self.options.header_timeout
                else:
                    self._idle_close(conn)
            elif phase is _Phase.BODY:
                self._reject(conn, 408, "request body timed out")
            else:  # FLUSH, CLOSING, LINGER: the client stopped reading or never closes
                self._close(conn)

    def _begin_stop(self) -> None:
        self._stop_handled = True
        self._stop_accepting()
        if not self._graceful:
            return  # the loop exits and closes everything
        # Connections waiting in the listen backlog were received too: take them
        # (past worker_connections if need be: the backlog is about to go) and
        # answer them with the rest. They are read in turn, as admission allows.
        for sock, addr, listener in self._accept_backlog():
            self._add_connection(sock, addr, listener)
        now = time.monotonic()
        # Requests already received (read, or waiting in line in their sockets) are
        # answered for as long as the supervisor waits for a stopping worker.
        self._stop_cutoff = now + self.options.graceful_timeout
        # A connection between requests (idle keep-alive, or accepted a moment ago)
        # may have a request on its way: closing now would reset it. It gets the
        # drain window; what comes meanwhile is answered with Connection: close.
        # (One that never asked anything gets a shorter grace for its first request.)
        for conn in list(self._conns.values()):
            if conn.phase in _OPENING or (
                conn.phase is _Phase.HEAD and not conn.paused and not conn.http.buffered_head
            ):
                grace = self.drain_window if conn.served else _FRESH_GRACE
                conn.deadline = min(conn.deadline, now + grace)

    # ---------------------------------------------------------- accepting

    def _start_accepting(self) -> None:
        assert self._selector is not None
        if self._accepting or self._stop_handled:
            return
        for sock in self.listeners:
            self._selector.register(sock, selectors.EVENT_READ, sock)
        self._accepting = True

    def _stop_accepting(self) -> None:
        if not self._accepting or self._selector is None:
            return
        for sock in self.listeners:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
        self._accepting = False

    def _maybe_resume_accepting(self) -> None:
        if (
            not self._accepting
            and not self._stop_handled
            and not self._accept_retry_at
            and len(self._conns) < self.max_connections
        ):
            self._start_accepting()

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            if len(self._conns) >= self.max_connections:
                break
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                break  # nothing left, or another worker took it
            except OSError as exc:
                # Typically EMFILE: stop accepting for a moment instead of spinning.
                self.logger.error("accept() failed on %s: %s", listener.getsockname(), exc)
                self._stop_accepting()
                self._accept_retry_at = time.monotonic() + 0.5
                return
            self._add_connection(sock, addr, listener)
        if len(self._conns) >= self.max_connections:
            self._stop_accepting()

    def _add_connection(self, sock: socket.socket, addr: Any, listener: socket.socket) -> None:
        remote = peer_address(addr)  # None for a unix socket peer
        try:
            sock.setblocking(False)
            if remote is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            return
        options = self.options
        tls = TLSSession(options.ssl_context) if options.ssl_context is not None else None
        out = OutputBuffer(
            sock,
            _OUTPUT_LIMIT,
            functools.partial(self._on_pending, sock.fileno()),
            tls.encrypt if tls else None,
            budget=self.budget,
            spool_limit=options.response_spool_limit,
            on_spill_error=self._spill_failed,
            self_flushing=self._inline,
        )
        handler = self.handler
        gate = proxy_gate(options.proxy_protocol, options.proxy_allow, remote)
        conn = _Connection(
            sock,
            handler.new_connection(),
            handler.base_environ(listener),
            remote,
            out,
            BufferedTransport(
                out,
                options.write_timeout,
                self._inline_progress if self._inline else handler.touch,
                self._inline_crowded if self._inline else self._crowded,
            ),
            handler.peer(remote),
            gate,
            tls,
        )
        conn.deadline = time.monotonic() + self.options.header_timeout
        self._conns[conn.fd] = conn
        self._update(conn)

    # ------------------------------------------------------------ reading

    def _on_readable(self, conn: _Connection) -> None:
        if conn.phase not in _READING:
            # Bytes (or an EOF) came while the request runs: stop watching for them
            # until the connection reads again (see _update), or the loop would spin.
            conn.muted = True
            self._update(conn)
            return
        if conn.phase is _Phase.HEAD and self._admission.must_wait(conn):
            # Every app thread is busy and the queue is full (or others already
            # wait their turn): leave this request in the socket, in line. Its read
            # registration goes only if it is still in line when the loop sleeps
            # (_mute_lined): when the app runs in the loop, the line moves first.
            self._admission.wait(conn)
            self._lined.append(conn)
            return
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # a reset counts as the end of input
        if conn.phase is _Phase.LINGER:
            if not data:
                self._close(conn)
            return
        if conn.gate is not None or conn.tls is not None:
            self._receive_wrapped(conn, data)
        else:
            conn.http.receive_data(data)
            self._advance(conn)
        self._hold_input(conn)

    def _receive_wrapped(self, conn: _Connection, data: bytes) -> None:
        """Bytes read from a connection behind a PROXY header and/or inside TLS."""
        if conn.gate is not None:
            try:
                opened = conn.gate.feed(data)
            except ProxyRefused as exc:
                self.logger.debug("connection from %s closed: %s", conn.remote, exc)
                self._close(conn)
                return
            if opened is None:
                return
            conn.gate = None
            conn.peer = self.handler.peer(client_of(opened.header, conn.remote))
            conn.phase = _Phase.HANDSHAKE if conn.tls is not None else _Phase.HEAD
            data = opened.rest
            if not data:
                return
            if conn.tls is None:
                conn.http.receive_data(data)
                self._advance(conn)
                return
        tls = conn.tls
        assert tls is not None
        try:
            plain, ended = tls.receive(data)
        except ssl.SSLError as exc:
            what = "TLS handshake" if conn.phase is _Phase.HANDSHAKE else "TLS"
            self.logger.debug("%s with %s failed: %s", what, conn.remote, exc)
            conn.out.append_raw(tls.outgoing())  # the alert, if the socket takes it now
            conn.out.flush()
            self._close(conn)
            return
        pending = tls.outgoing()
        if pending:
            conn.out.append_raw(pending)
            self._flush(conn)
            if conn.closed:
                return
        if conn.phase is _Phase.HANDSHAKE:
            if ended:
                self._close(conn)
                return
            if not tls.established:
                return
            conn.phase = _Phase.HEAD
        if plain:
            conn.http.receive_data(plain)
        if ended:
            conn.http.receive_data(b"")
        if plain or ended:
            self._advance(conn)

    def _advance(self, conn: _Connection) -> None:
        """Pull events from the connection's parser until it needs more bytes."""
        http = conn.http
        while conn.phase in (_Phase.HEAD, _Phase.BODY):
            try:
                event = http.next_event()
            except ProtocolError as exc:
                self._reject(conn, exc.status, str(exc))
                return
            if event is NEED_DATA:
                # An admission lets a connection read what it has; a partial
                # message (a slow client) gives the turn back instead of holding
                # room that complete requests from others could use.
                self._admission.used(conn)
                if conn.phase is _Phase.HEAD:
                    if http.buffered_head and not conn.head_started:
                        conn.head_started = True
                        conn.deadline = time.monotonic() + self.options.header_timeout
                else:
                    interim = http.send_continue()
                    if interim:
                        conn.out.append(interim)
                        self._flush(conn)
                return
            if type(event) is Data:
                if conn.spool is None:
                    conn.spool = SpoolBuffer(self.options.spool_threshold, self.budget)
                if not self._store(conn, event.data):
                    return
                conn.deadline = time.monotonic() + self.options.body_timeout
            elif event is END_OF_MESSAGE:
                conn.body = _NO_BODY if conn.spool is None else conn.spool.source()
                self._admission.used(conn)
                conn.phase = _Phase.READY
                self._update(conn)
                self._admission.queue(conn)
                return
            elif isinstance(event, Request):
                conn.request = event
                if not self._body_fits(conn, event):
                    return
                conn.phase = _Phase.BODY
                conn.deadline = time.monotonic() + self.options.body_timeout
            elif event is CONNECTION_CLOSED:
                self._close(conn)
                return
            else:  # pragma: no cover - PAUSED cannot happen while reading
                return

    def _hold_input(self, conn: _Connection) -> None:
        """Count what ``conn`` holds unparsed in the worker's memory budget; past the
        budget, refuse the largest partial heads (see :meth:`_shed_heads`)."""
        held = 0 if conn.closed else conn.http.buffered_bytes
        grew = held > conn.held
        if held != conn.held:
            self.budget.hold_input(held - conn.held)
            conn.held = held
        if grew and self.budget.input_excess() > 0:
            self._shed_heads()

    def _shed_heads(self) -> None:
        """Unfinished request heads fill the worker's memory budget: answer the largest
        503 with ``Retry-After`` (and drop their bytes) until it is kept again. A head
        that arrives whole is parsed at once and never held, so normal requests go on."""
        heads = [c for c in self._conns.values() if c.phase is _Phase.HEAD and c.held]
        heads.sort(key=lambda c: c.held, reverse=True)
        for conn in heads:
            if self.budget.input_excess() <= 0:
                return
            self._admission.leave_line(conn)
            self._reject(conn, 503, "request heads exceed the worker's buffer memory", retry=True)

    def _body_fits(self, conn: _Connection, request: Request) -> bool:
        """Refuse, before reading it (and before any ``100 Continue``), a declared body
        that must go to disk and that the spool budget cannot hold: 413 if it never
        could, 503 with ``Retry-After`` if it cannot now."""
        length = request.content_length
        budget = self.budget
        if (
            not length
            or length <= self.options.spool_threshold
            and length <= max(0, budget.memory - budget.memory_used)
        ):
            return True
        if length > budget.disk:
            self._reject(conn, 413, f"body of {length} bytes > spool budget of {budget.disk}")
            return False
        if length > budget.disk_free:
            self._reject(conn, 503, f"body of {length} bytes: spool budget spent", retry=True)
            return False
        return True

    def _store(self, conn: _Connection, data: bytes) -> bool:
        """Add body bytes to the connection's spool; answer 503/507 if they do not fit."""
        assert conn.spool is not None
        try:
            conn.spool.write(data)
        except BudgetExceeded as exc:
            self._reject(conn, 503, str(exc), retry=True)
            return False
        except OSError as exc:
            # A full disk (or quota) is 507 Insufficient Storage; anything else that
            # keeps us from storing the body is the server's trouble for now: 503.
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            self._spill_failed(exc)
            self._reject(conn, 507 if full else 503, f"cannot spool the body: {exc}", retry=True)
            return False
        if self._spool_failing and conn.spool.spooled:
            self._spool_failing = False
            self.logger.info("spooling request bodies works again")
        return True

    def _spill_failed(self, exc: OSError) -> None:
        """A spool file could not be written (from the loop or an app thread): log once."""
        if not self._spool_failing:
            self._spool_failing = True
            where = self.options.spool_dir or tempfile.gettempdir()
            self.logger.error("cannot write to the spool directory %s: %s", where, exc)

    # ------------------------------------------------------- app threads

    def _dispatch(self) -> None:
        pool = self._pool
        while (conn := self._admission.next_to_run()) is not None:
            conn.phase = _Phase.RUNNING
            if pool is not None:
                pool.submit(conn)
                continue
            # One app thread: run the app here, in the loop's thread. A handoff to a
            # thread of its own (a queue, a wake-up, two GIL switches) cost about a
            # quarter of a small request's CPU, and bought nothing: the request is
            # complete (slow clients were read by the loop), and with one thread the
            # next request waits for this one either way. The loop's other duties
            # wait too, within bounds: the heartbeat beats on each write
            # (_inline_progress), a writer that must wait sends itself
            # (OutputBuffer's self_flushing), and deadlines are applied after.
            self._running_here = conn
            try:
                self._run_app(conn)
            finally:
                self._running_here = None
            self._take_finished()

    def _take_finished(self) -> None:
        """Handle the responses the app threads finished."""
        while self._finished:
            conn, keep = self._finished.popleft()
            self._admission.finished()
            if not conn.closed:
                self._on_response_done(conn, keep)

    def _inline_progress(self) -> None:
        """The app (run in the loop's thread) wrote: the request and the loop are alive."""
        self.handler.touch()
        now = time.monotonic()
        if now >= self._next_inline_beat:
            self._next_inline_beat = now + _HEARTBEAT
            self.monitor.notify()

    def _inline_crowded(self) -> bool:
        """The app (run in the loop's thread) waits for its client: do others want it?

        The loop cannot read while the app runs, so a connection or listener with
        something to read counts, besides the requests already waiting.
        """
        if self._admission.crowded:
            return True
        selector = self._selector
        if selector is None:
            return False
        running = self._running_here
        return any(
            key.data is not None and key.data is not running and mask & selectors.EVENT_READ
            for key, mask in selector.select(0)
        )

    def _resume_paused(self) -> None:
        """Let waiting connections be read again, oldest first, as many as there is room for."""
        now = time.monotonic()
        for conn in self._admission.admit():
            if not conn.http.buffered_head:
                # Its request waited in the socket for our sake: the head deadline
                # starts now. A head partly read already keeps its own deadline.
                conn.head_started = True
                conn.deadline = now + self.options.header_timeout
            self._update(conn)

    def _wake_loop(self) -> None:
        """From an app thread, after queueing work for the loop: wake it if it sleeps.

        The loop sets ``_sleeping`` before it checks the queues and blocks, so
        either it sees the queued item or this sees the flag.
        """
        if self._sleeping:
            self._waker.wake()

    def _on_pending(self, fd: int) -> None:
        """From an app thread, under an OutputBuffer's lock: flush the buffer of ``fd``."""
        self._want_write.append(fd)
        self._wake_loop()

    def _crowded(self) -> bool:
        """From an app thread waiting for its client: do others wait for a thread?"""
        return self._admission.crowded

    def _keep_alive(self) -> bool:
        """Asked when a response head is sent: a stop that began meanwhile closes."""
        return not self._stopping and self.options.keepalive > 0

    def _run_app(self, conn: _Connection) -> None:
        """In an app thread: answer the connection's complete request."""
        keep = False
        try:
            if conn.closed:
                return  # closed while it waited in the pool's queue: nothing to answer
            assert conn.request is not None and conn.body is not None
            chunked = conn.request.chunked  # read whole: its length is known now
            info = self.handler.handle(
                conn.http,
                conn.request,
                conn.base,
                conn.transport,
                conn.body,
                conn.peer,
                self._keep_alive,
                body_length=(conn.spool.size if conn.spool else 0) if chunked else None,
            )
            keep = info.keep_alive and not info.disconnected
        except Exception:
            self.logger.exception("unexpected error answering a request")
        finally:
            if conn.spool is not None:
                conn.spool.close()
            conn.spool = None
            conn.body = None
            self._finished.append((conn, keep))
            self._wake_loop()

    # ------------------------------------------------------------ writing

    def _on_response_done(self, conn: _Connection, keep: bool) -> None:
        conn.served += 1
        conn.phase = _Phase.FLUSH
        # As the response announced: one that said keep-alive before a stop began
        # may see the next request come (it is answered with Connection: close).
        conn.keep = keep
        conn.deadline = time.monotonic() + self.options.write_timeout
        self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        before = len(conn.out)
        drained = conn.out.flush()
        if conn.out.closed:
            self._close(conn)
            return
        if len(conn.out) < before and conn.phase in (_Phase.FLUSH, _Phase.CLOSING):
            conn.deadline = time.monotonic() + self.options.write_timeout
        if drained:
            if conn.phase is _Phase.FLUSH:
                self._next_request(conn)
                return
            if conn.phase is _Phase.CLOSING:
                self._linger(conn)
                return
        self._update(conn)

    def _next_request(self, conn: _Connection) -> None:
        if not (conn.keep and conn.http.start_next_cycle()):
            self._linger(conn)  # a client's pipelined bytes must not reset our answer
            return
        conn.phase = _Phase.HEAD
        conn.request = None
        conn.head_started = False
        idle = self.options.keepalive
        if self._stop_handled:
            idle = min(idle, self.drain_window)
        conn.deadline = time.monotonic() + idle
        self._update(conn)
        self._advance(conn)  # a pipelined request may already be buffered
        self._hold_input(conn)

    def _reject(self, conn: _Connection, status: int, reason: str, retry: bool = False) -> None:
        """Answer an error status, then close (after a linger); ``retry`` adds
        ``Retry-After`` (the server is short of room for now, not the request wrong)."""
        self.logger.debug("rejected request (%d): %s", status, reason)
        conn.http.close()
        self._hold_input(conn)
        if conn.spool is not None:
            conn.spool.close()
            conn.spool = None
        conn.phase = _Phase.CLOSING
        conn.deadline = time.monotonic() + min(self.options.write_timeout, 5.0)
        conn.out.append(self.handler.error_bytes(status, _RETRY_AFTER if retry else None))
        self._flush(conn)

    def _idle_close(self, conn: _Connection) -> None:
        """Close a connection between requests: at once if it never asked anything (a
        client that sends nothing hears nothing), else with a lingering close, so that
        a request crossing our FIN is met with an end of stream, not a reset."""
        if conn.served:
            self._linger(conn)
        else:
            self._close(conn)

    def _linger(self, conn: _Connection) -> None:
        """Half-close, then discard input briefly so the client reads our answer, not a reset."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.phase = _Phase.LINGER
        conn.deadline = time.monotonic() + _LINGER
        self._update(conn)

    # ---------------------------------------------------------- selector

    def _update(self, conn: _Connection) -> None:
        """Register exactly the events this connection's state needs."""
        selector = self._selector
        if selector is None or conn.closed:
            return
        events = 0
        if conn.phase in _READING:
            conn.muted = False
            if not conn.paused:
                events |= selectors.EVENT_READ
        elif conn.events & selectors.EVENT_READ and not conn.muted:
            # Between reads (the request runs, its response is flushed) the read
            # registration stays: a keep-alive client sends nothing until it has
            # the response, so this saves two epoll_ctl calls per request. The
            # first read event meanwhile mutes it (_on_readable).
            events |= selectors.EVENT_READ
        if len(conn.out) and conn.phase is not _Phase.LINGER:
            events |= selectors.EVENT_WRITE
        if events == conn.events:
            return
        if conn.events == 0:
            selector.register(conn.sock, events, conn)
        elif events == 0:
            selector.unregister(conn.sock)
        else:
            selector.modify(conn.sock, events, conn)
        conn.events = events

    def _close(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._admission.used(conn)
        self._hold_input(conn)
        if conn.events and self._selector is not None:
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.events = 0
        self._conns.pop(conn.fd, None)
        conn.out.close()  # an app thread still writing gets ClientDisconnected
        if conn.phase is not _Phase.RUNNING and conn.spool is not None:
            conn.spool.close()
            conn.spool = None
        try:
            conn.sock.close()
        except OSError:
            pass
        self._maybe_resume_accepting()
