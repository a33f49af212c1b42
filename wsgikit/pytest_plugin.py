"""pytest fixtures for live wsgikit servers (registered through the ``pytest11`` entry point).

Every fixture is named under wsgikit's prefix, so another plugin cannot hide it:

- ``wsgikit_live_server``: a :class:`~wsgikit.testing.LiveServer` serving your
  ``wsgi_app`` fixture for one test; ``wsgikit_live_server_module`` and
  ``wsgikit_live_server_session`` serve it for a whole module or session (your
  ``wsgi_app`` fixture must then have that scope or a broader one).
- ``wsgikit_server``: a factory, ``wsgikit_server(app, **settings)``, whose
  servers stop after the test; ``wsgikit_server_module`` and
  ``wsgikit_server_session`` keep theirs for the module or session and give the
  same server back for the same arguments.
- ``live_server``: an alias of ``wsgikit_live_server``, defined only when no other
  plugin defines one (pytest-flask and pytest-django do; theirs is left alone).

Thread or pre-fork: ``workers=0`` serves from a thread of the test process,
``workers >= 1`` runs the real pre-fork server. The ``wsgikit_live_server``
fixtures take their settings from the ``--wsgikit-workers`` option (or the
``wsgikit_workers`` ini value) and the ``@pytest.mark.wsgikit(**settings)`` marker
(on a test, a class or a module; the closest wins). A shared server cannot follow
a marker closer to the test than its scope (a session-scoped server, any marker; a
module-scoped one, a class's or a test's): such a test gets a warning saying so.
:func:`server_fixture` declares a fixture of your own, of any scope, in a conftest.

A server that cannot start fails the test with one message, no traceback through
wsgikit: the bad setting, the busy port, the app's own traceback, or the pre-fork
server's log. When a test fails, the report has a section with what its pre-fork
servers logged during the test (what an error message showed already is not
repeated). This module is imported before coverage starts, so it imports the rest
of wsgikit lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported lazily: pytest loads this plugin before coverage starts
    from .testing import LiveServer

__all__ = [
    "ServerFactory",
    "server_fixture",
    "wsgikit_live_server",
    "wsgikit_live_server_module",
    "wsgikit_live_server_session",
    "wsgikit_server",
    "wsgikit_server_module",
    "wsgikit_server_session",
]

MARKER = "wsgikit"
_LOG_SECTION = "wsgikit server log"


# ----------------------------------------------------------------- configuration


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsgikit", "wsgikit live servers")
    group.addoption(
        "--wsgikit-workers",
        type=int,
        default=None,
        metavar="N",
        help="workers of the wsgikit_live_server fixtures: 0 serves from a thread (the "
        "default), N >= 1 runs a real pre-fork server with N workers",
    )
    parser.addini(
        "wsgikit_workers",
        "default of --wsgikit-workers (0: thread, N >= 1: pre-fork)",
        default="0",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): settings of the wsgikit_live_server fixtures for these tests, "
        "e.g. workers=2 (a pre-fork server), threads=4",
    )
    # pytest-flask and pytest-django define `live_server`; when two plugins define a
    # fixture, the one registered last wins, and plugin order is not ours to choose. So
    # the alias exists only when no other plugin has one: theirs is never hidden.
    this = config.pluginmanager.get_plugin("wsgikit")
    others = [p for p in config.pluginmanager.get_plugins() if p is not this]
    if not any(_is_fixture(getattr(p, "live_server", None)) for p in others):
        config.pluginmanager.register(_LiveServerAlias(), "wsgikit-live-server-alias")


def _is_fixture(obj: object) -> bool:
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(
        obj, "_pytestfixturefunction"
    )


class _LiveServerAlias:
    """Holds the ``live_server`` alias, registered only when no other plugin has one."""

    @pytest.fixture
    def live_server(self, wsgikit_live_server: LiveServer) -> LiveServer:
        """Alias of ``wsgikit_live_server`` (absent when pytest-flask or pytest-django
        defines its own ``live_server``)."""
        return wsgikit_live_server


def _settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for a wsgikit_live_server fixture: the option, then the markers
    from the farthest to the closest node the fixture's scope sees."""
    return _settings_of(request.config, request.node)


def _settings_of(config: pytest.Config, node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    option = config.getoption("wsgikit_workers")
    workers = int(config.getini("wsgikit_workers") if option is None else option)
    settings: dict[str, Any] = {"workers": workers}
    for mark in reversed(list(node.iter_markers(MARKER))):
        if mark.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes settings as keywords only")
        settings.update(mark.kwargs)
    return settings


def _spelled(settings: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in settings.items())


def _wsgi_app(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("wsgi_app")
    except pytest.FixtureLookupError:
        pytest.fail(
            f"{request.fixturename} serves your 'wsgi_app' fixture: define one in conftest.py "
            "returning your WSGI app (or its import string, e.g. 'myproject.wsgi:application')",
            pytrace=False,
        )


# ----------------------------------------------------------------- factories


class ServerFactory:
    """``factory(app, **settings)`` starts a :class:`~wsgikit.testing.LiveServer`;
    all are stopped by :meth:`close`. With ``reuse``, the same arguments give the
    server already running (for module- and session-scoped factories).

    A server that cannot start fails the test (``pytest.fail``) with one message
    that starts with ``who``, the fixture's name; use ``LiveServer`` itself to
    catch the exception instead.
    """

    def __init__(self, reuse: bool = False, who: str = "wsgikit_server") -> None:
        self.reuse = reuse
        self.who = who
        self.servers: list[LiveServer] = []
        self._by_key: dict[str, LiveServer] = {}

    def __call__(self, app: Any, **settings: Any) -> LiveServer:
        key = repr((app if isinstance(app, str) else id(app), sorted(settings.items())))
        if self.reuse and key in self._by_key:
            server = self._by_key[key]
            server.check_alive()
            return server
        server = _start(self.who, app, settings)
        self.servers.append(server)
        self._by_key[key] = server
        return server

    def close(self) -> None:
        """Stop every server this factory started, newest first; then report any that
        had died on its own (its log is in the error)."""
        from .testing import ServerError

        errors: list[str] = []
        for server in reversed(self.servers):
            if not server.exit_reported:  # else the test failed with this already
                try:
                    server.check_alive()
                except ServerError as exc:
                    errors.append(str(exc))
            server.stop()
        self.servers.clear()
        self._by_key.clear()
        if errors:  # a failure of the test, not a traceback through this plugin
            pytest.fail("\n\n".join(f"{self.who}: {e}" for e in errors), pytrace=False)


def _start(who: str, app: Any, settings: dict[str, Any]) -> LiveServer:
    """A started server, or ``pytest.fail`` with one clear message saying why not."""
    from .binds import BindError
    from .config import ConfigError
    from .importer import AppImportError
    from .testing import LiveServer, ServerError, import_string_of

    message = ""
    try:
        server = LiveServer(app, **settings)
        if server.prefork:
            import_string_of(app)
        return server.start()
    except (ConfigError, BindError) as exc:
        message = str(exc)
    except AppImportError as exc:
        message = f"the app cannot be loaded: {exc}"  # with the app's traceback, if it raised
    except ServerError as exc:
        message = str(exc)  # ends with the pre-fork server's log
    except TypeError as exc:
        if "import string" not in str(exc):
            raise
        message = str(exc)
    pytest.fail(f"{who}: {message}", pytrace=False)


def _factory(reuse: bool, who: str) -> Iterator[ServerFactory]:
    factory = ServerFactory(reuse, who)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def wsgikit_server() -> Iterator[ServerFactory]:
    """Start live servers for this test: ``wsgikit_server(app, **settings)``; all stop
    at teardown. ``workers=0`` (default) serves from a thread, ``workers >= 1`` pre-fork."""
    yield from _factory(False, "wsgikit_server")


@pytest.fixture(scope="module")
def wsgikit_server_module() -> Iterator[ServerFactory]:
    """Like ``wsgikit_server``, but servers live until the module's last test, and the
    same arguments give the same server."""
    yield from _factory(True, "wsgikit_server_module")


@pytest.fixture(scope="session")
def wsgikit_server_session() -> Iterator[ServerFactory]:
    """Like ``wsgikit_server``, but servers live for the whole session, and the same
    arguments give the same server."""
    yield from _factory(True, "wsgikit_server_session")


# ----------------------------------------------------------------- wsgi_app servers


def _live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    factory = ServerFactory(who=request.fixturename or "wsgikit_server")
    try:
        yield factory(_wsgi_app(request), **_settings(request))
    finally:
        factory.close()


@pytest.fixture
def wsgikit_live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live server for your ``wsgi_app`` fixture, for one test."""
    yield from _live(request)


@pytest.fixture(scope="module")
def wsgikit_live_server_module(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live server for your ``wsgi_app`` fixture, shared by the tests of a module."""
    yield from _live(request)


@pytest.fixture(scope="session")
def wsgikit_live_server_session(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live server for your ``wsgi_app`` fixture, shared by the whole session."""
    yield from _live(request)


def server_fixture(
    app: Any, *, scope: str = "session", **settings: Any
) -> Callable[..., Iterator[LiveServer]]:
    """Declare a live-server fixture of your own in a conftest::

        site = server_fixture("myproject.wsgi:application", scope="session", workers=2)

    makes a fixture named ``site`` (the name it is assigned to) serving ``app``
    with ``settings`` for the given ``scope``.
    """

    def fixture(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
        factory = ServerFactory(who=request.fixturename or "wsgikit_server")
        try:
            yield factory(app, **settings)
        finally:
            factory.close()

    return pytest.fixture(scope=scope)(fixture)  # type: ignore[call-overload, no-any-return]


# ----------------------------------------------------------------- failure reports


def _servers_of(item: pytest.Item) -> list[LiveServer]:
    """The pre-fork servers a test used: its fixtures' servers and factories' servers."""
    from .testing import LiveServer

    found: list[LiveServer] = []
    for value in getattr(item, "funcargs", {}).values():
        candidates = value.servers if isinstance(value, ServerFactory) else [value]
        for server in candidates:
            if isinstance(server, LiveServer) and server.prefork and server not in found:
                found.append(server)
    return found


_OFFSETS = pytest.StashKey[dict[int, tuple[int, int]]]()
_SHARED = {"wsgikit_live_server_module": "module", "wsgikit_live_server_session": "session"}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Remember where each shared server's log stood when the test began; warn when
    a shared server cannot follow the test's marker."""
    item.stash[_OFFSETS] = {id(s): (s.log_size(), s.log_reported) for s in _servers_of(item)}
    _warn_unfollowed_marker(item)


def _warn_unfollowed_marker(item: pytest.Item) -> None:
    """A shared server was started with the settings its scope sees; a marker closer to
    the test asking for others is not followed, and the test is told so."""
    funcargs = getattr(item, "funcargs", {})
    for name, scope in _SHARED.items():
        server = funcargs.get(name)
        if server is None:
            continue
        used = {"workers": server.workers, **server.settings}
        wanted = _settings_of(item.config, item)
        if wanted == used:
            continue
        instead = (
            "wsgikit_live_server_module with the marker on the module"
            if scope == "session"
            else "the marker on the module"
        )
        item.warn(
            pytest.PytestWarning(
                f"{name} is shared by the whole {scope} and serves with {_spelled(used)}: "
                f"it cannot follow this test's @pytest.mark.{MARKER} (which asks for "
                f"{_spelled(wanted)}); "
                f"use wsgikit_live_server (a server for this test), or {instead}"
            )
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and call.when in ("call", "teardown"):
        offsets = item.stash.get(_OFFSETS, {})
        for server in _servers_of(item):
            text = server.log_text()
            start, reported = offsets.get(id(server), (0, server.log_reported))
            if server.log_reported != reported:  # an error of this test showed the log
                if server.log_reported >= len(text):
                    continue
                shown = server.log_reported
                text = f"----- (the error above showed the log until here) -----\n{text[shown:]}"
            elif 0 < start < len(text):
                text = f"{text[:start]}----- {item.name} began here -----\n{text[start:]}"
            report.sections.append((f"{_LOG_SECTION}, pid {server.master_pid}", text))
