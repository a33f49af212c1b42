"""Bind addresses: what parses, what is refused with one clear line."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from wsgikit.binds import Address, BindError, parse_bind
from wsgikit.server.listeners import (
    close_listeners,
    describe,
    open_listener,
    open_listeners,
    owned_unix_paths,
    systemd_sockets,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8000", Address("tcp", host="127.0.0.1", port=8000)),
        ("localhost:0", Address("tcp", host="localhost", port=0)),
        (":9000", Address("tcp", host="0.0.0.0", port=9000)),
        ("9000", Address("tcp", host="0.0.0.0", port=9000)),
        ("example.org", Address("tcp", host="example.org", port=8000)),
        ("[::1]:8080", Address("tcp", host="::1", port=8080)),
        ("[::1]", Address("tcp", host="::1", port=8000)),
        ("unix:/tmp/app.sock", Address("unix", path="/tmp/app.sock")),
        ("unix:///tmp/app.sock", Address("unix", path="/tmp/app.sock")),
        ("fd://3", Address("fd", fd=3)),
    ],
)
def test_valid_binds(text, expected):
    assert parse_bind(text) == expected
    assert parse_bind(str(expected)) == expected  # str() round-trips


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:8000", Address("tcp", host="127.0.0.1", port=8000)),
        ("tcp://[::1]:80", Address("tcp", host="::1", port=80)),
        ("tcp://localhost", Address("tcp", host="localhost", port=8000)),
    ],
)
def test_gunicorns_tcp_scheme_is_accepted(text, expected):
    assert parse_bind(text) == expected
    assert parse_bind(str(expected)) == expected  # str() round-trips


@pytest.mark.parametrize(
    "text",
    ["1.2.3.4:x", "[::1", "[::1]x", "::1:80", "host:70000", "unix:", "fd://x", "fd://-1", ":"]
    + ["tcp://", "tcp://unix:/x", "tcp://fd://3", "tcp://1.2.3.4:x"],
)
def test_malformed_binds_say_what_was_expected(text):
    with pytest.raises(BindError) as info:
        parse_bind(text)
    message = str(info.value)
    assert "\n" not in message and repr(text) in message


def test_port_in_use_is_one_line():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(
            BindError, match=f"cannot listen on 127.0.0.1:{port}: address already in use"
        ):
            open_listeners([f"127.0.0.1:{port}"])
    finally:
        taken.close()


def test_several_listeners_and_describe(tmp_path):
    path = str(tmp_path / "s.sock")
    binds = ["127.0.0.1:0", f"unix:{path}"]
    socks = open_listeners(binds)
    try:
        assert describe(socks[0]).startswith("http://127.0.0.1:")
        assert describe(socks[1]) == f"unix:{path}"
    finally:
        close_listeners(socks, remove=owned_unix_paths(binds))
    assert not os.path.exists(path)


def test_a_failed_bind_closes_the_ones_already_open(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("not a socket")
    with pytest.raises(BindError, match="not a socket"):
        open_listeners(["127.0.0.1:0", f"unix:{regular}"])


def test_systemd_sockets_only_for_this_pid():
    assert systemd_sockets({"LISTEN_PID": "1", "LISTEN_FDS": "1"}, pid=2) == []
    assert systemd_sockets({}) == []


def test_umask_decides_who_may_connect_to_a_unix_socket(tmp_path):
    path = tmp_path / "private.sock"
    inherited = os.umask(0)  # as under a supervisor that leaves umask 000
    try:
        sock = open_listener(parse_bind(f"unix:{path}"), umask=0o077)
        assert os.umask(0) == 0, "the process umask is restored after the bind"
    finally:
        os.umask(inherited)
    try:
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    finally:
        close_listeners([sock], remove=[str(path)])


def test_a_unix_socket_is_given_to_its_owner(tmp_path):
    import pwd

    uid, gid = os.getuid(), os.getgid()
    if uid == 0:  # root may give it away, as to the workers' --user
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    path = tmp_path / "owned.sock"
    sock = open_listener(parse_bind(f"unix:{path}"), owner=(uid, gid))
    try:
        assert (path.stat().st_uid, path.stat().st_gid) == (uid, gid)
    finally:
        close_listeners([sock], remove=[str(path)])


def test_a_unix_socket_that_cannot_be_given_away_is_one_line(tmp_path, monkeypatch):
    def refuse(path, uid, gid, follow_symlinks=True):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refuse)
    path = tmp_path / "s.sock"
    with pytest.raises(BindError, match=f"cannot give unix:{path} to uid 7 gid 8: Operation not"):
        open_listener(parse_bind(f"unix:{path}"), owner=(7, 8))
    assert not path.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file away needs root")
def test_a_symlink_put_in_place_of_the_socket_is_not_followed(tmp_path, monkeypatch):
    """Between the bind and the chown someone who may write to the directory replaces
    the socket file with a symlink: the symlink itself is given away, not its target."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = tmp_path / "s.sock"
    umask = os.umask
    calls = []

    def umask_then_plant(mask):
        calls.append(mask)
        previous = umask(mask)
        if len(calls) == 2:  # restoring the umask: the bind is done
            os.unlink(path)
            os.symlink(victim, path)
        return previous

    monkeypatch.setattr(os, "umask", umask_then_plant)
    sock = open_listener(
        parse_bind(f"unix:{path}"), umask=0o077, owner=(nobody.pw_uid, nobody.pw_gid)
    )
    sock.close()
    assert (victim.stat().st_uid, victim.stat().st_gid) == (0, 0)
    assert os.lstat(path).st_uid == nobody.pw_uid
