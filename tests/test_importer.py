"""``import_app``: load a WSGI app from an import string, with one-line errors."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from wsgikit.importer import AppImportError, import_app

_counter = itertools.count()

APP_SOURCE = """
def application(environ, start_response):
    start_response("200 OK", [])
    return [b"default"]

def app(environ, start_response):
    start_response("200 OK", [])
    return [b"app"]

class Holder:
    def wsgi(self, environ, start_response):
        start_response("200 OK", [])
        return [b"nested"]

holder = Holder()
not_callable = 42

def create_app(name="plain", **options):
    def made(environ, start_response):
        start_response("200 OK", [])
        return [repr((name, options)).encode()]
    return made

def broken_factory():
    raise RuntimeError("factory exploded")

def returns_none():
    return None
"""


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write a module with a unique name in a directory on sys.path; return its name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str) -> str:
        name = f"wsgikit_test_app_{next(_counter)}_{id(tmp_path)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return make


def body_of(app: Callable[..., list[bytes]]) -> bytes:
    return b"".join(app({}, lambda status, headers: None))


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    assert "Traceback" not in text
    return text


def test_module_colon_attr(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    assert body_of(import_app(f"{mod}:app")) == b"app"


def test_module_alone_means_application(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    assert body_of(import_app(mod)) == b"default"


def test_dotted_attribute(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    assert body_of(import_app(f"{mod}:holder.wsgi")) == b"nested"


def test_factory_call(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    assert body_of(import_app(f"{mod}:create_app()")) == repr(("plain", {})).encode()


def test_factory_with_literal_arguments(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    app = import_app(f"{mod}:create_app('x', k=1)")
    assert body_of(app) == repr(("x", {"k": 1})).encode()


def test_spaces_around_spec_are_ignored(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    assert body_of(import_app(f"  {mod}:app ")) == b"app"


def test_package_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = tmp_path / f"wsgikit_test_pkg_{next(_counter)}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "web.py").write_text(APP_SOURCE)
    assert body_of(import_app(f"{pkg.name}.web:app")) == b"app"


def test_examples_hello() -> None:
    assert body_of(import_app("examples.hello:application")) == b"Hello, World!"


def test_mistyped_module_is_one_line_without_details() -> None:
    with pytest.raises(AppImportError) as err:
        import_app("wsgikit_no_such_module_xyz:app")
    text = one_line(err.value)
    assert "wsgikit_no_such_module_xyz" in text
    assert err.value.details == ""


def test_mistyped_submodule_is_one_line(make_module: Callable[[str], str]) -> None:
    with pytest.raises(AppImportError) as err:
        import_app("examples.nosuch:app")
    assert "examples.nosuch" in one_line(err.value)
    assert err.value.details == ""


def test_missing_attribute_is_one_line(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:nope")
    text = one_line(err.value)
    assert "nope" in text and mod in text
    assert err.value.details == ""


def test_missing_nested_attribute_is_one_line(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:holder.missing")
    assert "holder.missing" in one_line(err.value)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        ":app",
        "my-app:app",
        "1mod:app",
        "mod:app:x",
        "mod:1abc",
        "mod:app(",
        "mod:a b",
        "mod..x:app",
        "mod:app[0]",
    ],
)
def test_malformed_spec_is_one_line(spec: str) -> None:
    with pytest.raises(AppImportError) as err:
        import_app(spec)
    text = one_line(err.value)
    assert "malformed" in text
    assert err.value.details == ""


def test_non_literal_factory_arguments_are_rejected(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:create_app(__import__('os').getcwd())")
    assert "literal" in one_line(err.value)


def test_star_args_in_factory_are_rejected(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:create_app(**{{'a': 1}})")
    assert "literal" in one_line(err.value)


def test_not_callable_is_one_line(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:not_callable")
    text = one_line(err.value)
    assert "not callable" in text and "int" in text


def test_factory_returning_none_is_not_callable(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:returns_none()")
    assert "not callable" in one_line(err.value)


def test_module_raising_at_import_gives_traceback_details(
    make_module: Callable[[str], str],
) -> None:
    mod = make_module("""
        import os
        VALUE = 1
        raise RuntimeError("database url missing")
    """)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:app")
    text = one_line(err.value)
    assert "RuntimeError" in text and "database url missing" in text
    assert "Traceback" in err.value.details
    assert f"{mod}.py" in err.value.details
    assert 'raise RuntimeError("database url missing")' in err.value.details
    # The traceback starts at the user's module, not in the import machinery.
    assert "importlib" not in err.value.details
    assert "wsgikit/importer.py" not in err.value.details


def test_module_with_syntax_error_gives_details(make_module: Callable[[str], str]) -> None:
    mod = make_module("def application(:\n    pass\n")
    with pytest.raises(AppImportError) as err:
        import_app(mod)
    assert "SyntaxError" in one_line(err.value)
    assert "SyntaxError" in err.value.details


def test_module_importing_a_missing_dependency_gives_details(
    make_module: Callable[[str], str],
) -> None:
    mod = make_module("import wsgikit_missing_dependency_xyz\n")
    with pytest.raises(AppImportError) as err:
        import_app(mod)
    # The app's own module exists: the missing one is its dependency, a bug to show.
    assert "wsgikit_missing_dependency_xyz" in one_line(err.value)
    assert "Traceback" in err.value.details
    assert f"{mod}.py" in err.value.details


def test_factory_that_raises_gives_details(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:broken_factory()")
    text = one_line(err.value)
    assert "factory exploded" in text
    assert "Traceback" in err.value.details
    assert "broken_factory" in err.value.details
    assert "wsgikit/importer.py" not in err.value.details


def test_star_args_in_factory_are_rejected_too(make_module: Callable[[str], str]) -> None:
    mod = make_module(APP_SOURCE)
    with pytest.raises(AppImportError) as err:
        import_app(f"{mod}:create_app(*['a'])")
    assert "literal" in one_line(err.value)
