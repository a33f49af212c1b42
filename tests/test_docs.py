"""The docs are kept true: the settings reference is generated from the declarations,
every Python snippet in README.md and docs/ runs, and so does every shell snippet of
README.md and of the pages that say all their snippets run."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from wsgikit.config import SETTINGS

from .rawhttp import answers
from .support import free_port, wait_for

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_settings_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "settings.md").read_text() == module.render(), (
        "docs/settings.md is stale: run python docs/generate.py"
    )


def test_the_gunicorn_page_is_up_to_date_and_names_every_flag_and_hook():
    from tests.gunicorn.test_flags import GUNICORN_FLAGS, REFUSED
    from wsgikit.config import HOOK_NAMES

    module = _generate_module()
    text = (DOCS / "gunicorn.md").read_text()
    assert text == module.gunicorn_page(), "docs/gunicorn.md is stale: run python docs/generate.py"
    for flag in [f for f, _ in GUNICORN_FLAGS] + list(REFUSED):
        assert f"`{flag}`" in text, f"{flag} is not in docs/gunicorn.md"
    for hook in [*HOOK_NAMES, "ssl_context", "pre_exec"]:
        assert f"`{hook}(" in text, f"hook {hook} is not in docs/gunicorn.md"


def _generate_module():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_cli_setting_is_documented_with_its_flags():
    text = (DOCS / "settings.md").read_text()
    for spec in SETTINGS.values():
        for flag in spec.flags:
            assert f"`{flag}`" in text


def test_the_bench_page_names_every_flag_scenario_and_contestant(capsys) -> None:
    """bench/README.md documents the harness as it is: each flag of ``python -m bench``,
    each scenario and each contestant, in code spans."""
    from bench.harness import SCENARIOS, parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", capsys.readouterr().out)) - {"--help"}
    assert {"--scenario", "--starts", "--observe"} <= flags
    text = (DOCS.parent / "bench" / "README.md").read_text()
    names = [*flags, *SCENARIOS]
    names += [who.label for scenario in SCENARIOS.values() for who in scenario.contestants]
    missing = sorted({name for name in names if not re.search(rf"`{re.escape(name)}[` ]", text)})
    assert not missing, f"bench/README.md does not name {missing}"


# --------------------------------------------------------------- self-contained pages
#
# Every page stands on its own: it names no issue, no notes of the team, nothing that
# lives outside the repository; a link goes to a file of the repository or to a
# well-known public spec or project.

ALL_PAGES = sorted(
    {
        *DOCS.parent.glob("*.md"),
        *(
            p
            for d in ("docs", "bench", "fuzz", "examples", "tests")
            for p in (DOCS.parent / d).glob("*.md")
        ),
    }
)
OUTSIDE = re.compile(
    r"\bissues? ?#?\d+|\bthe issue\b|issue's|\bemulator\b|shared (design )?notes"
    r"|\bthe lead\b|\breviewer|\bworktree|/work/|\bour notes\b",
    re.I,
)
#: Hosts a page may link to: public specs and the projects wsgikit is compared with.
PUBLIC = (
    "www.rfc-editor.org",
    "datatracker.ietf.org",
    "peps.python.org",
    "docs.python.org",
    "www.python.org",
    "pypi.org",
    "docs.pytest.org",
    "gunicorn.org",
    "docs.gunicorn.org",
    "nginx.org",
    "www.haproxy.org",
    "docs.haproxy.org",
    "kubernetes.io",
    "docs.docker.com",
    "www.freedesktop.org",
    "flask.palletsprojects.com",
    "docs.djangoproject.com",
    "h11.readthedocs.io",
    "watchfiles.helpmanual.io",
    "github.com/google/atheris",
    "github.com/python-hyper/h11",
    "github.com/benoitc/gunicorn",
    "github.com/Pylons/waitress",
    "github.com/encode/uvicorn",
    "github.com/krallin/tini",
    "github.com/wg/wrk",
    "github.com/pytest-dev/pytest-flask",
    "github.com/pytest-dev/pytest-django",
)
LINK = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
BARE_URL = re.compile(r"https?://[^\s)>`\]]+")
LOCAL_HOSTS = ("127.0.0.1", "[::1]", "localhost", "0.0.0.0")


def _prose(text: str) -> str:
    """The page without its code blocks and code spans (where URLs are examples)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _link_problem(page: Path, target: str) -> str | None:
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        host = rest.split("/", 1)[0].split(":", 1)[0]
        if host in LOCAL_HOSTS or rest.startswith(LOCAL_HOSTS):
            return None
        if any(rest == p or rest.startswith(p + "/") or rest.startswith(p + "#") for p in PUBLIC):
            return None
        return f"{target} leaves the repository (not a well-known public spec or project)"
    if target.startswith(("mailto:", "#")):
        return None
    path = (page.parent / target.split("#", 1)[0]).resolve()
    root = DOCS.parent.resolve()
    if root not in path.parents and path != root or not path.exists():
        return f"{target} is not a file of the repository"
    return None


def test_every_page_stands_on_its_own() -> None:
    assert DOCS / "testing.md" in ALL_PAGES and DOCS.parent / "README.md" in ALL_PAGES
    problems: list[str] = []
    for page in ALL_PAGES:
        text = page.read_text()
        name = page.relative_to(DOCS.parent)
        for number, line in enumerate(text.splitlines(), 1):
            for match in OUTSIDE.finditer(line):
                problems.append(f"{name}:{number}: mentions {match.group(0)!r}")
        targets = {m.group(1) or m.group(2) for m in LINK.finditer(text)}
        for target in sorted(targets | set(BARE_URL.findall(_prose(text)))):
            problem = _link_problem(page, target)
            if problem:
                problems.append(f"{name}: {problem}")
    assert not problems, "\n".join(problems)


def test_the_page_check_catches_what_it_looks_for(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    assert OUTSIDE.search("see issue 11") and OUTSIDE.search("the original emulator's API")
    assert OUTSIDE.search("in the project's shared design notes")
    assert not OUTSIDE.search("not in a public issue tracker")
    assert _link_problem(page, "https://example.com/x")
    assert _link_problem(page, "../../elsewhere.md")
    assert _link_problem(DOCS / "api.md", "missing.md")
    assert _link_problem(DOCS / "api.md", "settings.md") is None
    assert _link_problem(page, "https://www.rfc-editor.org/rfc/rfc9112") is None
    assert _link_problem(page, "http://127.0.0.1:8000") is None


# --------------------------------------------------------------- snippets
#
# Every ```python block in README.md and docs/*.md runs here, so the docs cannot drift
# from the code. The HTML comment on the line before a block says how:
#   (none)                  run it with python; it must exit 0
#   <!-- snippet: serves --> it serves 127.0.0.1:8000 (replaced with a free port): it
#                           must answer HTTP there, then stop on SIGTERM with status 0
#   <!-- snippet: pytest --> it is a test file: pytest (with wsgikit's plugin) must pass it;
#                           words after "pytest" are pytest's arguments
#   <!-- snippet: conftest --> the conftest.py of the pytest snippets after it on its page
#                           (until the next conftest); not run by itself

ROOT = DOCS.parent
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"(?:<!-- snippet: (\w+)([^>]*?) -->\n)?```python\n(.*?)```", re.S)


@dataclasses.dataclass(frozen=True)
class Snippet:
    where: str
    kind: str
    code: str
    conftest: str = ""
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.where


def snippets() -> list[Snippet]:
    found = []
    for page in PAGES:
        text = page.read_text()
        conftest = ""
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start(3))
            kind, code = match.group(1) or "run", match.group(3)
            if kind == "conftest":
                conftest = code
                continue
            args = tuple((match.group(2) or "").split())
            found.append(Snippet(f"{page.name}:{line}", kind, code, conftest, args))
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_the_docs_have_python_snippets() -> None:
    kinds = {snippet.kind for snippet in snippets()}
    assert {"run", "serves", "pytest"} <= kinds
    assert any(snippet.conftest for snippet in snippets())


@pytest.mark.parametrize("snippet", snippets(), ids=str)
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    where, kind, code = snippet.where, snippet.kind, snippet.code
    if kind == "run":
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    elif kind == "serves":
        assert "127.0.0.1:8000" in code, "a serving snippet binds 127.0.0.1:8000"
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            answer = wait_for(lambda: answers(port) or proc.poll() is not None, "an answer")
            assert isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 200 "), answer
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=30)[0].decode()
        assert proc.returncode == 0, out
    else:
        assert kind == "pytest", f"unknown snippet kind {kind!r} at {where}"
        (tmp_path / "test_snippet.py").write_text(code)
        if snippet.conftest:
            (tmp_path / "conftest.py").write_text(snippet.conftest)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *snippet.args]
            + ["test_snippet.py"],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr


# --------------------------------------------------------------- shell snippets
#
# A ```sh block marked <!-- snippet: sh --> runs line by line (a trailing "# comment"
# is dropped) in a scratch directory holding a `myapp.py` (`application` and
# `create_app()`, the hello-world app), with wsgikit's console script on PATH:
#   - installing this checkout (`python3 -m pip install -e .` or `-e ".[extra]"`) is
#     not done again (it would repoint the installed package; .ci/run installs it
#     so): the extras named must exist;
#   - a line .ci/run runs as it is (its `-q` aside) is left to CI, which runs it;
#   - a `--help`, `--version`, `--check-config` or `--print-config` line must exit 0;
#   - any other line must serve: port 8000 (and 0.0.0.0) become 127.0.0.1 and a free
#     port, which is also the default bind ($WSGIKIT_BIND); it must answer GET / with
#     200, then stop on SIGTERM with status 0.
# <!-- snippet: sh pytest --> runs its `pytest ...` line in a project made of the page's
# conftest and pytest snippets above it; pytest must pass.

SH_FENCE = re.compile(r"(?:<!-- snippet: (sh)([^>]*?) -->\n)?```sh\n(.*?)```", re.S)
#: Pages whose every snippet (Python and shell) runs here: README.md and the pages that
#: say so.
CHECKED_PAGES = [
    p for p in PAGES if p.name == "README.md" or "Every snippet on this page" in p.read_text()
]
MYAPP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello from myapp"]


def create_app():
    return application
"""
INSTALL = re.compile(r'python3 -m pip install -e (?:\.|"\.\[([\w,-]+)\]")')
EXITS = ("--help", "--version", "--check-config", "--print-config")


@dataclasses.dataclass(frozen=True)
class ShellSnippet:
    where: str
    marked: bool
    args: tuple[str, ...]
    lines: tuple[str, ...]
    project: tuple[str, ...] = ()  # the page's pytest snippets above it
    conftest: str = ""

    def __str__(self) -> str:
        return self.where


def sh_snippets() -> list[ShellSnippet]:
    found = []
    for page in PAGES:
        text = page.read_text()
        python = [(m.start(), m) for m in FENCE.finditer(text)]
        for match in SH_FENCE.finditer(text):
            line = text.count("\n", 0, match.start(3))
            conftest, project = "", []
            for start, py in python:
                if start > match.start():
                    break
                if py.group(1) == "conftest":
                    conftest, project = py.group(3), []
                elif py.group(1) == "pytest":
                    project.append(py.group(3))
            lines = [re.sub(r"\s+#\s.*$", "", x).strip() for x in match.group(3).splitlines()]
            found.append(
                ShellSnippet(
                    f"{page.name}:{line}",
                    match.group(1) == "sh",
                    tuple((match.group(2) or "").split()),
                    tuple(x for x in lines if x),
                    tuple(project),
                    conftest,
                )
            )
    return found


def test_every_shell_snippet_of_the_checked_pages_runs() -> None:
    checked = {page.name for page in CHECKED_PAGES}
    assert {"README.md", "testing.md"} <= checked
    unmarked = [s.where for s in sh_snippets() if not s.marked and s.where.split(":")[0] in checked]
    assert not unmarked, f"mark these <!-- snippet: sh -->, so that they run: {unmarked}"


def _ci_commands() -> set[str]:
    text = (ROOT / ".ci" / "run").read_text()
    return {" ".join(line.replace(" -q", "").split()) for line in text.splitlines()}


def _run_serving(command: str, tmp_path: Path) -> None:
    port = free_port()
    command = re.sub(r"(?:0\.0\.0\.0|127\.0\.0\.1):8000", f"127.0.0.1:{port}", command)
    env = _env()
    env.pop("PORT", None)
    env["WSGIKIT_BIND"] = f"127.0.0.1:{port}"
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] += os.pathsep + str(tmp_path)
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if any(flag in command for flag in EXITS):
            out = proc.communicate(timeout=60)[0].decode()
            assert proc.returncode == 0, f"{command}\n{out}"
            return
        answer = wait_for(lambda: answers(port) or proc.poll() is not None, command, 60)
        if not isinstance(answer, bytes):
            out = proc.communicate(timeout=60)[0].decode()
            pytest.fail(f"{command}\nexited with {proc.returncode} instead of serving:\n{out}")
        assert answer.startswith(b"HTTP/1.1 200 "), answer
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out = proc.communicate(timeout=60)[0].decode()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert proc.returncode == 0, f"{command}\n{out}"


@pytest.mark.parametrize("snippet", [s for s in sh_snippets() if s.marked], ids=str)
def test_shell_snippet_runs(snippet: ShellSnippet, tmp_path: Path) -> None:
    if "pytest" in snippet.args:
        (command,) = snippet.lines
        assert command.startswith("pytest "), command
        for number, code in enumerate(snippet.project):
            (tmp_path / f"test_snippet_{number}.py").write_text(code)
        if snippet.conftest:
            (tmp_path / "conftest.py").write_text(snippet.conftest)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + command.split()[1:],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return
    (tmp_path / "myapp.py").write_text(MYAPP)
    ci = _ci_commands()
    for command in snippet.lines:
        install = INSTALL.fullmatch(command)
        if install:
            pyproject = (ROOT / "pyproject.toml").read_text()
            for extra in filter(None, (install.group(1) or "").split(",")):
                assert re.search(rf"^{re.escape(extra)} = \[", pyproject, re.M), extra
            continue
        if " ".join(command.split()) in ci:
            continue  # CI runs this very command
        _run_serving(command.replace("python3 ", f"{sys.executable} ", 1), tmp_path)


def test_each_exit_status_in_the_table_names_a_test_that_exists() -> None:
    text = (DOCS / "operations.md").read_text()
    section = text.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`tests/" in line]
    statuses = [row.split("|")[1].strip() for row in rows]
    assert statuses == ["0", "1", "2", "3"], statuses
    for row in rows:
        path, _, name = row.split("`tests/", 1)[1].split("`", 1)[0].partition("::")
        source = (DOCS.parent / "tests" / path).read_text()
        assert f"def {name}(" in source, f"{path}::{name} named in docs/operations.md"
