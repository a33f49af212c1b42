"""Clients that hold the server's resources: non-reading clients, bodies held open, a
full spool directory. Each costs bounded memory or disk, never the app threads."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ..rawhttp import RawClient
from ..support import children, wait_for
from .probes import (
    Probes,
    closed_by_server,
    idle_clients,
    non_reading_client,
    open_fds,
    rss_kib,
    stall_every_worker,
)

BIG = 16 << 20


def test_non_reading_clients_of_a_large_response_do_not_hold_the_app_threads(prefork):
    """Defaults (-w 2, one app thread each): clients ask for 16 MiB and read nothing
    past the head, two (at least) on each worker. Their responses spill to disk; normal
    probes are all answered (they used to wait for the 30 s write timeout)."""
    server = prefork()
    stalled = stall_every_worker(server.port, f"/big?{BIG}", workers=2)
    try:
        with Probes(server, interval=0.1, timeout=2.0) as probes:
            time.sleep(3.0)
        assert probes.failures == [], probes.summary()
        assert probes.answered >= 20
        print(f"\nnon-reading clients: {len(stalled)} stalled; probes {probes.summary()}")
    finally:
        for sock in stalled:
            sock.close()


def test_non_reading_clients_past_the_spool_limit_do_not_hold_the_app_threads(prefork):
    """The same, with responses larger than --response-spool-limit (2 MiB here, 64 MiB by
    default): the app threads wait for their silent clients at the cap, but give them up
    after a second without progress once probes wait for a thread. Before, each was held
    for write_timeout (30 s): none of the probes was answered in time."""
    server = prefork(response_spool_limit=2 << 20)
    stalled = stall_every_worker(server.port, f"/big?{BIG}", workers=2)
    try:
        with Probes(server, interval=0.1, timeout=5.0) as probes:
            time.sleep(3.0)
        assert probes.failures == [], probes.summary()
        assert probes.answered >= 20
        print(f"\npast the spool limit: {len(stalled)} stalled; probes {probes.summary()}")
    finally:
        for sock in stalled:
            sock.close()


def test_a_client_that_stops_reading_is_closed_after_write_timeout(prefork):
    server = prefork(workers=1, write_timeout=1)
    sock = non_reading_client(server.port, f"/big?{BIG}")
    time.sleep(2.0)  # nothing read for longer than write_timeout
    assert closed_by_server(sock, timeout=10.0)
    assert server.get("/").status == 200


def _hold_bodies(port: int, count: int, size: int) -> list[socket.socket]:
    """``count`` connections, each sending a ``size``-byte body but its last byte."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(f"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode())
        held.append(sock)
    chunk = b"b" * (size - 1)
    for sock in held:
        sock.sendall(chunk)
    return held


def test_bodies_held_open_cost_bounded_memory_per_worker(prefork):
    """300 connections each hold a 1 MB body open (one byte short). Before, two workers
    grew from 21 MB to 204 and 153 MB RSS; now past --buffer-memory (32 MiB by default)
    the bodies spool."""
    budget = 32 << 20
    server = prefork(body_timeout=60)
    workers = sorted(children(server.process.pid))
    before = {pid: rss_kib(pid) for pid in workers}
    held = _hold_bodies(server.port, 300, 1_000_000)
    try:
        with Probes(server, interval=0.1, timeout=5.0) as probes:
            time.sleep(1.0)
            during = {pid: rss_kib(pid) for pid in workers}
        assert probes.failures == [], probes.summary()
        for pid in workers:  # the budget, plus the interpreter and one chunk per read
            assert during[pid] - before[pid] < (budget >> 10) + 48 * 1024, (before, during)
        for sock in held:
            sock.sendall(b"b")
        for sock in held:
            with RawClient(sock=sock, timeout=30) as client:
                response = client.read_response()
            assert response.status == 200 and response.body == b"1000000"
        print(f"\n300 bodies of 1 MB held: RSS KiB before {before}, during {during}")
    finally:
        for sock in held:
            sock.close()


def _expect_continue(port: int, size: int) -> tuple[int, dict[str, str]]:
    """The interim or final answer to a body announced with ``Expect: 100-continue``."""
    with RawClient(port, timeout=10) as client:
        client.send(f"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n".encode())
        client.send(b"Expect: 100-continue\r\n\r\n")
        return client.read_head()


def test_a_spool_budget_answers_503_with_retry_after(prefork, tmp_path):
    server = prefork(spool_dir=str(tmp_path), spool_budget=4 << 20, workers=1)
    held = _hold_bodies(server.port, 2, 1_500_000)  # 3 MB of a 4 MiB spool
    try:
        # Refused before the client sends it: a body the spool has no room for now...
        wait_for(lambda: _expect_continue(server.port, 1_500_000)[0] == 503, "spool full")
        status, headers = _expect_continue(server.port, 1_500_000)
        assert status == 503 and headers["retry-after"] == "5"
        # ...or ever.
        assert _expect_continue(server.port, 8_000_000)[0] == 413
        assert _expect_continue(server.port, 500_000)[0] == 100  # this one fits
        assert server.get("/").status == 200
        for sock in held:
            sock.sendall(b"b")
            with RawClient(sock=sock, timeout=10) as client:
                assert client.read_response().body == b"1500000"
    finally:
        for sock in held:
            sock.close()
    assert _expect_continue(server.port, 1_500_000)[0] == 100  # room again


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A 2 MiB tmpfs to fill. It needs mount(2): root, and a container that lets root
    mount (an unprivileged one does not). Without it the test is skipped with the reason;
    ``test_a_full_disk_is_507_not_silence`` in tests/server/test_threaded.py covers
    the 507 path with /dev/full, without root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the 507 path is covered with /dev/full")
    mount = tmp_path / "spool"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except OSError as exc:  # no mount(8) at all
        pytest.skip(f"cannot mount a tmpfs ({exc}); the 507 path is covered with /dev/full")
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        pytest.skip(f"cannot mount a tmpfs ({reason}); the 507 path is covered with /dev/full")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_in_the_spool_dir_is_507_and_the_server_goes_on(prefork, small_tmpfs):
    server = prefork(spool_dir=str(small_tmpfs), workers=1)
    with RawClient(server.port, timeout=10) as client:
        client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n")
        try:
            client.send(b"x" * 3_000_000)
        except OSError:
            pass  # refused mid-way: the rest may not be taken
        status, headers = client.read_head()
    assert status == 507 and "retry-after" in headers
    assert "cannot write to the spool directory" in server.log_text()
    wait_for(lambda: os.statvfs(small_tmpfs).f_bfree == os.statvfs(small_tmpfs).f_blocks)
    with RawClient(server.port, timeout=10) as client:  # room again: a 1 MB body is taken
        client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1500000\r\n\r\n")
        client.send(b"y" * 1_500_000)
        assert client.read_response().body == b"1500000"


def test_file_descriptor_exhaustion_is_survived(prefork):
    """The worker runs out of file descriptors (EMFILE) under a flood of idle
    connections: it pauses accepting, keeps serving the connection it has, and serves
    new ones once the flood is gone."""
    import resource

    server = prefork(workers=1, keepalive=30, header_timeout=2)
    (worker,) = children(server.process.pid)
    with RawClient(server.port, timeout=10) as kept:
        assert kept.get("/").status == 200  # a keep-alive connection, held
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (open_fds(worker) + 10, 4096))
        flood = idle_clients(server.port, 60)
        try:
            wait_for(lambda: "accept() failed" in server.log_text(), "EMFILE hit", 10)
            assert kept.get("/").status == 200  # what it holds is still served
        finally:
            for sock in flood:
                sock.close()
        # The idle ones are closed at header_timeout; accepting resumes.
        wait_for(lambda: b"ok" in (_try_get(server) or b""), "served again", 15)
        assert kept.get("/").status == 200


def _try_get(server) -> bytes | None:
    try:
        return server.get("/", timeout=2).body
    except OSError:
        return None
