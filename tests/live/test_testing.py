"""wsgikit.testing.LiveServer and its client, the readiness channel and the reloader."""

from __future__ import annotations

import logging
import os
import signal
import socket

import pytest

from wsgikit import AppImportError, BindError, ConfigError
from wsgikit.readiness import ServerEvents
from wsgikit.reloader import PollingWatcher, ReloadService, WatchSpec
from wsgikit.testing import LiveServer, ServerError, _exited, import_string_of

from .. import apps
from ..support import free_port
from .test_entrypoints import hello_command, run_until_answered

SERVICE = "tests.apps:service"


def test_client_sends_json_forms_and_params_and_reads_them_back() -> None:
    with LiveServer(apps.echo) as server:
        seen = server.client.post("/p", json={"a": [1, 2]}, params={"x": "1 2"}).json()
        assert seen["method"] == "POST" and seen["query"] == "x=1+2"
        assert seen["body"] == '{"a": [1, 2]}'
        form = server.client.put("/f", data={"name": "ada"}).json()
        assert form["method"] == "PUT" and form["body"] == "name=ada"
        response = server.client.delete("/d")
        assert response.ok and response.status == 200 and response.reason == "OK"
        assert response.headers["Content-Type"] == "application/json"
        assert "/d" in response.text and "200" in repr(response)
        assert server.client.head("/").body == b""
        assert server.client.options("/o").json()["method"] == "OPTIONS"
        assert server.client.patch("/q").json()["method"] == "PATCH"


def test_webtest_over_real_http() -> None:
    with LiveServer(apps.echo) as server:
        assert server.webtest().get("/wt").json["path"] == "/wt"


def test_thread_mode_errors_are_the_apps_and_the_settings() -> None:
    with pytest.raises(AppImportError, match="no_such_module"):
        LiveServer("no_such_module:app").start()
    with pytest.raises(ConfigError, match="setting 'threads'"):
        LiveServer(apps.echo, threads=0).start()
    with pytest.raises(BindError):
        LiveServer(apps.echo, host="256.0.0.1").start()


@pytest.mark.parametrize("workers", [0, 1], ids=["thread", "prefork"])
def test_an_unknown_setting_is_the_same_line_in_both_modes(workers: int) -> None:
    with pytest.raises(ConfigError) as err:
        LiveServer(SERVICE, workers=workers, thredas=4)
    assert str(err.value) == "setting 'thredas': no such setting; did you mean 'threads'?"
    with pytest.raises(ConfigError, match="setting 'daemon': a test server runs in the fore"):
        LiveServer(SERVICE, workers=workers, daemon=True)


def test_a_prefork_server_says_which_settings_need_a_config_file() -> None:
    with pytest.raises(ConfigError, match="setting 'on_starting': .* config='path'"):
        LiveServer(SERVICE, workers=1, on_starting=print)
    with pytest.raises(ConfigError, match="setting 'threads'"):
        LiveServer(SERVICE, workers=1, threads=0).start()  # checked here, not in the log


def test_thread_mode_shows_where_the_app_failed_to_import(tmp_path, monkeypatch) -> None:
    (tmp_path / "failing_app.py").write_text("import os\n\n1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AppImportError) as err:
        LiveServer("failing_app:application").start()
    assert 'failing_app.py", line 3, in <module>' in str(err.value)
    assert str(err.value).endswith("ZeroDivisionError: division by zero")


def test_stop_waits_the_graceful_timeout_the_server_resolved(tmp_path) -> None:
    conf = tmp_path / "conf.py"
    conf.write_text("graceful_timeout = 45\n")
    with LiveServer(apps.echo, config=str(conf)) as server:  # thread mode reads it too
        assert server.graceful_timeout == 45
    with LiveServer(SERVICE, workers=1, config=str(conf)) as server:
        assert server.graceful_timeout == 45  # as the server reported it
        assert server.stop_timeout == 45 + server.stop_margin
        conf.write_text("graceful_timeout = 50\n")
        server.reload()
        assert server.stop_timeout == 50 + server.stop_margin
    assert server.exit_status == 0
    env = {**os.environ, "WSGIKIT_GRACEFUL_TIMEOUT": "40"}
    with LiveServer(SERVICE, workers=1, env=env) as server:
        assert server.stop_timeout == 40 + server.stop_margin
    env = {**os.environ, "GUNICORN_CMD_ARGS": "--graceful-timeout 41"}
    with LiveServer(SERVICE, workers=1, env=env) as server:
        assert server.stop_timeout == 41 + server.stop_margin


def test_a_server_that_detaches_anyway_is_stopped_and_says_why() -> None:
    env = {**os.environ, "GUNICORN_CMD_ARGS": "-D"}  # beats every other source
    server = LiveServer(SERVICE, workers=1, env=env)
    with pytest.raises(ServerError, match="it detached .* remove -D from"):
        server.start()
    master = server.events().master_pid
    assert master is not None and master != server.process.pid
    # stop() closed the lifeline and waited: the detached master is gone too.
    assert _exited(master)


@pytest.mark.parametrize("served", [apps.echo, SERVICE], ids=["thread", "prefork"])
def test_a_busy_port_is_one_clear_line_in_both_modes(served) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(BindError) as err:
            LiveServer(served, port=port, workers=0 if callable(served) else 1).start()
    assert str(err.value) == f"cannot listen on 127.0.0.1:{port}: address already in use"


def test_import_string_of() -> None:
    assert import_string_of("pkg:app") == "pkg:app"
    assert import_string_of(apps.echo) == "tests.apps:echo"

    def local(environ, start_response):  # not importable by another process
        return []

    with pytest.raises(TypeError, match="import string"):
        import_string_of(local)
    with pytest.raises(TypeError, match="import string"):
        LiveServer(local, workers=1).start()


def test_prefork_readiness_does_not_call_the_app(tmp_path) -> None:
    log = tmp_path / "access.log"
    with LiveServer(SERVICE, workers=1, accesslog=str(log)) as server:
        assert server.events().ready and server.events().master_pid == server.master_pid
        assert server.worker_pids and server.master_pid not in server.worker_pids
        assert not log.exists() or log.read_text() == ""  # nothing reached the app
        assert server.get("/").body == b"ok"
        server.wait_for(lambda: log.read_text(), "the access log line")
        assert log.read_text().count("GET / ") == 1


def test_prefork_helpers_reload_and_replace_workers() -> None:
    with LiveServer(SERVICE, workers=2, graceful_timeout=5) as server:
        first = server.wait_workers()
        new = server.reload()
        assert len(new) == 2 and not set(new) & set(first)
        assert sorted(server.worker_pids) == sorted(new)
        old, fresh = server.replace_worker(signum=signal.SIGTERM)
        assert old in new and fresh not in new
        assert server.wait_workers(2)
        start = server.log_size()
        server.signal(signal.SIGUSR2)
        assert "worker stats" in server.wait_for_log("worker stats")[start:]
    assert server.exit_status == 0


def test_a_wait_that_times_out_says_what_and_shows_the_log() -> None:
    with LiveServer(SERVICE, workers=1) as server:
        with pytest.raises(ServerError, match=r"timed out waiting for 3 booted(.|\n)*ready"):
            server.wait_workers(3, timeout=0.2)


def test_thread_servers_have_no_master() -> None:
    with LiveServer(apps.echo) as server:
        assert server.worker_pids == [] and server.log_text() == ""
        with pytest.raises(RuntimeError, match="thread"):
            server.master_pid  # noqa: B018
        with pytest.raises(RuntimeError, match="thread"):
            server.signal(signal.SIGHUP)


def test_server_events_parse_ignores_a_torn_line() -> None:
    text = "graceful_timeout 30.0\nready 10\nforked 11\nbooted 11\nreloading 10\nforked 12\n"
    text += "graceful_timeout x\nexited 12\nbooted 1"
    state = ServerEvents.parse(text)
    assert state.ready and state.master_pid == 10 and state.graceful_timeout == 30.0
    assert state.booted == [11] and state.exited == [(12, False)]
    assert state.reload_history[0].before == (11,) and state.reload_history[0].new == [12]


def test_a_bad_ready_fd_is_ignored_with_a_warning(tmp_path) -> None:
    from wsgikit.readiness import channel_from_env, lifeline_from_env

    assert channel_from_env({}) == (None, "")
    channel, problem = channel_from_env({"WSGIKIT_READY_FD": "nope"})
    assert channel is None and "WSGIKIT_READY_FD='nope'" in problem
    fd = os.open(tmp_path / "events", os.O_WRONLY | os.O_CREAT)
    channel, problem = channel_from_env({"WSGIKIT_READY_FD": str(fd)})
    assert channel is not None and not problem
    channel.emit("ready", 5)
    os.close(fd)
    channel.emit("ready", 6)  # a closed descriptor: dropped, never raised
    assert (tmp_path / "events").read_text() == "ready 5\n"
    assert lifeline_from_env({}, None) == (None, "")
    lifeline, problem = lifeline_from_env({"WSGIKIT_LIFELINE_FD": "nope"}, None)
    assert lifeline is None and "WSGIKIT_LIFELINE_FD='nope'" in problem


def test_watch_spec_takes_project_sources_and_skips_the_rest(tmp_path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "views.py").write_text("")
    (tmp_path / "pkg" / "notes.txt").write_text("")
    for skipped in (".git", "__pycache__", "venv"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "x.py").write_text("")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("")
    spec = WatchSpec.for_project([str(tmp_path), "/no/such/dir"], [str(tmp_path / "templates")])
    assert spec.roots == (str(tmp_path),)
    assert sorted(os.path.relpath(p, tmp_path) for p in spec.files()) == [
        "pkg/views.py",
        "templates/page.html",
    ]
    assert spec.wants(str(tmp_path / "pkg" / "views.py"))
    assert spec.wants(str(tmp_path / "templates" / "page.html"))
    assert not spec.wants(str(tmp_path / "pkg" / "notes.txt"))
    assert not spec.wants(str(tmp_path / ".git" / "x.py"))
    assert not spec.wants("/elsewhere/x.py")


def test_editor_lock_backup_and_swap_files_are_not_changes(tmp_path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "app.py").write_text("")
    (tmp_path / ".env").write_text("")
    spec = WatchSpec.for_project(
        [str(tmp_path)], [str(tmp_path / "templates"), str(tmp_path / ".env")]
    )
    watcher = PollingWatcher(spec)
    editor_files = [".#app.py", "#app.py#", "app.py~", ".app.py.swp", "app.py.tmp", "4913"]
    for where in (tmp_path, tmp_path / "templates"):
        for name in editor_files:
            (where / name).write_text("x")
            assert not spec.wants(str(where / name)), where / name
    assert watcher.changes() == []
    assert spec.wants(str(tmp_path / ".env"))  # named on its own: watched
    assert spec.wants(str(tmp_path / "templates" / "page.html"))
    (tmp_path / "app.py").write_text("changed")
    assert watcher.changes() == [str(tmp_path / "app.py")]


def test_polling_watcher_sees_edits_additions_and_removals(tmp_path) -> None:
    (tmp_path / "a.py").write_text("1")
    watcher = PollingWatcher(WatchSpec.for_project([str(tmp_path)]))
    assert watcher.changes() == []
    (tmp_path / "a.py").write_text("22")
    assert watcher.changes() == [str(tmp_path / "a.py")]
    (tmp_path / "b.py").write_text("")
    (tmp_path / "a.py").unlink()
    assert watcher.changes() == [str(tmp_path / "a.py"), str(tmp_path / "b.py")]
    assert watcher.changes() == []


def test_the_reload_engine_setting(tmp_path, monkeypatch) -> None:
    spec = WatchSpec.for_project([str(tmp_path)])
    log = logging.getLogger("test")
    assert ReloadService(spec, "poll", log).engine == "poll"
    assert ReloadService(spec, "watchfiles", log).engine == "watchfiles"
    assert ReloadService(spec, "auto", log).engine == "watchfiles"
    monkeypatch.setattr("wsgikit.reloader.watchfiles_available", lambda: False)
    assert ReloadService(spec, "auto", log).engine == "poll"
    with pytest.raises(RuntimeError, match=r"wsgikit\[reload\]"):
        ReloadService(spec, "watchfiles", log)
    from wsgikit.config import Config

    assert Config(reload_engine="inotify").reload_engine == "watchfiles"  # Gunicorn's name
    with pytest.raises(ConfigError, match="reload_engine"):
        Config(reload_engine="fsevents")


def test_reload_says_when_it_cannot_pick_up_changes() -> None:
    with LiveServer(SERVICE, workers=1, reload=True, preload_app=True) as server:
        assert "code changes are not picked up" in server.log_text()
    port = free_port()
    _, out, code = run_until_answered(hello_command(port) + ["--reload"], port)
    assert "reload has no effect with workers=0" in out and code == 0
