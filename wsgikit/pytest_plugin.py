"""pytest fixtures for a live wsgikit server (registered via the ``pytest11`` entry point).

- ``wsgikit_server``: a factory; ``wsgikit_server(app, **settings)`` starts a
  :class:`~wsgikit.testing.LiveServer` and stops it after the test.
- ``live_server``: serves the ``wsgi_app`` fixture that your conftest defines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported lazily: pytest loads this plugin before coverage starts
    from .testing import LiveServer

__all__ = ["wsgikit_server", "live_server"]


@pytest.fixture
def wsgikit_server() -> Iterator[Callable[..., LiveServer]]:
    """Start live servers for this test; all are stopped at teardown."""
    from .testing import LiveServer

    started: list[LiveServer] = []

    def start(app: Any, **settings: Any) -> LiveServer:
        server = LiveServer(app, **settings)
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server for the ``wsgi_app`` fixture (define it in your conftest.py)."""
    from .testing import LiveServer

    try:
        app = request.getfixturevalue("wsgi_app")
    except pytest.FixtureLookupError:
        raise pytest.UsageError(
            "the live_server fixture serves your 'wsgi_app' fixture: define one in conftest.py"
        ) from None
    with LiveServer(app) as server:
        yield server
