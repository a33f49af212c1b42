"""``Config``: conversion, validation, defaults, config files and the environment."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from wsgikit.config import (
    HOOK_NAMES,
    INT_MAX,
    MAX_SECONDS,
    REQUEST_LIMITS,
    SETTINGS,
    Config,
    ConfigError,
    default_workers,
)
from wsgikit.config_sources import cmd_args_from_env, env_settings, load_config_file, merge


def test_defaults() -> None:
    c = Config()
    assert c.bind == ("127.0.0.1:8000",)
    assert c.workers is None
    assert c.worker_class == "threaded"
    assert c.threads == 1
    assert c.timeout == 30.0
    assert c.graceful_timeout == 30.0
    assert c.keepalive == 2.0
    assert c.loglevel == "info"
    assert c.accesslog is None
    assert c.errorlog == "-"
    assert c.max_requests == 0
    assert c.limit_request_line == 4094
    assert c.limit_request_fields == 100
    assert c.limit_request_field_size == 8190
    assert c.limit_request_body == 1 << 30  # 1 GiB: the threaded worker spools bodies
    assert c.server_header == "wsgikit"
    assert c.root_path == ""
    assert c.preload_app is False
    assert all(getattr(c, name) is None for name in HOOK_NAMES)
    assert c.as_dict()["workers"] is None and len(c.as_dict()) == len(SETTINGS)


def test_strings_are_converted() -> None:
    c = Config(
        workers="3",
        threads="4",
        timeout="2.5",
        keepalive="5",
        preload_app="true",
        bind="0.0.0.0:80",
        max_requests="100",
        limit_request_body="1024",
        umask="0o22",
        loglevel="DEBUG",
        worker_class="gthread",
        pythonpath="a,b",
    )
    assert c.workers == 3
    assert c.threads == 4
    assert c.timeout == 2.5
    assert c.keepalive == 5.0
    assert c.preload_app is True
    assert c.bind == ("0.0.0.0:80",)
    assert c.max_requests == 100
    assert c.limit_request_body == 1024
    assert c.umask == 0o22
    assert c.loglevel == "debug"
    assert c.worker_class == "threaded"
    assert c.pythonpath == ("a", "b")


def test_bind_list() -> None:
    c = Config(bind=["127.0.0.1:8000", "unix:/tmp/s.sock", "[::1]:9000"])
    assert c.bind == ("127.0.0.1:8000", "unix:/tmp/s.sock", "[::1]:9000")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workers", "abc"),
        ("workers", -1),
        ("workers", True),
        ("threads", 0),
        ("timeout", "-1"),
        ("timeout", "soon"),
        ("timeout", float("nan")),
        ("timeout", True),
        ("keepalive", -0.5),
        ("header_timeout", 0),
        ("backlog", 0),
        ("preload_app", "maybe"),
        ("loglevel", "verbose"),
        ("worker_class", "eventlet"),
        ("bind", []),
        ("bind", ""),
        ("bind", 8000),
        ("umask", "0o1000"),
        ("umask", "rwx"),
        ("root_path", 5),
        ("raw_env", "NOEQUALS"),
        ("on_starting", "not a function"),
        ("logconfig_dict", "x"),
        ("limit_request_line", 10),
        ("limit_request_fields", -1),
        ("limit_request_field_size", "big"),
        ("max_requests", "-3"),
        # Bounds every worker can honour (inf, 1e20 or 30 days overflowed a timeout).
        ("header_timeout", "inf"),
        ("header_timeout", 1e20),
        ("header_timeout", 30 * 86400),
        ("body_timeout", "1e20"),
        ("keepalive", float("inf")),
        ("write_timeout", "1e300"),
        ("timeout", "2592000"),
        ("graceful_timeout", 1e20),
        ("limit_request_body", 2**63),
        ("spool_threshold", 10**30),
        ("worker_connections", 10**30),
        ("max_requests", 10**30),
        ("max_requests_jitter", "1" + "0" * 40),
        ("workers", 2**63),
    ],
)
def test_bad_values_name_the_setting(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        Config(**{name: value})
    text = str(err.value)
    assert text.startswith(f"setting '{name}': ")
    assert "\n" not in text
    assert err.value.setting == name


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="setting 'workers': expected an integer"):
        Config(workers="abc")


def test_unknown_keyword_is_rejected() -> None:
    with pytest.raises(TypeError):
        Config(wrokers=2)  # type: ignore[call-arg]


def test_config_is_frozen() -> None:
    c = Config()
    with pytest.raises(AttributeError):
        c.workers = 3  # type: ignore[misc]


def test_replace_validates_and_rejects_unknown_names() -> None:
    c = Config(workers=2)
    assert c.replace(threads="8").threads == 8
    assert c.replace(threads="8").workers == 2
    with pytest.raises(ConfigError, match="setting 'threads'"):
        c.replace(threads=0)
    with pytest.raises(ConfigError, match="setting 'nope': no such setting"):
        c.replace(nope=1)


def test_opt_int_accepts_none_spellings() -> None:
    assert Config(limit_request_body="none").limit_request_body is None
    with pytest.raises(ConfigError, match="limit_request_body"):
        Config(limit_request_body="")  # a mistake (an empty variable), not "no limit"
    assert Config(limit_request_body=0).limit_request_body is None  # 0: no limit
    assert Config(workers=None).workers is None


def test_umask_unset_is_none_and_an_explicit_0_is_kept() -> None:
    assert Config().umask is None  # unset: the inherited umask stays
    assert Config(umask=0).umask == 0  # applied, as Gunicorn's default 0 is
    assert Config(umask="0").umask == 0
    assert Config(umask="").umask is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("yes", True), ("on", True), ("0", False), ("off", False), ("", False)],
)
def test_bool_spellings(text: str, value: bool) -> None:
    assert Config(daemon=text).daemon is value


def test_resolved_workers_explicit() -> None:
    assert Config(workers=0).resolved_workers == 0
    assert Config(workers=5).resolved_workers == 5


def test_resolved_workers_honours_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    assert Config().resolved_workers == 7
    assert Config(workers=2).resolved_workers == 2  # an explicit value wins


def test_resolved_workers_defaults_to_the_cpus_we_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CPUs of this process's affinity (not os.cpu_count(), the machine's).
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert 1 <= Config().resolved_workers <= 3  # (a cgroup quota may cap it lower)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set())
    assert Config().resolved_workers == 1


def test_bad_web_concurrency_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match="setting 'WEB_CONCURRENCY'"):
        Config().resolved_workers  # noqa: B018


def test_default_workers_with_explicit_environ() -> None:
    assert default_workers({"WEB_CONCURRENCY": "3"}) == 3
    assert default_workers({}) == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({}, "threaded"),
        ({"threads": 1}, "threaded"),
        ({"threads": 4}, "threaded"),
        ({"worker_class": "sync"}, "sync"),
        ({"worker_class": "sync", "threads": 4}, "threaded"),
        ({"worker_class": "threaded"}, "threaded"),
        ({"worker_class": "gthread"}, "threaded"),
    ],
)
def test_resolved_worker_class(kwargs: dict[str, object], kind: str) -> None:
    assert Config(**kwargs).resolved_worker_class == kind  # type: ignore[arg-type]


# ---------------------------------------------------------------- config file

GUNICORN_CONF = """
import multiprocessing

bind = ["127.0.0.1:9001", "unix:/tmp/wsgikit-test.sock"]
workers = 3
threads = 2
timeout = 45
graceful_timeout = 10
keepalive = 5
loglevel = "warning"
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s'
max_requests = 1000
max_requests_jitter = 50
preload_app = True
limit_request_line = 8190
worker_class = "gthread"
proc_name = "myapp"
raw_env = ["A=1"]
capture_output = True
syslog = True
statsd_host = "localhost:8125"
_private = "ignored"

def _helper(x):
    return x * 2

def shared_helper():
    return "not a hook"

def post_fork(server, worker):
    server.log.info("forked %s", worker.pid)

def when_ready(server):
    pass

class NotASetting:
    pass
"""


@pytest.fixture
def conf_file(tmp_path: Path) -> Path:
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(textwrap.dedent(GUNICORN_CONF))
    return path


def test_load_gunicorn_config_file(conf_file: Path) -> None:
    values, warnings = load_config_file(str(conf_file))
    c = Config(**values)
    assert c.bind == ("127.0.0.1:9001", "unix:/tmp/wsgikit-test.sock")
    assert c.workers == 3
    assert c.threads == 2
    assert c.timeout == 45.0
    assert c.graceful_timeout == 10.0
    assert c.keepalive == 5.0
    assert c.loglevel == "warning"
    assert c.accesslog == "-"
    assert c.access_log_format == '%(h)s "%(r)s" %(s)s'
    assert c.max_requests == 1000
    assert c.max_requests_jitter == 50
    assert c.preload_app is True
    assert c.limit_request_line == 8190
    assert c.worker_class == "threaded"
    assert c.resolved_worker_class == "threaded"
    assert c.proc_name == "myapp"
    assert c.raw_env == ("A=1",)
    assert c.post_fork is not None and c.post_fork.__name__ == "post_fork"
    assert c.when_ready is not None and c.when_ready.__name__ == "when_ready"
    assert c.statsd_host == "localhost:8125"


def test_config_file_warnings(conf_file: Path) -> None:
    _values, warnings = load_config_file(str(conf_file))
    text = "\n".join(warnings)
    assert any("syslog" in w and "syslog is not supported" in w for w in warnings)
    assert any("capture_output" in w and "no effect" in w for w in warnings)
    assert all(str(conf_file) in w for w in warnings)
    for quiet in ("shared_helper", "_helper", "_private", "multiprocessing", "NotASetting"):
        assert quiet not in text
    assert len(warnings) == 2


def test_config_file_bad_value_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "conf.py"
    path.write_text("workers = 'many'\n")
    values, _ = load_config_file(str(path))
    with pytest.raises(ConfigError, match="setting 'workers'"):
        Config(**values)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_file(str(tmp_path / "nope.py"))
    assert "not found" in str(err.value)
    assert str(err.value).startswith("setting 'config': ")


def test_merge_later_layers_win(conf_file: Path) -> None:
    values, _ = load_config_file(str(conf_file))
    c = merge([values, {"workers": "9"}])
    assert c.workers == 9
    assert c.threads == 2


# --------------------------------------------------------------- environment


def test_env_settings() -> None:
    env = {
        "WSGIKIT_WORKERS": "4",
        "WSGIKIT_TIMEOUT": "12",
        "WSGIKIT_BIND": "0.0.0.0:81",
        "WSGIKIT_ON_STARTING": "x",
        "WORKERS": "99",
        "WSGIKIT_NOPE": "1",
    }
    values = env_settings(env)
    assert values == {"workers": "4", "timeout": "12", "bind": "0.0.0.0:81"}
    c = Config(**values)
    assert (c.workers, c.timeout, c.bind) == (4, 12.0, ("0.0.0.0:81",))


def test_env_settings_bad_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="setting 'workers'"):
        Config(**env_settings({"WSGIKIT_WORKERS": "four"}))


def test_cmd_args_from_env() -> None:
    assert cmd_args_from_env({"WSGIKIT_CMD_ARGS": "-w 3 --access-logfile '/tmp/a b.log'"}) == [
        "-w",
        "3",
        "--access-logfile",
        "/tmp/a b.log",
    ]
    assert cmd_args_from_env({"GUNICORN_CMD_ARGS": "--timeout 5"}) == ["--timeout", "5"]
    assert cmd_args_from_env({"WSGIKIT_CMD_ARGS": "-w 1", "GUNICORN_CMD_ARGS": "-w 2"}) == [
        "-w",
        "1",
    ]
    assert cmd_args_from_env({}) == []


def test_every_setting_is_declared_consistently() -> None:
    for name, spec in SETTINGS.items():
        assert spec.name == name
        if spec.cli:
            assert spec.flags and all(f.startswith("-") for f in spec.flags)
            assert spec.help


def test_tls_and_proxy_settings_of_a_gunicorn_conf_are_taken(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "certfile = 'server.crt'\nkeyfile = 'server.key'\ncert_reqs = 0\n"
        "ssl_version = 5\nforwarded_allow_ips = ['10.0.0.0/8', '::1']\n"
        "secure_scheme_headers = {'X-Proto': 'https'}\nproxy_protocol = True\n"
        "proxy_allow_ips = '10.1.2.3'\n"
    )
    values, warnings = load_config_file(str(conf))
    c = Config(**values)
    assert (c.certfile, c.keyfile, c.tls) == ("server.crt", "server.key", True)
    assert c.forwarded_allow_ips == ("10.0.0.0/8", "::1")
    assert c.secure_scheme_headers == {"X-PROTO": "https"}
    assert (c.proxy_protocol, c.proxy_allow_ips) == ("auto", ("10.1.2.3",))
    assert len(warnings) == 1 and "'ssl_version' has no effect" in warnings[0]


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"certfile": "c.pem", "cert_reqs": 2}, "cert_reqs"),
        ({"cert_reqs": 5, "certfile": "c.pem"}, "cert_reqs"),
        ({"forwarded_allow_ips": "10.0.0.1/8"}, "forwarded_allow_ips"),
        ({"forwarded_allow_ips": "localhost"}, "forwarded_allow_ips"),
        ({"proxy_protocol": "v3"}, "proxy_protocol"),
        ({"secure_scheme_headers": {"X-Proto": 1}}, "secure_scheme_headers"),
        ({"statsd_host": "localhost"}, "statsd_host"),
        ({"metrics_bind": "127.0.0.1:99999"}, "metrics_bind"),
        ({"max_worker_memory": -1}, "max_worker_memory"),
    ],
)
def test_edge_settings_are_checked(settings: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=f"setting '{name}'"):
        Config(**settings)


def test_forwarded_allow_ips_defaults_to_the_environment_as_gunicorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Config().forwarded_allow_ips == ("127.0.0.1", "::1")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    assert Config().forwarded_allow_ips == ("*",)
    assert Config(forwarded_allow_ips="10.0.0.0/8").forwarded_allow_ips == ("10.0.0.0/8",)


def test_settings_without_effect_are_named_with_the_reason(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("worker_tmp_dir = '/dev/shm'\nspew = True\ncapture_output = False\n")
    values, warnings = load_config_file(str(conf))
    assert values == {}
    assert any("'worker_tmp_dir' has no effect" in w and "shared memory" in w for w in warnings)
    assert any("'spew' has no effect" in w for w in warnings)
    assert len(warnings) == 2  # capture_output = False is Gunicorn's default: nothing changes


def test_the_largest_values_are_accepted() -> None:
    config = Config(
        header_timeout=MAX_SECONDS,
        timeout=str(MAX_SECONDS),
        limit_request_body=2**63 - 1,
        max_requests=str(INT_MAX),
    )
    assert config.header_timeout == config.timeout == 7 * 86400
    assert config.limit_request_body == 2**63 - 1 and config.max_requests == 2**31 - 1


def test_a_timeout_over_the_bound_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as err:
        Config(header_timeout="inf")
    assert str(err.value) == (
        "setting 'header_timeout': expected at most 604800 seconds (7 days), got 'inf'"
    )


def test_gunicorn_reload_settings_are_taken(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "reload = True\nreload_engine = 'inotify'\nreload_extra_files = ['templates/a.html']\n"
    )
    values, warnings = load_config_file(str(conf))
    assert warnings == []
    config = Config(**values)
    assert config.reload and config.reload_engine == "watchfiles"
    assert config.reload_extra_files == ("templates/a.html",)


@pytest.mark.parametrize("name", sorted(REQUEST_LIMITS))
@pytest.mark.parametrize("value", [0, "0", 10**30], ids=["zero", "zero-text", "huge"])
def test_gunicorns_no_limit_is_the_largest_request_limit(name: str, value: object) -> None:
    # Gunicorn reads 0 as "no limit" and lowers values over its maxima: both start.
    assert getattr(Config(**{name: value}), name) == REQUEST_LIMITS[name]


def test_tls_settings_without_a_certificate_are_ignored_and_named() -> None:
    config = Config(keyfile="k.pem", ca_certs="ca.pem", ciphers="HIGH", cert_reqs="required")
    assert not config.tls
    assert config.ignored_tls_settings == ("keyfile", "ca_certs", "ciphers", "cert_reqs")
    assert Config(certfile="c.pem", keyfile="k.pem").ignored_tls_settings == ()
