"""One typed, frozen settings object, declared once.

Every setting is a field of :class:`Config` whose metadata names its command
line flags, its help text and its converter. The CLI, the config file loader
(which accepts Gunicorn's setting names, see :mod:`wsgikit.config_sources`), the
``WSGIKIT_*`` environment variables and the docs reference are all derived from
these declarations.
Validation happens here, once: a bad value raises :class:`ConfigError` naming
the setting and what it expected.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

__all__ = [
    "Config",
    "ConfigError",
    "SETTINGS",
    "Setting",
    "default_workers",
    "HOOK_NAMES",
    "MAX_SECONDS",
    "REQUEST_LIMITS",
]


class ConfigError(ValueError):
    """A setting has a bad value. ``str(exc)`` is one line naming the setting."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"setting '{name}': {message}")
        self.setting = name
        self.reason = message


# ---------------------------------------------------------------- converters

Converter = Callable[[str, Any], Any]


#: The longest duration a setting accepts: one week. Every wait of every worker honours
#: it; the tightest limit below is poll(2)'s timeout, an int of milliseconds (24.8 days),
#: and values like ``inf`` or ``1e20`` overflow ``settimeout`` and friends.
MAX_SECONDS = 7 * 24 * 3600.0
#: The largest byte count of a setting that measures disk or memory (a C ``ssize_t``).
_MAX_BYTES = 2**63 - 1
#: The largest integer a setting takes: what the C calls behind them (listen(),
#: thread counts, buffer sizes) accept without an OverflowError.
INT_MAX = 2**31 - 1


def _int(minimum: int | None = None, maximum: int = INT_MAX) -> Converter:
    def convert(name: str, value: Any) -> int:
        if isinstance(value, bool):
            raise ConfigError(name, f"expected an integer, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(name, f"expected an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(name, f"expected an integer >= {minimum}, got {number}")
        if number > maximum:
            raise ConfigError(name, f"expected an integer <= {maximum}, got {number}")
        return number

    return convert


#: The largest value of each request-head limit. 0 (Gunicorn's "no limit") and larger
#: values mean this one, as Gunicorn lowers its own to its maxima: a head stays bounded.
REQUEST_LIMITS: Mapping[str, int] = {
    "limit_request_line": 8190 * 4,
    "limit_request_fields": 32768,  # Gunicorn's own maximum
    "limit_request_field_size": 65536,
}


def _request_limit(minimum: int) -> Converter:
    """A request-head limit: ``minimum`` .. its maximum; 0 or more than it is the maximum."""

    def convert(name: str, value: Any) -> int:
        number: int = _int(0, maximum=2**1000)(name, value)  # any size: more is the maximum
        maximum = REQUEST_LIMITS[name]
        if number == 0 or number > maximum:
            return maximum
        if number < minimum:
            raise ConfigError(
                name, f"expected {minimum} to {maximum} (0 for the largest), got {number}"
            )
        return number

    return convert


def _opt_int(minimum: int, maximum: int = INT_MAX) -> Converter:
    inner = _int(minimum, maximum)

    def convert(name: str, value: Any) -> int | None:
        if value is None or value == "" or (isinstance(value, str) and value.lower() == "none"):
            return None
        return inner(name, value)  # type: ignore[no-any-return]

    return convert


def _body_limit(name: str, value: Any) -> int | None:
    """A byte count; 0 (or None from Python) means no limit. An empty value is an
    error, not "no limit": ``--limit-request-body ""`` is a mistake, not a choice."""
    if isinstance(value, str) and not value.strip():
        raise ConfigError(name, "expected a number of bytes (0 for no limit), got ''")
    number = _opt_int(0, 2**63 - 1)(name, value)
    return number or None


def _float(minimum: float = 0.0, maximum: float = MAX_SECONDS) -> Converter:
    def convert(name: str, value: Any) -> float:
        if isinstance(value, bool):
            raise ConfigError(name, f"expected a number of seconds, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(name, f"expected a number of seconds, got {value!r}") from None
        if number != number or number < minimum:
            raise ConfigError(name, f"expected a number >= {minimum:g}, got {value!r}")
        if number > maximum:
            raise ConfigError(
                name,
                f"expected at most {maximum:g} seconds ({maximum / 86400:g} days), got {value!r}",
            )
        return number

    return convert


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, f"expected true or false, got {value!r}")


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(name, f"expected a string, got {value!r}")
    return value


def _opt_str(name: str, value: Any) -> str | None:
    if value is None:
        return None
    return _str(name, value)


def _choice(*choices: str, aliases: Mapping[str, str] | None = None) -> Converter:
    def convert(name: str, value: Any) -> str:
        text = str(value).strip().lower()
        text = (aliases or {}).get(text, text)
        if text not in choices:
            raise ConfigError(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return convert


def _binds(name: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    try:
        result = tuple(str(item).strip() for item in items)
    except TypeError:
        raise ConfigError(
            name, f"expected an address or a list of addresses, got {value!r}"
        ) from None
    if not result or any(not item for item in result):
        raise ConfigError(name, "expected at least one address like 127.0.0.1:8000")
    from .binds import BindError, parse_bind

    for item in result:
        try:
            parse_bind(item)
        except BindError as exc:
            raise ConfigError(name, str(exc)) from None
    return result


def _paths(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p for p in value.split(",") if p)
    return tuple(str(p) for p in value)


def _opt_umask(name: str, value: Any) -> int | None:
    """``None`` (or an empty string): leave the inherited umask alone; else :func:`_umask`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _umask(name, value)


def _umask(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip()
        if len(text) > 1 and text[0] == "0" and text[1].isdigit():
            text = "0o" + text[1:]  # as Gunicorn reads it: 022 is octal, 22 decimal
        try:
            number = int(text, 0)
        except ValueError:
            raise ConfigError(name, f"expected an octal mask like 0o22, got {value!r}") from None
    if not 0 <= number <= 0o777:
        raise ConfigError(name, f"expected a mask between 0 and 0o777, got {value!r}")
    return number


def _hook(name: str, value: Any) -> Callable[..., Any] | None:
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    raise ConfigError(name, f"expected a callable, got {value!r}")


def _dict(name: str, value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise ConfigError(name, f"expected a dict, got {value!r}")


def _env_pairs(name: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if "=" not in str(item):
            raise ConfigError(name, f"expected KEY=VALUE, got {item!r}")
    return tuple(str(item) for item in items)


def _ip_list(name: str, value: Any) -> tuple[str, ...]:
    """Comma-separated (or listed) IP addresses and CIDR networks, or ``*``."""
    import ipaddress

    items = [value] if isinstance(value, str) else value
    try:
        entries = [e.strip() for item in items for e in str(item).split(",") if e.strip()]
    except TypeError:
        raise ConfigError(
            name, f"expected addresses like 127.0.0.1,10.0.0.0/8 or *, got {value!r}"
        ) from None
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            raise ConfigError(
                name, f"expected IP addresses, networks (10.0.0.0/8) or '*', got {entry!r}"
            ) from None
    return tuple(entries)


def _str_dict(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(name, f"expected a dict of header name to value, got {value!r}")
    return {k.strip().upper(): v for k, v in value.items()}


def _cert_reqs(name: str, value: Any) -> int:
    """0/1/2 as Gunicorn (ssl.CERT_NONE/OPTIONAL/REQUIRED), or those names."""
    names = {"none": 0, "cert_none": 0, "optional": 1, "cert_optional": 1}
    names |= {"required": 2, "cert_required": 2}
    if isinstance(value, str) and value.strip().lower() in names:
        return names[value.strip().lower()]
    number = _int(0)(name, value)
    if number > 2:
        raise ConfigError(name, f"expected 0 (none), 1 (optional) or 2 (required), got {value!r}")
    return number  # type: ignore[no-any-return]


def _address(name: str, value: Any) -> str | None:
    """An optional HOST:PORT (or unix:PATH) to listen on."""
    if value is None or value == "":
        return None
    return _binds(name, value)[0]


def _statsd_address(name: str, value: Any) -> str | None:
    """HOST:PORT or unix://PATH (Gunicorn's forms)."""
    if value is None or value == "":
        return None
    text = _str(name, value).strip()
    if text.startswith("unix://") or text.startswith("unix:"):
        if not text.split(":", 1)[1].lstrip("/"):
            raise ConfigError(name, f"expected unix://PATH, got {value!r}")
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ConfigError(name, f"expected HOST:PORT or unix://PATH, got {value!r}")
    return text


def _megabytes(name: str, value: Any) -> int:
    return _int(0)(name, value)  # type: ignore[no-any-return]


_PROXY_ALIASES = {"true": "auto", "1": "auto", "false": "off", "0": "off", "none": "off"}


_FORWARDED_ALLOW_IPS = ("127.0.0.1", "::1")


def _forwarded_allow_ips_default() -> tuple[str, ...]:
    """``$FORWARDED_ALLOW_IPS`` when set (as Gunicorn), else the local host only.

    Read when a :class:`Config` is built, never at import, so a bad value is the
    usual one-line error naming the setting (and the variable it came from).
    """
    text = os.environ.get("FORWARDED_ALLOW_IPS")
    if text is None:
        return _FORWARDED_ALLOW_IPS
    try:
        return _ip_list("forwarded_allow_ips", text)
    except ConfigError as exc:
        raise ConfigError(
            "forwarded_allow_ips", f"{exc.reason} (from $FORWARDED_ALLOW_IPS)"
        ) from None


def _secure_scheme_headers_default() -> dict[str, str]:
    """Gunicorn's default: the header values that mean the client used HTTPS."""
    return {"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}


# ------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Setting:
    """How one setting is spelled on the command line and converted."""

    name: str
    flags: tuple[str, ...]
    help: str
    convert: Converter
    section: str
    default: Any = None
    action: str | None = None  # argparse action for flags (store_true, append)
    metavar: str | None = None
    cli: bool = True
    const: Any = None  # the value of a flag given without one (argparse nargs="?")

    def show(self, value: Any) -> str:
        """``value`` as people write it: file modes and masks in octal (``0o600``)."""
        octal = self.convert in (_umask, _opt_umask)
        if octal and isinstance(value, int) and not isinstance(value, bool):
            return oct(value)
        return repr(value)


def setting(
    default: Any,
    *flags: str,
    help: str,
    convert: Converter,
    section: str,
    action: str | None = None,
    metavar: str | None = None,
    cli: bool = True,
    default_factory: Callable[[], Any] | None = None,
    const: Any = None,
) -> Any:
    meta = {
        "const": const,
        "flags": flags,
        "help": help,
        "convert": convert,
        "section": section,
        "action": action,
        "metavar": metavar,
        "cli": cli,
    }
    if default_factory is not None:
        # ``default`` (when given) is what SETTINGS and the docs show: a factory may
        # read the environment, which must wait until a Config is built.
        meta["shown_default"] = default
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def _cgroup_cpus(root: str) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (v2 ``cpu.max``, else v1
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us``); None when there is none."""
    try:
        with open(os.path.join(root, "cpu.max"), encoding="ascii") as f:
            quota, _, period = f.read().strip().partition(" ")
        if quota != "max":
            return int(quota) / int(period or "100000")
        return None
    except (OSError, ValueError):
        pass
    for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        try:
            with open(os.path.join(root, sub, "cpu.cfs_quota_us"), encoding="ascii") as f:
                quota_us = int(f.read().strip())
            with open(os.path.join(root, sub, "cpu.cfs_period_us"), encoding="ascii") as f:
                period_us = int(f.read().strip())
        except (OSError, ValueError):
            continue
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


def available_cpus(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """The CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota
    (a container's ``--cpus``), rounded up; at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = _cgroup_cpus(cgroup_root)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def default_workers(environ: Mapping[str, str] | None = None) -> int:
    """``WEB_CONCURRENCY`` when set, else the CPUs this process may use (affinity and the
    cgroup CPU quota, see :func:`available_cpus`)."""
    env = os.environ if environ is None else environ
    value = env.get("WEB_CONCURRENCY")
    if value:
        return _int(1)("WEB_CONCURRENCY", value)  # type: ignore[no-any-return]
    return available_cpus()


def port_bind(environ: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """``0.0.0.0:$PORT`` when ``PORT`` is set (a PaaS or container names the port; Gunicorn
    binds it when no bind is given), else None."""
    env = os.environ if environ is None else environ
    value = (env.get("PORT") or "").strip()
    if not value:
        return None
    port = _int(1, 65535)("PORT", value)
    return (f"0.0.0.0:{port}",)


def _hook_field() -> Any:
    return setting(None, help="", convert=_hook, section="hooks", cli=False)


@dataclass(frozen=True)
class Config:
    """All of wsgikit's settings; build with keyword arguments or :meth:`load`."""

    # --- server socket
    bind: tuple[str, ...] = setting(
        ("127.0.0.1:8000",),
        "-b",
        "--bind",
        action="append",
        metavar="ADDRESS",
        help="Address to listen on: HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N; repeatable. "
        "Default: 0.0.0.0:$PORT when PORT is set, else 127.0.0.1:8000.",
        convert=_binds,
        section="server socket",
    )
    backlog: int = setting(
        2048,
        "--backlog",
        metavar="INT",
        help="Maximum number of pending connections.",
        convert=_int(1),
        section="server socket",
    )
    reuse_port: bool = setting(
        False,
        "--reuse-port",
        action="store_true",
        help="Set SO_REUSEPORT on listening sockets.",
        convert=_bool,
        section="server socket",
    )
    # --- workers
    workers: int | None = setting(
        None,
        "-w",
        "--workers",
        metavar="INT",
        help="Worker processes; 0 serves in this process (no supervisor). "
        "Default: $WEB_CONCURRENCY, else the CPUs this process may use (affinity, cgroup quota). "
        "At most the processes the system allows (the fewest of kernel.threads-max, "
        "kernel.pid_max and, for a user other than root, ulimit -u), checked before forking.",
        convert=_opt_int(0),
        section="worker processes",
    )
    worker_class: str = setting(
        "threaded",
        "-k",
        "--worker-class",
        metavar="STRING",
        help="Worker type: threaded (alias gthread; slow clients never hold an app thread) "
        "or sync (one connection at a time). sync with --threads > 1 runs threaded.",
        convert=_choice(
            "sync",
            "threaded",
            aliases={
                "gthread": "threaded",
                # Gunicorn's other spellings of its own two classes.
                "gunicorn.workers.sync.syncworker": "sync",
                "gunicorn.workers.gthread.threadworker": "threaded",
                "egg:gunicorn#sync": "sync",
                "egg:gunicorn#gthread": "threaded",
            },
        ),
        section="worker processes",
    )
    threads: int = setting(
        1,
        "--threads",
        metavar="INT",
        help="Most application threads per worker (threaded worker); each is started when a "
        "request finds none idle, as Gunicorn's ThreadPoolExecutor does, so a large value costs "
        "nothing at boot. At most what one process may run (the fewest of kernel.threads-max, "
        "kernel.pid_max, ulimit -u for a user other than root, and vm.max_map_count / 2), "
        "checked before forking.",
        convert=_int(1),
        section="worker processes",
    )
    worker_connections: int = setting(
        1000,
        "--worker-connections",
        metavar="INT",
        help="Most connections one worker holds at once (threaded worker). At most the hard "
        "open-files limit (ulimit -Hn; each connection is a file descriptor), checked before "
        "forking; the default 1000 always starts. Above the soft limit (ulimit -n) accepting "
        "pauses when a worker runs out of descriptors: raise it (LimitNOFILE=, --ulimit).",
        convert=_int(1),
        section="worker processes",
    )
    max_requests: int = setting(
        0,
        "--max-requests",
        metavar="INT",
        help="Restart a worker after this many requests; 0 disables.",
        convert=_int(0),
        section="worker processes",
    )
    max_requests_jitter: int = setting(
        0,
        "--max-requests-jitter",
        metavar="INT",
        help="Add a random 0..N to max_requests per worker.",
        convert=_int(0),
        section="worker processes",
    )
    max_worker_memory: int = setting(
        0,
        "--max-worker-memory",
        metavar="MB",
        help="Replace a worker whose resident memory passes this many MiB, after its "
        "current requests; 0 disables.",
        convert=_megabytes,
        section="worker processes",
    )
    timeout: float = setting(
        30.0,
        "-t",
        "--timeout",
        metavar="SECONDS",
        help="A worker silent, or a request without progress, for longer than this is "
        "killed and restarted.",
        convert=_float(0.0),
        section="worker processes",
    )
    graceful_timeout: float = setting(
        30.0,
        "--graceful-timeout",
        metavar="SECONDS",
        help="How long a graceful stop waits for requests in flight.",
        convert=_float(0.0),
        section="worker processes",
    )
    keepalive: float = setting(
        2.0,
        "--keep-alive",
        metavar="SECONDS",
        help="How long an idle keep-alive connection is kept open.",
        convert=_float(0.0),
        section="worker processes",
    )
    header_timeout: float = setting(
        10.0,
        "--header-timeout",
        metavar="SECONDS",
        help="How long a client may take to send a request head (answered 408).",
        convert=_float(0.001),
        section="worker processes",
    )
    body_timeout: float = setting(
        30.0,
        "--body-timeout",
        metavar="SECONDS",
        help="How long a read of the request body may stall (answered 408).",
        convert=_float(0.001),
        section="worker processes",
    )
    write_timeout: float = setting(
        30.0,
        "--write-timeout",
        metavar="SECONDS",
        help="How long a write of the response may stall before the client counts as gone.",
        convert=_float(0.001),
        section="worker processes",
    )
    spool_threshold: int = setting(
        1 << 20,
        "--spool-threshold",
        metavar="BYTES",
        help="Request bodies larger than this are spooled to a temporary file (threaded worker).",
        convert=_int(0),
        section="worker processes",
    )
    spool_dir: str | None = setting(
        None,
        "--spool-dir",
        metavar="DIR",
        help="Directory of the spooled request bodies and responses (threaded worker; "
        "Gunicorn's tmp_upload_dir); default: the system's temporary directory ($TMPDIR, /tmp...).",
        convert=_opt_str,
        section="worker processes",
    )
    buffer_memory: int = setting(
        32 << 20,
        "--buffer-memory",
        metavar="BYTES",
        help="Most bytes of request bodies, unsent responses and unfinished request heads "
        "one worker keeps in memory (threaded worker); past it bodies and responses are "
        "spooled sooner and the largest unfinished heads are answered 503.",
        convert=_int(0, _MAX_BYTES),
        section="worker processes",
    )
    spool_budget: int = setting(
        1 << 30,
        "--spool-budget",
        metavar="BYTES",
        help="Most bytes one worker keeps in the spool directory (threaded worker). A "
        "request body that does not fit now is answered 503 with Retry-After; one that "
        "could never fit, 413; a response waits for its client.",
        convert=_int(0, _MAX_BYTES),
        section="worker processes",
    )
    response_spool_limit: int = setting(
        64 << 20,
        "--response-spool-limit",
        metavar="BYTES",
        help="Most bytes of one response spooled for a client that reads slower than the app "
        "writes (threaded worker); past it the app thread waits for the client, at most "
        "--write-timeout without progress, 1 s while other requests wait for a thread.",
        convert=_int(0, _MAX_BYTES),
        section="worker processes",
    )
    # --- security / limits
    limit_request_line: int = setting(
        4094,
        "--limit-request-line",
        metavar="INT",
        help="Maximum size of the request line in bytes (414 beyond); at most 32760, "
        "which 0 (Gunicorn's 'no limit') means.",
        convert=_request_limit(16),
        section="security",
    )
    limit_request_fields: int = setting(
        100,
        "--limit-request-fields",
        metavar="INT",
        help="Maximum number of header fields (431 beyond); at most 32768, which 0 means.",
        convert=_request_limit(1),
        section="security",
    )
    limit_request_field_size: int = setting(
        8190,
        "--limit-request-field-size",
        "--limit-request-field_size",  # Gunicorn's spelling
        metavar="INT",
        help="Maximum size of one header field in bytes (431 beyond); at most 65536, "
        "which 0 (Gunicorn's 'no limit') means.",
        convert=_request_limit(16),
        section="security",
    )
    limit_request_body: int | None = setting(
        1 << 30,
        "--limit-request-body",
        metavar="BYTES",
        help="Maximum request body size in bytes (413 beyond); 0 for no limit. "
        "The threaded worker reads bodies before the app runs, so this bounds its spool.",
        convert=_body_limit,
        section="security",
    )
    # --- TLS
    certfile: str | None = setting(
        None,
        "--certfile",
        metavar="FILE",
        help="TLS certificate (PEM, chain included); serves HTTPS on every listener.",
        convert=_opt_str,
        section="tls",
    )
    keyfile: str | None = setting(
        None,
        "--keyfile",
        metavar="FILE",
        help="TLS private key (PEM); default: the key inside certfile.",
        convert=_opt_str,
        section="tls",
    )
    ca_certs: str | None = setting(
        None,
        "--ca-certs",
        metavar="FILE",
        help="CA certificates (PEM) to verify client certificates with.",
        convert=_opt_str,
        section="tls",
    )
    cert_reqs: int = setting(
        0,
        "--cert-reqs",
        metavar="INT",
        help="Client certificates: 0 not asked, 1 optional, 2 required (ssl.CERT_*).",
        convert=_cert_reqs,
        section="tls",
    )
    ciphers: str | None = setting(
        None,
        "--ciphers",
        metavar="STRING",
        help="OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's); "
        "default: Python's. TLS 1.2 is the minimum version.",
        convert=_opt_str,
        section="tls",
    )
    ssl_context: Callable[..., Any] | None = setting(
        None,
        help="ssl_context(config, default_ssl_context_factory) -> ssl.SSLContext: "
        "customize the context (Gunicorn's hook).",
        convert=_hook,
        section="tls",
        cli=False,
    )
    # --- proxies
    forwarded_allow_ips: tuple[str, ...] = setting(
        _FORWARDED_ALLOW_IPS,  # the documented default; the factory reads the environment
        "--forwarded-allow-ips",
        metavar="IPS",
        help="Proxies (IPs, networks, or *) whose X-Forwarded-*/Forwarded headers are "
        "trusted; default $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1. Unix-socket peers "
        "are always trusted.",
        convert=_ip_list,
        section="proxies",
        default_factory=_forwarded_allow_ips_default,
    )
    secure_scheme_headers: dict[str, str] = setting(
        None,
        help="Headers (and the exact value) a trusted proxy sets for HTTPS requests; "
        "contradicting ones are a 400.",
        convert=_str_dict,
        section="proxies",
        cli=False,
        default_factory=_secure_scheme_headers_default,
    )
    forwarded_client_headers: str = setting(
        "x-forwarded",
        "--forwarded-client-headers",
        metavar="KIND",
        help="Which trusted headers give the client's address, host and port: "
        "x-forwarded (X-Forwarded-For/-Host/-Port), forwarded (RFC 7239) or none.",
        convert=_choice("x-forwarded", "forwarded", "none"),
        section="proxies",
    )
    proxy_protocol: str = setting(
        "off",
        "--proxy-protocol",
        metavar="MODE",
        help="Expect a PROXY protocol header (off, v1, v2, auto; the flag alone means "
        "auto) from proxy_allow_ips peers; from other peers a PROXY header closes the "
        "connection.",
        convert=_choice("off", "v1", "v2", "auto", aliases=_PROXY_ALIASES),
        section="proxies",
        const="auto",
    )
    proxy_allow_ips: tuple[str, ...] = setting(
        ("127.0.0.1", "::1"),
        "--proxy-allow-from",
        "--proxy-allow-ips",
        metavar="IPS",
        help="Peers (IPs, networks, or *) that must send the PROXY header. "
        "Unix-socket peers always must.",
        convert=_ip_list,
        section="proxies",
    )
    # --- status and metrics
    control_socket: str | None = setting(
        None,
        "--control-socket",
        metavar="PATH",
        help="Unix socket of the control interface (wsgikit ctl), in a directory that "
        "exists; off by default.",
        convert=_opt_str,
        section="status and metrics",
    )
    control_socket_mode: int = setting(
        0o600,
        "--control-socket-mode",
        metavar="INT",
        help="Permissions of the control socket (e.g. 0o660 to let the group in).",
        convert=_umask,
        section="status and metrics",
    )
    control_socket_disable: bool = setting(
        False,
        "--no-control-socket",
        action="store_true",
        help="No control socket, even if control_socket is set.",
        convert=_bool,
        section="status and metrics",
    )
    metrics_bind: str | None = setting(
        None,
        "--metrics-bind",
        metavar="ADDRESS",
        help="Serve Prometheus metrics (/metrics) and a health check (/healthz) from "
        "the master on HOST:PORT or unix:PATH; off by default.",
        convert=_address,
        section="status and metrics",
    )
    statsd_host: str | None = setting(
        None,
        "--statsd-host",
        metavar="ADDRESS",
        help="Send the counters to this StatsD server (HOST:PORT or unix://PATH) "
        "every second, from the master.",
        convert=_statsd_address,
        section="status and metrics",
    )
    statsd_prefix: str = setting(
        "",
        "--statsd-prefix",
        metavar="STRING",
        help="Prefix of the StatsD metric names (a '.' is added).",
        convert=_str,
        section="status and metrics",
    )
    dogstatsd_tags: str = setting(
        "",
        "--dogstatsd-tags",
        metavar="TAGS",
        help="Datadog tags added to every StatsD metric (tag1:value1,tag2:value2).",
        convert=_str,
        section="status and metrics",
    )
    # --- application
    wsgi_app: str | None = setting(
        None,
        help="The application, as module:attr or module:factory().",
        convert=_opt_str,
        section="application",
        cli=False,
    )
    root_path: str = setting(
        "",
        "--root-path",
        metavar="PATH",
        help="Mount point of the app: SCRIPT_NAME, stripped from PATH_INFO.",
        convert=_str,
        section="application",
    )
    server_header: str | None = setting(
        "wsgikit",
        "--server-header",
        metavar="STRING",
        help="Value of the Server response header; empty to send none.",
        convert=_opt_str,
        section="application",
    )
    preload_app: bool = setting(
        False,
        "--preload",
        action="store_true",
        help="Load the app in the master before forking workers.",
        convert=_bool,
        section="application",
    )
    chdir: str | None = setting(
        None,
        "--chdir",
        metavar="DIR",
        help="Change to this directory before loading the app.",
        convert=_opt_str,
        section="application",
    )
    pythonpath: tuple[str, ...] = setting(
        (),
        "--pythonpath",
        metavar="PATHS",
        help="Comma-separated directories to add to the Python path.",
        convert=_paths,
        section="application",
    )
    raw_env: tuple[str, ...] = setting(
        (),
        "-e",
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="Set an environment variable for the app; repeatable.",
        convert=_env_pairs,
        section="application",
    )
    # --- development
    reload: bool = setting(
        False,
        "--reload",
        action="store_true",
        help="Restart the workers when a source file changes (development): the *.py files "
        "under the working directory and --pythonpath, and --reload-extra-file. A new "
        "generation of workers takes over as on HUP; if it cannot load the app, the old "
        "workers keep serving.",
        convert=_bool,
        section="development",
    )
    reload_engine: str = setting(
        "auto",
        "--reload-engine",
        metavar="STRING",
        help="How --reload notices changes: watchfiles (needs the reload extra; alias "
        "inotify), poll (stat the files every second), or auto (watchfiles when installed).",
        convert=_choice("auto", "poll", "watchfiles", aliases={"inotify": "watchfiles"}),
        section="development",
    )
    reload_extra_files: tuple[str, ...] = setting(
        (),
        "--reload-extra-file",
        action="append",
        metavar="FILE",
        help="With --reload, also watch this file (or every file under this directory); "
        "repeatable.",
        convert=_paths,
        section="development",
    )
    # --- process
    daemon: bool = setting(
        False,
        "-D",
        "--daemon",
        action="store_true",
        help="Detach and run in the background.",
        convert=_bool,
        section="process",
    )
    pidfile: str | None = setting(
        None,
        "-p",
        "--pid",
        metavar="FILE",
        help="Write the master's PID to this file.",
        convert=_opt_str,
        section="process",
    )
    user: str | None = setting(
        None,
        "-u",
        "--user",
        metavar="USER",
        help="Switch workers to this user (name or id).",
        convert=_opt_str,
        section="process",
    )
    group: str | None = setting(
        None,
        "-g",
        "--group",
        metavar="GROUP",
        help="Switch workers to this group (name or id).",
        convert=_opt_str,
        section="process",
    )
    umask: int | None = setting(
        None,
        "-m",
        "--umask",
        metavar="INT",
        help=(
            "File mode creation mask (e.g. 0o22) of the files the server creates, unix "
            "sockets included; 0 applies too (a unix socket is then 0777). Default: "
            "unset, the inherited umask stays (Gunicorn's default is 0)."
        ),
        convert=_opt_umask,
        section="process",
    )
    proc_name: str | None = setting(
        None,
        "-n",
        "--name",
        metavar="STRING",
        help="Process title suffix (needs the setproctitle extra).",
        convert=_opt_str,
        section="process",
    )
    # --- logging
    loglevel: str = setting(
        "info",
        "--log-level",
        metavar="LEVEL",
        help="Error log level: debug, info, warning, error or critical.",
        convert=_choice("debug", "info", "warning", "error", "critical"),
        section="logging",
    )
    errorlog: str = setting(
        "-",
        "--error-logfile",
        "--log-file",
        metavar="FILE",
        help="Error log file; '-' for stderr.",
        convert=_str,
        section="logging",
    )
    accesslog: str | None = setting(
        None,
        "--access-logfile",
        metavar="FILE",
        help="Access log file; '-' for stdout; default none.",
        convert=_opt_str,
        section="logging",
    )
    access_log_format: str = setting(
        DEFAULT_ACCESS_LOG_FORMAT,
        "--access-logformat",
        metavar="STRING",
        help="Access log format with Gunicorn's atoms (h l u t r s b f a T D M L p {h}i {h}o).",
        convert=_str,
        section="logging",
    )
    access_log_json: bool = setting(
        False,
        "--access-log-json",
        action="store_true",
        help="Write the access log as one JSON object per line.",
        convert=_bool,
        section="logging",
    )
    logconfig: str | None = setting(
        None,
        "--log-config",
        "--log-config-json",  # Gunicorn's flag for a dictConfig JSON file
        metavar="FILE",
        help="A logging configuration: .json (dictConfig) or .ini (fileConfig).",
        convert=_opt_str,
        section="logging",
    )
    logconfig_dict: dict[str, Any] | None = setting(
        None,
        help="A logging.config.dictConfig dictionary.",
        convert=_dict,
        section="logging",
        cli=False,
    )
    # --- hooks (config file or keyword arguments only)
    on_starting: Callable[..., Any] | None = _hook_field()
    when_ready: Callable[..., Any] | None = _hook_field()
    pre_fork: Callable[..., Any] | None = _hook_field()
    post_fork: Callable[..., Any] | None = _hook_field()
    post_worker_init: Callable[..., Any] | None = _hook_field()
    worker_int: Callable[..., Any] | None = _hook_field()
    worker_abort: Callable[..., Any] | None = _hook_field()
    pre_request: Callable[..., Any] | None = _hook_field()
    post_request: Callable[..., Any] | None = _hook_field()
    child_exit: Callable[..., Any] | None = _hook_field()
    worker_exit: Callable[..., Any] | None = _hook_field()
    nworkers_changed: Callable[..., Any] | None = _hook_field()
    on_reload: Callable[..., Any] | None = _hook_field()
    on_exit: Callable[..., Any] | None = _hook_field()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, f.metadata["convert"](f.name, value))
        self._check_tls()

    def _check_tls(self) -> None:
        """TLS settings that make no sense without the others (files are read at start-up).

        Without ``certfile`` TLS is off and the other TLS settings are ignored, as
        Gunicorn ignores them (:attr:`ignored_tls_settings` names them for a warning).
        """
        if self.certfile is not None and self.cert_reqs and self.ca_certs is None:
            raise ConfigError("cert_reqs", "client certificates need ca_certs to verify them")

    @property
    def ignored_tls_settings(self) -> tuple[str, ...]:
        """The TLS settings given that have no effect because ``certfile`` is not."""
        if self.certfile is not None:
            return ()
        names = [n for n in ("keyfile", "ca_certs", "ciphers") if getattr(self, n) is not None]
        return tuple(names + (["cert_reqs"] if self.cert_reqs else []))

    @property
    def tls(self) -> bool:
        """True when the listeners serve HTTPS."""
        return self.certfile is not None

    # ------------------------------------------------------------ derived

    @property
    def resolved_workers(self) -> int:
        """The worker count, with the default (``WEB_CONCURRENCY`` or CPUs) applied."""
        return default_workers() if self.workers is None else self.workers

    @property
    def resolved_worker_class(self) -> str:
        """``sync`` or ``threaded``; as in Gunicorn, sync with threads > 1 runs threaded."""
        return "threaded" if self.threads > 1 else self.worker_class

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed (validated like the original)."""
        unknown = set(changes) - SETTINGS.keys()
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(name, "no such setting")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _declared_default(f: Any) -> Any:
    """A field's default without reading the environment (see :func:`setting`)."""
    if f.default is not MISSING:
        return f.default
    if f.metadata.get("shown_default") is not None:
        return f.metadata["shown_default"]
    return f.default_factory()


def _settings() -> dict[str, Setting]:
    table = {}
    for f in fields(Config):
        meta = f.metadata
        table[f.name] = Setting(
            name=f.name,
            flags=tuple(meta["flags"]),
            help=meta["help"],
            convert=meta["convert"],
            section=meta["section"],
            default=_declared_default(f),
            action=meta["action"],
            metavar=meta["metavar"],
            cli=meta["cli"] and bool(meta["flags"]),
            const=meta["const"],
        )
    return table


SETTINGS: Mapping[str, Setting] = _settings()
"""Every setting by name, in declaration order."""

HOOK_NAMES: tuple[str, ...] = tuple(n for n, s in SETTINGS.items() if s.section == "hooks")
"""The server hooks (Gunicorn's names), declared once above as settings."""
