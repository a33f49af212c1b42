"""The error log and the access log, on the standard library's ``logging``.

Nothing is configured on import: a :class:`Logs` instance attaches handlers
when a server starts and removes them in :meth:`Logs.close`. Files are
reopened by :meth:`Logs.reopen` (``SIGUSR1``), so logrotate works.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .config import Config, ConfigError

if TYPE_CHECKING:
    from .wsgi import ResponseInfo

__all__ = ["Logs"]

ERROR_LOGGER = "wsgikit.error"
ACCESS_LOGGER = "wsgikit.access"
_ERROR_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def _user(environ: dict[str, Any]) -> str:
    user = environ.get("REMOTE_USER")
    if user:
        return str(user)
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:6].lower() == "basic ":
        try:
            return base64.b64decode(auth[6:]).decode("latin-1").split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return "-"
    return "-"


class _Atoms(dict[str, Any]):
    """Gunicorn's access log atoms; ``{name}i/o/e`` resolved on demand."""

    def __init__(self, environ: dict[str, Any], info: ResponseInfo, duration: float) -> None:
        query = environ.get("QUERY_STRING", "")
        uri = environ.get("RAW_URI", "")
        super().__init__(
            h=environ.get("REMOTE_ADDR") or "-",
            l="-",
            u=_user(environ),
            t=time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
            r=f"{environ.get('REQUEST_METHOD', '-')} {uri} {environ.get('SERVER_PROTOCOL', '-')}",
            m=environ.get("REQUEST_METHOD", "-"),
            U=environ.get("PATH_INFO", ""),
            q=query,
            H=environ.get("SERVER_PROTOCOL", "-"),
            s=info.status,
            B=info.sent,
            b=str(info.sent) if info.sent else "-",
            f=environ.get("HTTP_REFERER", "-"),
            a=environ.get("HTTP_USER_AGENT", "-"),
            T=int(duration),
            M=int(duration * 1000),
            D=int(duration * 1_000_000),
            L=f"{duration:.6f}",
            p=f"<{os.getpid()}>",
        )
        self._environ = environ
        self._info = info

    def __missing__(self, key: str) -> str:
        if len(key) > 3 and key[0] == "{" and key[-2] == "}":
            name, kind = key[1:-2], key[-1]
            if kind == "i":
                value = self._environ.get("HTTP_" + name.upper().replace("-", "_"))
                return "-" if value is None else str(value)
            if kind == "o":
                for header, value in self._info.headers or ():
                    if header.lower() == name.lower():
                        return value
                return "-"
            if kind == "e":
                return str(self._environ.get(name, "-"))
        return "-"


class _ReopenableFileHandler(logging.FileHandler):
    """A file handler whose file can be reopened after rotation."""

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.close()
            self.stream = self._open()
        finally:
            self.release()


def _handler(name: str, target: str, default_stream: Any) -> logging.Handler:
    """A handler for ``target`` ("-": the stream); a file that cannot be opened is a
    :class:`ConfigError` naming setting ``name``."""
    if target == "-":
        return logging.StreamHandler(default_stream)
    try:
        return _ReopenableFileHandler(target, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, f"cannot open {target!r}: {exc.strerror or exc}") from None


class Logs:
    """The logs of one running server, configured from :class:`Config`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.error = logging.getLogger(ERROR_LOGGER)
        self.access_logger = logging.getLogger(ACCESS_LOGGER)
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._json = config.access_log_json
        self._format = config.access_log_format
        if config.logconfig_dict is not None:
            from logging.config import dictConfig  # only with a log config: not at every start

            try:
                dictConfig(config.logconfig_dict)
            except (ValueError, KeyError, TypeError, AttributeError, ImportError) as exc:
                raise ConfigError("logconfig_dict", f"{type(exc).__name__}: {exc}") from None
        elif config.logconfig:
            self._load_config_file(config.logconfig)
        else:
            self._attach(
                self.error, _handler("errorlog", config.errorlog, sys.stderr), _ERROR_FORMAT
            )
            self.error.setLevel(config.loglevel.upper())
            if config.accesslog is not None:
                access = _handler("accesslog", config.accesslog, sys.stdout)
                self._attach(self.access_logger, access, None)
                self.access_logger.setLevel(logging.INFO)
        self.access_enabled = (
            config.accesslog is not None
            or config.logconfig_dict is not None
            or config.logconfig is not None
        )

    def _load_config_file(self, path: str) -> None:
        from logging.config import dictConfig, fileConfig  # only with a log config

        try:
            if path.endswith(".json"):
                with open(path, encoding="utf-8") as file:
                    dictConfig(json.load(file))
            elif not os.path.exists(path):  # fileConfig's own error would be a KeyError
                raise FileNotFoundError(f"no such file: {path!r}")
            else:
                fileConfig(path, disable_existing_loggers=False)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise ConfigError("logconfig", f"cannot use {path!r}: {reason}") from None

    def _attach(self, logger: logging.Logger, handler: logging.Handler, fmt: str | None) -> None:
        handler.setFormatter(logging.Formatter(fmt or "%(message)s", _DATE_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
        self._handlers.append((logger, handler))

    def access(self, environ: dict[str, Any], info: ResponseInfo, duration: float) -> None:
        """Write one access log line (the server's ``access_log`` callable)."""
        atoms = _Atoms(environ, info, duration)
        if self._json:
            record = {
                "remote_addr": atoms["h"],
                "user": atoms["u"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "method": atoms["m"],
                "path": atoms["U"],
                "query": atoms["q"],
                "protocol": atoms["H"],
                "status": atoms["s"],
                "bytes": atoms["B"],
                "referer": atoms["f"],
                "user_agent": atoms["a"],
                "duration_ms": round(duration * 1000, 3),
                "pid": os.getpid(),
            }
            self.access_logger.info(json.dumps(record))
            return
        try:
            line = self._format % atoms
        except (KeyError, ValueError, TypeError) as exc:
            line = f"bad access_log_format ({exc}): {atoms['r']} {atoms['s']}"
        self.access_logger.info(line)

    def reopen(self) -> None:
        """Reopen log files (``SIGUSR1``), for logrotate."""
        for _, handler in self._handlers:
            if isinstance(handler, _ReopenableFileHandler):
                handler.reopen()

    def close(self) -> None:
        """Detach and close the handlers this instance added."""
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
            handler.close()
        self._handlers.clear()
