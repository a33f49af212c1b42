"""The pytest plugin as a user meets it: small test files run by ``pytester``, with the
fixtures in thread and pre-fork mode, next to pytest-flask and pytest-django."""

from __future__ import annotations

import os
import re
import signal
import textwrap

import pytest

from wsgikit.testing import _exited

from ..support import wait_for

pytest_plugins = ["pytester"]

APP = """
import json
import os

hits = []


def application(environ, start_response):
    hits.append(environ["PATH_INFO"])
    body = json.dumps({"pid": os.getpid(), "path": environ["PATH_INFO"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""

CONFTEST = """
import pytest

import app


@pytest.fixture(scope="session")
def wsgi_app():
    return app.application
"""


@pytest.fixture(autouse=True)
def _not_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # On CI (CI or BUILD_NUMBER set) pytest prints whole failure messages in its short
    # summary; the inner runs here count lines of their report, so they run as on a laptop.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with an app module and a conftest defining ``wsgi_app``."""
    pytester.makepyfile(app=APP)
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a subprocess, as a user's ``pytest`` would (every plugin installed
    is loaded), without the cache."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)


def test_thread_and_prefork_modes(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_modes="""
        import os

        import pytest

        import app


        def test_thread_mode_shares_the_test_process(wsgikit_live_server):
            response = wsgikit_live_server.client.get("/here", params={"q": "1"})
            assert response.status == 200
            assert response.headers["content-type"] == "application/json"
            assert response.json() == {"pid": os.getpid(), "path": "/here"}
            assert app.hits == ["/here"]  # the app's state is the test's
            assert not wsgikit_live_server.prefork


        @pytest.mark.wsgikit(workers=2)
        def test_prefork_mode_runs_a_real_master_and_workers(wsgikit_live_server):
            server = wsgikit_live_server
            app.hits.clear()
            assert server.prefork and server.master_pid != os.getpid()
            workers = server.wait_workers()
            assert len(workers) == 2 and server.master_pid not in workers
            assert server.client.get("/").json()["pid"] in workers
            assert app.hits == []  # served by other processes
        """
    )
    result = run(project)
    result.assert_outcomes(passed=2)


def test_the_option_chooses_prefork_mode_for_every_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_option="""
        def test_prefork(wsgikit_live_server):
            assert wsgikit_live_server.prefork
            assert len(wsgikit_live_server.wait_workers()) == 1
        """
    )
    run(project, "--wsgikit-workers", "1").assert_outcomes(passed=1)


def test_with_pytest_flask_and_pytest_django_installed_together(
    pytester: pytest.Pytester,
) -> None:
    # A Flask project: pytest-flask and pytest-django are both active (nothing disabled),
    # each defining its own `live_server`. wsgikit's fixtures work with no other setup,
    # and `live_server` is still theirs.
    pytester.makepyfile(
        flaskapp="""
        from flask import Flask, jsonify

        app = Flask(__name__)


        @app.get("/users/<name>")
        def user(name):
            return jsonify(name=name)
        """
    )
    pytester.makeconftest(
        """
        import pytest

        import flaskapp


        @pytest.fixture
        def wsgi_app():
            return flaskapp.app


        @pytest.fixture
        def app():  # what pytest-flask's fixtures ask for
            return flaskapp.app
        """
    )
    pytester.makepyfile(
        test_flask="""
        import pytest


        def test_in_a_thread(wsgikit_live_server):
            assert wsgikit_live_server.client.get("/users/ada").json() == {"name": "ada"}


        @pytest.mark.wsgikit(workers=1)
        def test_prefork(wsgikit_live_server):
            assert wsgikit_live_server.client.get("/users/bob").json() == {"name": "bob"}


        def test_pytest_flask_fixtures_still_work(config):
            import flaskapp

            assert config is flaskapp.app.config
                """
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=3)
    plugins = "\n".join(result.outlines)
    assert "flask-" in plugins and "django-" in plugins, plugins  # both were loaded

    listing = run(pytester, "--fixtures", "-v")
    where = [line for line in listing.outlines if line.startswith("live_server ")]
    assert where and all("wsgikit" not in line for line in where), where
    assert any(line.startswith("wsgikit_live_server ") for line in listing.outlines)


def test_live_server_alias_when_no_other_plugin_defines_it(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_alias="""
        def test_alias(live_server, wsgikit_live_server):
            assert live_server is wsgikit_live_server
            assert live_server.client.get("/x").json()["path"] == "/x"
        """
    )
    run(project, "-p", "no:flask", "-p", "no:django").assert_outcomes(passed=1)


def test_a_server_that_fails_to_start_reports_its_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken="import json\nraise RuntimeError('no database configured')\n")
    pytester.makepyfile(
        test_broken="""
        import pytest


        @pytest.fixture
        def wsgi_app():
            return "broken:application"


        @pytest.mark.wsgikit(workers=2)
        def test_never_runs(wsgikit_live_server):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "wsgikit_live_server: the server did not start: the server exited with exit status 3",
            "*--- log of the server (pid *) ---*",
            "*RuntimeError: no database configured*",
        ]
    )


def test_a_worker_killed_mid_test_is_replaced(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_kill="""
        import pytest


        @pytest.mark.wsgikit(workers=2)
        def test_replace(wsgikit_live_server):
            server = wsgikit_live_server
            before = server.wait_workers()
            old, new = server.replace_worker()  # SIGKILL, then wait for the replacement
            assert old in before and new not in before
            assert sorted(server.wait_workers()) == sorted(set(before) - {old} | {new})
            assert server.client.get("/").status == 200
            assert f"worker {old}" in server.log_text()
        """
    )
    run(project).assert_outcomes(passed=1)


def test_a_server_that_dies_mid_test_fails_it_with_its_log(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_die="""
        import os
        import signal

        import pytest

        pytestmark = pytest.mark.wsgikit(workers=1, accesslog="-")


        def test_dies_while_the_test_waits_on_it(wsgikit_live_server):
            os.kill(wsgikit_live_server.master_pid, signal.SIGKILL)
            wsgikit_live_server.wait_for_log("a line that never comes")


        def test_dies_unnoticed(wsgikit_live_server):
            os.kill(wsgikit_live_server.master_pid, signal.SIGKILL)
            wsgikit_live_server.process.wait(10)


        def test_passes(wsgikit_live_server_module):
            assert wsgikit_live_server_module.client.get("/passes").status == 200
            wsgikit_live_server_module.wait_for_log("GET /passes")


        def test_fails(wsgikit_live_server_module):
            status = wsgikit_live_server_module.client.get("/fails").status
            wsgikit_live_server_module.wait_for_log("GET /fails")
            assert status == 404
        """
    )
    result = run(project)
    # The first test fails where it waits; the second passes, and its teardown says
    # the server died under it. Both show the log, once: no log section repeats it.
    result.assert_outcomes(failed=2, passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_dies_unnoticed _*",
            "wsgikit_live_server: the server exited with signal SIGKILL",
            "--- log of the server (pid *) ---",
            "*master * ready*",
            "*_ test_dies_while_the_test_waits_on_it _*",
            "*ServerError: the server exited with signal SIGKILL*",
            "*--- log of the server (pid *) ---*",
            "*master * ready*",
            # A test that fails on its own gets the log of its server, with a line
            # where it began (the server serves the whole module).
            "*_ test_fails _*",
            "*wsgikit server log, pid *",
            "*Listening at*",
            '*"GET /passes HTTP/1.1" 200*',
            "----- test_fails began here -----",
            '*"GET /fails HTTP/1.1" 200*',
        ]
    )
    out = result.stdout.str()
    assert out.count("Listening at") == 3
    # No line of a log is shown twice. A report section follows an error that showed
    # the log only with the lines written after it (the orphaned worker of a killed
    # master may log that it stops, sooner or later than the error: timing decides).
    continued = out.count("----- (the error above showed the log until here) -----")
    assert out.count("wsgikit server log") == 1 + continued, out
    # (an error's lines carry pytest's "E   " prefix: compare from the timestamp on)
    logged = re.findall(r"\[\d{4}-\d\d-\d\d [^]]+\] \[\d+\] \[[A-Z]+\] .*", out)
    assert logged and len(logged) == len(set(logged)), out


def test_scoped_fixtures_are_reused_across_tests(project: pytest.Pytester) -> None:
    # One module-scoped pre-fork server for a module's tests, one session-scoped server
    # for two modules, a conftest fixture of its own, and a session-scoped factory.
    project.makeconftest(
        CONFTEST
        + """

from wsgikit.pytest_plugin import server_fixture

site = server_fixture("app:application", scope="session", workers=1)
"""
    )
    body = """
        import pytest

        pytestmark = pytest.mark.wsgikit(workers=2)  # seen by module-scoped fixtures too
        SEEN = {}


        @pytest.mark.parametrize("n", range(3))
        def test_module_scoped(wsgikit_live_server_module, n):
            SEEN.setdefault("module", set()).add(wsgikit_live_server_module.master_pid)
            assert len(SEEN["module"]) == 1
            assert len(wsgikit_live_server_module.wait_workers()) == 2


        def test_session_scoped(wsgikit_live_server_session, site, wsgikit_server_session, record):
            record(
                wsgikit_live_server_session.master_pid,
                site.master_pid,
                wsgikit_server_session("app:application", workers=1).master_pid,
            )
        """
    project.makepyfile(test_one=body, test_two=body)
    project.makeconftest(
        project.path.joinpath("conftest.py").read_text()
        + """

PIDS = []


@pytest.fixture
def record():
    def add(*pids):
        PIDS.append(pids)
        assert len(set(PIDS)) == 1, PIDS  # the same three servers in both modules
        assert len(set(pids)) == 3  # and three different ones

    return add
"""
    )
    # A session-scoped fixture sees no module's marker: the option chooses its mode.
    run(project, "--wsgikit-workers=1").assert_outcomes(passed=8)


@pytest.mark.parametrize("engine", ["poll", "watchfiles"])
def test_reload_picks_up_an_edit_and_survives_a_syntax_error(
    pytester: pytest.Pytester, engine: str
) -> None:
    source = textwrap.dedent(
        """
        def application(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"version 1"]
        """
    )
    pytester.makepyfile(live_app=source)
    pytester.makepyfile(
        test_reload=f"""
        import pathlib

        import pytest

        from wsgikit.testing import ServerError

        APP = pathlib.Path("live_app.py")


        def test_reload(wsgikit_server):
            server = wsgikit_server(
                "live_app:application", workers=1, reload=True, reload_engine="{engine}"
            )
            first = server.wait_workers()
            assert server.client.get("/").text == "version 1"
            server.wait_for_log("reload: watching")  # the watcher is set up

            APP.write_text(APP.read_text().replace("version 1", "version 2!"))
            second = server.wait_reload(1)
            assert second != first
            assert server.client.get("/").text == "version 2!"
            assert "live_app.py changed" in server.log_text()  # the log names the file

            APP.write_text(APP.read_text() + "\\ndef broken(:\\n")
            with pytest.raises(ServerError, match="reload 2 failed"):
                server.wait_reload(2)
            log = server.log_text()
            assert 'live_app.py", line ' in log and "SyntaxError" in log
            assert server.worker_pids == second  # the old workers keep serving
            assert server.client.get("/").text == "version 2!"

            fixed = APP.read_text().replace("def broken(:", "# fixed")
            APP.write_text(fixed.replace("version 2!", "version 3"))
            server.wait_reload(3)
            assert server.client.get("/").text == "version 3"
        """
    )
    run(pytester, "-p", "no:flask", "-p", "no:django").assert_outcomes(passed=1)


def test_the_projects_config_file_is_not_the_test_servers(project: pytest.Pytester) -> None:
    # Production settings in the project's gunicorn.conf.py: a daemon that logs to a
    # file. A test server reads none of it, so it stays in the test's hands.
    (project.path / "gunicorn.conf.py").write_text(
        'daemon = True\nerrorlog = "production-error.log"\npidfile = "production.pid"\n'
        "workers = 5\n"
    )
    project.makepyfile(broken="raise RuntimeError('no database configured')\n")
    project.makepyfile(
        test_conf="""
        import pathlib

        import pytest

        pytestmark = pytest.mark.wsgikit(workers=1)


        def test_served_in_the_foreground(wsgikit_live_server):
            server = wsgikit_live_server
            assert server.master_pid == server.process.pid == server.events().master_pid
            assert len(server.wait_workers()) == 1  # not the file's 5
            assert server.client.get("/").status == 200
            assert "Listening at" in server.log_text()  # the error log is the test's
            pathlib.Path("pids").write_text(f"{server.master_pid} {server.worker_pids[0]}")


        def test_the_file_is_read_when_named(wsgikit_server):
            pathlib.Path("named.conf.py").write_text("workers = 3\\n")
            server = wsgikit_server("app:application", workers=1, config="named.conf.py")
            assert len(server.wait_workers(1)) == 1  # the keyword argument wins


        @pytest.mark.parametrize("run", [1, 2])
        def test_a_broken_app_shows_its_traceback(wsgikit_server, run):
            wsgikit_server("broken:application", workers=1)
        """
    )
    result = run(project, "-p", "no:flask", "-p", "no:django")
    result.assert_outcomes(passed=2, failed=2)
    output = result.stdout.str()
    assert output.count("raise RuntimeError('no database configured')") == 2, output
    for pid in map(int, (project.path / "pids").read_text().split()):
        assert _exited(pid), f"process {pid} outlived the test run"
    for name in ("production-error.log", "production.pid"):
        assert not (project.path / name).exists(), name


def test_a_test_server_stops_when_pytest_is_killed(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # where the test servers' files would go
    project.makepyfile(
        test_killed="""
        import os
        import pathlib
        import signal

        import pytest


        @pytest.mark.wsgikit(workers=2)
        def test_killed(wsgikit_live_server):
            server = wsgikit_live_server
            pids = [server.master_pid, *server.wait_workers()]
            pathlib.Path("pids").write_text(" ".join(map(str, pids)))
            os.kill(os.getpid(), signal.SIGKILL)  # pytest dies; nothing runs a teardown
        """
    )
    result = run(project, "-p", "no:flask", "-p", "no:django")
    assert result.ret == -9, result.stdout.str()
    pids = list(map(int, (project.path / "pids").read_text().split()))
    try:
        wait_for(lambda: all(map(_exited, pids)), "the orphaned server to stop", timeout=60)
    finally:
        for pid in pids:
            if not _exited(pid):
                os.kill(pid, signal.SIGKILL)
    assert list(scratch.iterdir()) == []  # no log or events file left behind


def test_a_server_that_cannot_start_is_one_message_without_wsgikits_traceback(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(broken="import json\n\nraise RuntimeError('no database configured')\n")
    project.makepyfile(
        test_errors="""
        import socket

        import pytest

        import app


        def test_not_importable(wsgikit_server):
            def local(environ, start_response):
                return []

            wsgikit_server(local, workers=2)


        def test_bad_value(wsgikit_server):
            wsgikit_server(app.application, threads=0)


        @pytest.mark.parametrize("workers", [0, 1])
        def test_unknown_setting(wsgikit_server, workers):
            wsgikit_server("app:application", workers=workers, thredas=4)


        @pytest.mark.wsgikit(thredas=4)
        def test_unknown_setting_in_a_marker(wsgikit_live_server):
            pass


        @pytest.mark.parametrize("workers", [0, 1])
        def test_busy_port(wsgikit_server, workers):
            with socket.socket() as busy:
                busy.bind(("127.0.0.1", 0))
                busy.listen()
                wsgikit_server("app:application", workers=workers, port=busy.getsockname()[1])


        @pytest.mark.parametrize("workers", [0, 1])
        def test_broken_app(wsgikit_server, workers):
            wsgikit_server("broken:application", workers=workers)
        """
    )
    result = run(project, "-p", "no:flask", "-p", "no:django")
    result.assert_outcomes(failed=8, errors=1)
    unknown = "setting 'thredas': no such setting; did you mean 'threads'?"
    result.stdout.fnmatch_lines_random(
        [
            "wsgikit_server: a pre-fork server imports the app in its worker processes: *",
            "wsgikit_server: setting 'threads': *",
            f"wsgikit_server: {unknown}",
            f"wsgikit_live_server: {unknown}",
            "wsgikit_server: cannot listen on 127.0.0.1:*: address already in use",
            "wsgikit_server: the app cannot be loaded: error while importing 'broken': "
            "RuntimeError: no database configured",
            "wsgikit_server: the server did not start: the server exited with exit status 3",
        ]
    )
    output = result.stdout.str()
    assert output.count(f"wsgikit_server: {unknown}") == 2  # the same in both modes
    assert output.count("address already in use") == 2  # one message in each mode
    # The app's own traceback, where it failed, in both modes; nothing of wsgikit's.
    assert output.count('broken.py", line 3, in <module>') == 2, output
    for internal in ("pytest_plugin.py", "testing.py", "config.py", "importer.py"):
        assert internal not in output, internal


def test_a_shared_server_warns_about_a_marker_it_cannot_follow(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_markers="""
        import pytest

        pytestmark = pytest.mark.wsgikit(workers=1)


        def test_module_marker_is_followed(wsgikit_live_server_module):
            assert wsgikit_live_server_module.workers == 1


        @pytest.mark.wsgikit(workers=2)
        def test_closer_marker(wsgikit_live_server_module):
            assert wsgikit_live_server_module.workers == 1


        def test_session(wsgikit_live_server_session):
            assert wsgikit_live_server_session.workers == 0
        """
    )
    result = run(project, "-p", "no:flask", "-p", "no:django", "-W", "default")
    result.assert_outcomes(passed=3, warnings=2)
    result.stdout.fnmatch_lines_random(
        [
            "*test_closer_marker*",
            "*PytestWarning: wsgikit_live_server_module is shared by the whole module and "
            "serves with workers=1: it cannot follow this test's @pytest.mark.wsgikit (which "
            "asks for workers=2); use wsgikit_live_server (a server for this test), or the "
            "marker on the module",
            "*test_session*",
            "*PytestWarning: wsgikit_live_server_session is shared by the whole session and "
            "serves with workers=0: it cannot follow *(which asks for workers=1)*",
        ]
    )
    assert "test_module_marker_is_followed" not in result.stdout.str()


def test_a_configured_pytest_django_project(pytester: pytest.Pytester) -> None:
    # DJANGO_SETTINGS_MODULE set for pytest-django, a model in the database: thread mode
    # serves the test's database; pre-fork workers load the settings afresh and use the
    # database the settings name, not pytest-django's test database.
    pytester.makeini("[pytest]\nDJANGO_SETTINGS_MODULE = mysite.settings\n")
    pytester.mkpydir("mysite")
    pytester.makepyfile(
        **{
            "mysite/settings": """
            from pathlib import Path

            SECRET_KEY = "not a secret"
            DEBUG = True
            ALLOWED_HOSTS = ["*"]
            ROOT_URLCONF = "mysite.urls"
            INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
            DATABASES = {
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": Path(__file__).parent / "settings.sqlite3",
                }
            }
            USE_TZ = True
            """,
            "mysite/urls": """
            from django.contrib.auth.models import User
            from django.db import DatabaseError, connection
            from django.http import JsonResponse
            from django.urls import path


            def users(request):
                try:
                    names = sorted(User.objects.values_list("username", flat=True))
                except DatabaseError:
                    names = None  # the settings' database has no tables
                database = str(connection.settings_dict["NAME"])
                return JsonResponse({"database": database, "users": names})


            urlpatterns = [path("users", users)]
            """,
            "mysite/wsgi": """
            import os

            from django.core.wsgi import get_wsgi_application

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
            application = get_wsgi_application()
            """,
        }
    )
    pytester.makeconftest(
        """
        import pytest


        @pytest.fixture(scope="session")
        def wsgi_app():
            return "mysite.wsgi:application"
        """
    )
    pytester.makepyfile(
        test_users="""
        import pytest
        from django.contrib.auth.models import User


        def test_thread_mode_serves_the_test_database(transactional_db, wsgikit_live_server):
            User.objects.create(username="ada")
            seen = wsgikit_live_server.client.get("/users").json()
            assert seen["users"] == ["ada"]
            assert not seen["database"].endswith("settings.sqlite3")


        @pytest.mark.wsgikit(workers=1)
        def test_prefork_workers_use_the_settings_database(
            transactional_db, wsgikit_live_server
        ):
            User.objects.create(username="ada")
            seen = wsgikit_live_server.client.get("/users").json()
            assert seen["database"].endswith("settings.sqlite3")
            assert seen["users"] is None  # not the test's data: another database
        """
    )
    result = run(pytester, "-p", "no:flask")
    result.assert_outcomes(passed=2)
    assert "django: version" in result.stdout.str() or "django-" in result.stdout.str()
