"""Load a WSGI application from an import string, with errors that say what failed.

``module:attr``, ``module:obj.attr``, ``module:factory()`` (literal arguments
allowed: ``module:create_app('prod')``), or ``module`` alone (meaning
``module:application``, as Gunicorn).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["AppImportError", "check_app_spec", "import_app"]


class AppImportError(Exception):
    """The application could not be loaded.

    ``str(exc)`` is one line for the user. ``details`` holds a traceback when
    the app's own code raised (that is the app's bug, and its traceback is
    what the user needs); it is empty for a mistyped import string.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def _user_traceback() -> str:
    """The current exception's traceback without the import machinery's frames.

    What the user needs is where *their* code failed; the frames of this module
    and of importlib in front of it are noise.
    """
    exc = sys.exc_info()[1]
    assert exc is not None
    tb = exc.__traceback__
    while tb is not None and (
        tb.tb_frame.f_code.co_filename == __file__
        or tb.tb_frame.f_code.co_filename.startswith("<frozen importlib")
        or "importlib" in tb.tb_frame.f_code.co_filename.split("/")[-2:-1]
    ):
        tb = tb.tb_next
    if tb is None:
        # Nothing of the user's code ran: a SyntaxError says where it is by itself
        # (file, line and caret), without the import machinery's frames.
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _parse(spec: str) -> tuple[str, str, tuple[Any, ...], dict[str, Any], bool]:
    module, _, attr = spec.strip().partition(":")
    attr = attr or "application"
    if not module or any(not part.isidentifier() for part in module.split(".")):
        raise AppImportError(
            f"malformed app {spec!r}: expected module:attribute, e.g. myapp:application"
        )
    try:
        node = ast.parse(attr, mode="eval").body
    except SyntaxError:
        raise AppImportError(f"malformed app {spec!r}: {attr!r} is not an attribute name") from None
    call = isinstance(node, ast.Call)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if isinstance(node, ast.Call):
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
            if any(k.arg is None for k in node.keywords):
                raise ValueError("**kwargs")  # was silently dropped
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except ValueError:
            raise AppImportError(
                f"malformed app {spec!r}: factory arguments must be literals"
            ) from None
        node = node.func
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise AppImportError(f"malformed app {spec!r}: {attr!r} is not an attribute name")
    parts.append(node.id)
    return module, ".".join(reversed(parts)), args, kwargs, call


def _no_module(module: str, missing: str) -> AppImportError:
    return AppImportError(
        f"cannot import module {module!r}: no module named {missing!r} "
        f"(sys.path[0] is {sys.path[0]!r})"
    )


def check_app_spec(spec: str) -> None:
    """Fail early, without running the app's code, when its module cannot be found.

    The master uses it when workers will import the app themselves.
    """
    module = _parse(spec)[0]
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None:
        raise _no_module(module, top)


def import_app(spec: str) -> Callable[..., Any]:
    """Import and return the WSGI callable named by ``spec``."""
    module_name, attr, args, kwargs, call = _parse(spec)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise _no_module(module_name, exc.name) from None
        raise AppImportError(
            f"error while importing {module_name!r}: {exc}", _user_traceback()
        ) from None
    except Exception as exc:
        raise AppImportError(
            f"error while importing {module_name!r}: {type(exc).__name__}: {exc}",
            _user_traceback(),
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppImportError(f"module {module_name!r} has no attribute {attr!r}") from None
    if call:
        try:
            obj = obj(*args, **kwargs)
        except Exception as exc:
            raise AppImportError(
                f"app factory {spec!r} raised {type(exc).__name__}: {exc}",
                _user_traceback(),
            ) from None
    if not callable(obj):
        raise AppImportError(f"{spec!r} is not callable (it is a {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]
