"""Gunicorn's command lines start: every flag of Gunicorn 27 is accepted, and the ones
wsgikit does not implement say so in one line instead of a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsgikit.cli import load_config, main
from wsgikit.config import REQUEST_LIMITS, ConfigError
from wsgikit.config_sources import NO_EFFECT, load_config_file

# Gunicorn 27.0.1's flags (its `gunicorn --help`), each with a value it would accept.
GUNICORN_FLAGS: list[tuple[str, str | None]] = [
    ("--bind", "127.0.0.1:8001"),
    ("--backlog", "64"),
    ("--workers", "2"),
    ("--worker-class", "gthread"),
    ("--threads", "2"),
    ("--worker-connections", "10"),
    ("--max-requests", "100"),
    ("--max-requests-jitter", "10"),
    ("--timeout", "20"),
    ("--graceful-timeout", "20"),
    ("--keep-alive", "5"),
    ("--limit-request-line", "4000"),
    ("--limit-request-fields", "50"),
    ("--limit-request-field_size", "4000"),
    ("--spew", None),
    ("--check-config", None),
    ("--print-config", None),
    ("--preload", None),
    ("--no-sendfile", None),
    ("--reuse-port", None),
    ("--chdir", "."),
    ("--daemon", None),
    ("--env", "A=B"),
    ("--pid", "/tmp/x.pid"),
    ("--worker-tmp-dir", "/dev/shm"),
    ("--user", "root"),
    ("--group", "root"),
    ("--umask", "022"),
    ("--initgroups", None),
    ("--forwarded-allow-ips", "127.0.0.1"),
    ("--access-logfile", "-"),
    ("--disable-redirect-access-to-syslog", None),
    ("--access-logformat", "%(h)s"),
    ("--error-logfile", "-"),
    ("--log-file", "-"),
    ("--log-level", "debug"),
    ("--capture-output", None),
    ("--logger-class", "gunicorn.glogging.Logger"),
    ("--log-syslog-to", "udp://localhost:514"),
    ("--log-syslog", None),
    ("--log-syslog-prefix", "app"),
    ("--log-syslog-facility", "user"),
    ("--enable-stdio-inheritance", None),
    ("-R", None),
    ("--statsd-host", "localhost:8125"),
    ("--dogstatsd-tags", "env:prod"),
    ("--statsd-prefix", "app"),
    ("--enable-backlog-metric", None),
    ("--name", "app"),
    ("--pythonpath", "."),
    ("--proxy-protocol", "v1"),
    ("--proxy-allow-from", "127.0.0.1"),
    ("--protocol", "http"),
    ("--uwsgi-allow-from", "127.0.0.1"),
    ("--cert-reqs", "0"),
    ("--http-protocols", "h1,h2"),
    ("--http2-cleartext", "off"),
    ("--http2-max-concurrent-streams", "100"),
    ("--http2-initial-window-size", "65535"),
    ("--http2-max-frame-size", "16384"),
    ("--http2-max-header-list-size", "65536"),
    ("--paste-global", "a=b"),
    ("--permit-obsolete-folding", None),
    ("--strip-header-spaces", None),
    ("--permit-unconventional-http-method", None),
    ("--permit-unconventional-http-version", None),
    ("--casefold-http-method", None),
    ("--forwarder-headers", "SCRIPT_NAME"),
    ("--header-map", "refuse"),
    ("--asgi-loop", "auto"),
    ("--asgi-lifespan", "auto"),
    ("--asgi-disconnect-grace-period", "3"),
    ("--websocket-max-message-size", "1000"),
    ("--http-parser", "auto"),
    ("--root-path", "/app"),
    ("--dirty-app", "x:y"),
    ("--dirty-workers", "2"),
    ("--dirty-timeout", "300"),
    ("--dirty-threads", "1"),
    ("--dirty-graceful-timeout", "30"),
    ("--control-socket", "/tmp/x.ctl"),
    ("--control-socket-mode", "0600"),
    ("--no-control-socket", None),
    ("--log-config-json", "/tmp/log.json"),
    ("--reload", None),
    ("--reload-engine", "inotify"),
    ("--reload-extra-file", "templates/page.html"),
    ("--ssl-version", "2"),
    ("--suppress-ragged-eofs", None),
    ("--do-handshake-on-connect", None),
    ("--keyfile", "key.pem"),
    ("--ca-certs", "ca.pem"),
    ("--ciphers", "HIGH"),
]
# Values of flags above that used to be refused.
GUNICORN_VALUES: list[tuple[str, str]] = [
    ("--bind", "tcp://127.0.0.1:8001"),
    ("--limit-request-line", "0"),
    ("--limit-request-fields", "0"),
    ("--limit-request-field_size", "0"),
    ("--cert-reqs", "2"),
]
REFUSED = {"--paste": "development.ini", "--protocol": "uwsgi"}


def _load(*argv: str, env: dict[str, str] | None = None) -> tuple[object, list[str]]:
    config, _, warnings = load_config(list(argv), env or {})
    return config, warnings


@pytest.mark.parametrize(
    ("flag", "value"),
    GUNICORN_FLAGS + GUNICORN_VALUES,
    ids=[f"{f} {v}" if v else f for f, v in GUNICORN_FLAGS + GUNICORN_VALUES],
)
def test_every_gunicorn_flag_is_accepted(flag: str, value: str | None) -> None:
    args = [flag] if value is None else [flag, value]
    _, warnings = _load(*args, "app:application")
    for warning in warnings:  # a flag with no effect says why, in one line
        assert "\n" not in warning
        assert (
            "has no effect in wsgikit (" in warning
            or "has no effect without certfile" in (warning)
            or "no limit in Gunicorn" in warning
        ), warning


@pytest.mark.parametrize("name", sorted(REQUEST_LIMITS))
def test_zero_request_limits_take_the_largest_with_one_line(name: str) -> None:
    flag = (
        "--" + name.replace("_", "-")
        if name != "limit_request_field_size"
        else ("--limit-request-field_size")
    )
    config, warnings = _load(flag, "0", "app:application")
    largest = REQUEST_LIMITS[name]
    assert getattr(config, name) == largest
    assert warnings == [
        f"setting '{name}': 0 (no limit in Gunicorn) means wsgikit's largest, {largest}"
    ]
    config, warnings = _load(flag, str(largest + 1), "app:application")
    assert getattr(config, name) == largest
    assert warnings == [
        f"setting '{name}': {largest + 1} is over wsgikit's largest; {largest} used"
    ]


def test_tls_flags_without_a_certificate_warn_and_serve_plain_http(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--keyfile", "k.pem", "--ca-certs", "ca.pem", "--ciphers", "HIGH", "--cert-reqs", "2"]
    config, warnings = _load(*args, "app:application")
    assert not config.tls  # type: ignore[attr-defined]
    assert warnings == [
        f"setting '{name}' has no effect without certfile "
        "(TLS is off: plain HTTP is served, as Gunicorn does)"
        for name in ("keyfile", "ca_certs", "ciphers", "cert_reqs")
    ]
    for name in ("WSGIKIT_CMD_ARGS", "GUNICORN_CMD_ARGS"):
        monkeypatch.delenv(name, raising=False)
    assert (
        main([*args, "-b", "tcp://127.0.0.1:0", "--check-config", "examples.hello:application"])
        == 0
    )
    assert "configuration and app OK" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, e in NO_EFFECT.items()
        if e.flags and not e.refuse and (e.takes_value or e.flag_sets != e.default)
    ),
)
def test_a_flag_without_effect_warns_in_one_line_naming_it(name: str) -> None:
    entry = NO_EFFECT[name]
    flag = entry.flags[-1]
    _, warnings = _load(*([flag, "x"] if entry.takes_value else [flag]), "app:application")
    assert warnings == [f"{flag} has no effect in wsgikit ({entry.why}); ignored"]


@pytest.mark.parametrize(("flag", "value"), sorted(REFUSED.items()))
def test_a_flag_that_would_change_what_is_served_is_refused(flag: str, value: str) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        _load(flag, value, "app:application")


def test_values_are_parsed_as_gunicorn_parses_them() -> None:
    config, warnings = _load(
        "-m", "022", "--limit-request-field_size", "4000", "-k",
        "gunicorn.workers.gthread.ThreadWorker", "--log-config-json", "/tmp/log.json", "app:app",
    )  # fmt: skip
    assert warnings == []
    assert config.umask == 0o22  # type: ignore[attr-defined]
    assert config.limit_request_field_size == 4000  # type: ignore[attr-defined]
    assert config.worker_class == "threaded"  # type: ignore[attr-defined]
    assert config.logconfig == "/tmp/log.json"  # type: ignore[attr-defined]
    assert _load("-m", "22")[0].umask == 22  # type: ignore[attr-defined]
    assert _load("-m", "0o27")[0].umask == 0o27  # type: ignore[attr-defined]


def test_unknown_parts_of_gunicorn_cmd_args_warn() -> None:
    config, warnings = _load(env={"GUNICORN_CMD_ARGS": "--workers 3 --frobnicate --spew"})
    assert config.workers == 3  # type: ignore[attr-defined]
    assert warnings == [
        "GUNICORN_CMD_ARGS: unknown argument '--frobnicate' ignored",
        f"GUNICORN_CMD_ARGS: --spew has no effect in wsgikit ({NO_EFFECT['spew'].why}); ignored",
    ]


def test_a_misspelled_hook_in_a_config_file_is_named(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "def post_frok(server, worker):\n    pass\n\n"
        "def helper():\n    pass\n\n"
        "def pre_exec(server):\n    pass\n\n"
        "PORT = 8000\n"
        "paste = None\n"
        "spew = True\n"
    )
    _, warnings = load_config_file(str(conf))
    assert warnings == [
        f"{conf}: 'post_frok' is not a hook: did you mean post_fork?",
        f"{conf}: 'pre_exec' has no effect in wsgikit ({NO_EFFECT['pre_exec'].why}); ignored",
        f"{conf}: 'spew' has no effect in wsgikit ({NO_EFFECT['spew'].why}); ignored",
    ]


def _gunicorn_defaults() -> dict[str, object]:
    from gunicorn.config import KNOWN_SETTINGS

    return {s.name: s.default for s in KNOWN_SETTINGS if not callable(s.default)}


@pytest.mark.parametrize("name", sorted(set(NO_EFFECT) & set(_gunicorn_defaults())))
def test_gunicorns_default_given_explicitly_does_not_warn(name: str, tmp_path: Path) -> None:
    # Gunicorn's example config spells out `spew = False`: it changes nothing, so no
    # warning; any other value would, and is named.
    default = _gunicorn_defaults()[name]
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(f"{name} = {_literal(default)}\n")
    assert load_config_file(str(conf))[1] == []


def _literal(value: object) -> str:
    return (
        str(int(value)) if isinstance(value, int) and not isinstance(value, bool) else repr(value)
    )


def test_a_flag_that_sets_gunicorns_default_does_not_warn() -> None:
    # --suppress-ragged-eofs sets what Gunicorn does anyway; --no-sendfile does not.
    assert _load("--suppress-ragged-eofs")[1] == []
    (warning,) = _load("--no-sendfile")[1]
    assert warning.startswith("--no-sendfile has no effect")


def test_tmp_upload_dir_is_the_spool_dir(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(f"tmp_upload_dir = {str(tmp_path)!r}\n")
    config, warnings = _load("-c", str(conf), "app:application")
    assert warnings == [] and config.spool_dir == str(tmp_path)  # type: ignore[attr-defined]


def test_a_config_file_asking_for_another_protocol_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("protocol = 'uwsgi'\n")
    with pytest.raises(ConfigError, match="'protocol'"):
        load_config_file(str(conf))


def test_a_config_module_named_python_colon_is_loaded(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "deploy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "gunicorn_conf.py").write_text("workers = 3\ntimeout = 12\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config, warnings = _load("-c", "python:deploy.gunicorn_conf", "app:application")
    assert warnings == []
    assert (config.workers, config.timeout) == (3, 12.0)  # type: ignore[attr-defined]
    (package / "gunicorn_conf.py").write_text("workers = 5\n")  # re-read, as on HUP
    config, _ = _load("-c", "python:deploy.gunicorn_conf", "app:application")
    assert config.workers == 5  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="config module 'deploy.nope' not found"):
        _load("-c", "python:deploy.nope", "app:application")


def test_an_unknown_flags_value_in_cmd_args_is_not_taken_as_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A flag of a later Gunicorn, with its value, while the app is named by the file.
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("wsgi_app = 'examples.hello:application'\n")
    env = {"GUNICORN_CMD_ARGS": "--future-flag 3 --workers 2 --other-flag a b --spew"}
    config, ns, warnings = load_config(["-c", str(conf)], env)
    assert getattr(ns, "app", None) is None and config.workers == 2
    assert config.wsgi_app == "examples.hello:application"
    assert warnings == [
        "GUNICORN_CMD_ARGS: unknown argument '--future-flag 3' ignored",
        "GUNICORN_CMD_ARGS: unknown argument '--other-flag a b' ignored",
        f"GUNICORN_CMD_ARGS: --spew has no effect in wsgikit ({NO_EFFECT['spew'].why}); ignored",
    ]
    # The whole command: it checks the file's app, not '3'.
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--future-flag 3")
    monkeypatch.delenv("WSGIKIT_CMD_ARGS", raising=False)
    assert main(["-c", str(conf), "--check-config"]) == 0, capsys.readouterr().err
    assert "configuration and app OK" in capsys.readouterr().err


def test_cmd_args_hold_flags_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _, ns, warnings = load_config([], {"WSGIKIT_CMD_ARGS": "-w 2 examples.hello:application"})
    assert getattr(ns, "app", None) is None
    assert warnings == [
        "WSGIKIT_CMD_ARGS: 'examples.hello:application' ignored (it holds flags only; "
        "name the app on the command line or as wsgi_app)"
    ]
