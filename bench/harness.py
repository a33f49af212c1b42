"""The harness: scenarios, interleaved rounds, medians and ratios, JSON results.

Each scenario has variants (a worker model: sync or threaded). For each variant the
servers run alternately, round by round (A B, then B A, ...), so slow drift on a shared
machine hits both alike; the report shows per-server medians and wsgikit/Gunicorn ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.loadgen import ERROR_KINDS, LoadGen, LoadGenError, LoadResult, choose
from bench.probe import Prober
from bench.servers import (
    HOST,
    REPO_ROOT,
    Server,
    ServerSpec,
    ServerStartError,
    gunicorn_spec,
    indent,
    wsgikit_spec,
)

SERVERS = ("wsgikit", "gunicorn")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROBE_SLOW_MS = 1000.0  # a fresh connection waiting longer than this is reported


@dataclass(frozen=True)
class Scenario:
    name: str
    app: str
    variants: tuple[str, ...]  # worker models compared: "sync" and/or "threaded"
    connections: int
    description: str
    slow_clients: bool = False  # also fresh servers per run, so no run inherits a stuck one


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "hello",
            "bench.apps:hello",
            ("sync", "threaded"),
            32,
            "hello world: per-request overhead (sync vs sync, threaded vs gthread)",
        ),
        Scenario(
            "sleep",
            "bench.apps:sleepy",
            ("threaded",),
            64,
            "10 ms sleep per request: I/O-bound, threaded vs gthread at equal threads",
        ),
        Scenario(
            "hello-under-slow-clients",
            "bench.apps:hello",
            ("sync", "threaded"),
            32,
            "hello world while idle keep-alive and byte-by-byte slow clients are connected",
            slow_clients=True,
        ),
    )
}


@dataclass
class Run:
    scenario: str
    variant: str
    server: str
    round: int
    result: LoadResult | None = None
    note: str = ""  # why there is no result, or what went wrong
    background: dict[str, int] | None = None
    probe: dict[str, float | int | None] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "variant": self.variant,
            "server": self.server,
            "round": self.round,
            "note": self.note,
            "background": self.background,
            "probe": self.probe,
            "result": self.result.to_json() if self.result else None,
        }


@dataclass
class Settings:
    scenarios: list[Scenario]
    servers: list[str]
    rounds: int
    duration: int
    warmup: int
    workers: int
    threads: int
    connections: int | None
    idle_clients: int
    slow_clients: int
    wsgikit_cmd: str
    gunicorn_cmd: str
    loadgen: LoadGen
    failed: dict[tuple[str, str, str], str] = field(default_factory=dict)
    shown: set[str] = field(default_factory=set)  # server outputs already printed once

    def spec(self, server: str, scenario: Scenario, model: str) -> ServerSpec:
        if server == "wsgikit":
            return wsgikit_spec(self.wsgikit_cmd, scenario.app, model, self.workers, self.threads)
        return gunicorn_spec(self.gunicorn_cmd, scenario.app, model, self.workers, self.threads)

    def connections_for(self, scenario: Scenario) -> int:
        return self.connections or scenario.connections


# --- background clients -------------------------------------------------------------------


@contextlib.contextmanager
def background_clients(port: int, cfg: Settings, stats: dict[str, int]) -> Iterator[None]:
    """Run ``bench.slowclients`` against ``port`` for the duration of the block."""
    bound = cfg.duration + cfg.loadgen.timeout_s + 60  # hard stop even if we never signal it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.slowclients",
            "--host",
            HOST,
            "--port",
            str(port),
            "--idle",
            str(cfg.idle_clients),
            "--slow",
            str(cfg.slow_clients),
            "--max-seconds",
            f"{bound:g}",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            raise LoadGenError(f"background clients did not start: {line.strip() or 'timeout'}")
        time.sleep(1.0)  # let slow clients get a few bytes in before measuring
        yield
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        for text in out.splitlines():
            if text.startswith("STATS "):
                stats.update(json.loads(text[len("STATS ") :]))
        if proc.returncode not in (0, -signal.SIGTERM) and err.strip():
            print(indent(err.strip()[-800:]), file=sys.stderr)


# --- measuring ----------------------------------------------------------------------------


def warm_up(server: Server, cfg: Settings, scenario: Scenario) -> None:
    if cfg.warmup > 0:
        try:
            cfg.loadgen.run(server.url, cfg.warmup, cfg.connections_for(scenario))
        except LoadGenError as err:
            print(f"  warm-up of {server.spec.name} failed: {err}", file=sys.stderr)


def measure(server: Server, cfg: Settings, scenario: Scenario, run: Run) -> None:
    """One measured load run against a ready server; fills ``run`` in place."""
    try:
        with contextlib.ExitStack() as stack:
            if scenario.slow_clients:
                run.background = {}
                stack.enter_context(background_clients(server.port, cfg, run.background))
            prober = stack.enter_context(Prober(server.port, cfg.loadgen.timeout_s))
            run.result = cfg.loadgen.run(server.url, cfg.duration, cfg.connections_for(scenario))
        run.probe = prober.summary()
    except LoadGenError as err:
        run.note = f"load generator failed: {err}"
    if not server.alive():
        run.note = (run.note + "; " if run.note else "") + "server exited during the run"
        print(
            f"  {server.spec.name} exited during the run:\n{indent(server.output_tail())}",
            file=sys.stderr,
        )


def start(spec: ServerSpec, cfg: Settings, key: tuple[str, str, str]) -> Server | None:
    """Start a server, or record why not (and print its output once)."""
    server = Server(spec)
    try:
        server.start()
    except ServerStartError as err:
        first, _, output = str(err).partition("\n")
        cfg.failed[key] = first
        if output in cfg.shown:
            output = "    | (same output as above)"
        cfg.shown.add(output)
        print(
            f"  SKIPPING {spec.name} for {key[1]}/{key[2]}: {first}\n{output}\n"
            f"    command: {' '.join(spec.command(server.port))}",
            file=sys.stderr,
        )
        return None
    return server


def run_variant(cfg: Settings, scenario: Scenario, model: str, runs: list[Run]) -> None:
    """All rounds of one variant, servers alternating A B / B A; appends to ``runs``."""
    specs = [cfg.spec(name, scenario, model) for name in cfg.servers]
    with contextlib.ExitStack() as stack:
        live: dict[str, Server] = {}
        if not scenario.slow_clients:  # keep servers up across rounds
            for spec in specs:
                server = start(spec, cfg, (spec.name, scenario.name, model))
                if server is not None:
                    live[spec.name] = stack.enter_context(server)
                    warm_up(server, cfg, scenario)
        for rnd in range(1, cfg.rounds + 1):
            for spec in specs if rnd % 2 else specs[::-1]:
                key = (spec.name, scenario.name, model)
                run = Run(scenario.name, model, spec.name, rnd)
                runs.append(run)
                if key in cfg.failed:
                    run.note = f"skipped: {cfg.failed[key]}"
                    continue
                if scenario.slow_clients:
                    fresh = start(spec, cfg, key)
                    if fresh is None:
                        run.note = f"skipped: {cfg.failed[key]}"
                        continue
                    with fresh:
                        warm_up(fresh, cfg, scenario)
                        measure(fresh, cfg, scenario, run)
                else:
                    measure(live[spec.name], cfg, scenario, run)
                    if not live[spec.name].alive():
                        cfg.failed[key] = "server exited during an earlier run"
                print_run(run)


# --- reporting ----------------------------------------------------------------------------


def print_run(run: Run) -> None:
    label = f"  [{run.scenario}/{run.variant} round {run.round}] {run.server:<8}"
    res = run.result
    if res is None:
        print(f"{label} {run.note}")
        return
    errors = ", ".join(f"{k} {v}" for k, v in res.errors.items() if v) or "none"
    if run.probe is not None:
        pr = run.probe
        errors += f"  new conns {pr['answered']}/{pr['sent']} answered, max {_ms(pr['max_ms'])}"
    bg = ""
    if run.background is not None:
        bg = "  | slow answered {}, idle answered {}".format(
            _count(run.background, "slow_answered_"), _count(run.background, "idle_answered_")
        )
    print(
        f"{label} {res.rps:9.1f} req/s  p50 {_ms(res.p50_ms)}  p99 {_ms(res.p99_ms)}  "
        f"errors: {errors}{bg}{'  ' + run.note if run.note else ''}",
        flush=True,
    )


def _count(stats: dict[str, int], prefix: str) -> int:
    return sum(v for k, v in stats.items() if k.startswith(prefix))


def _ms(value: float | None) -> str:
    return f"{value:7.2f} ms" if value is not None else "     - ms"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass
class Summary:
    """Medians over one server's runs of one variant; ratios sit on the variant's last row."""

    scenario: str
    variant: str
    server: str
    runs: int
    measured: int
    answered: int  # runs with at least one successful response within the timeout
    rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    errors: dict[str, int]
    probes_sent: int  # fresh connections opened during the runs (bench/probe.py)
    probes_answered: int  # ... that got a 2xx within the timeout
    probe_p50_ms: float | None  # median over the runs of their median probe latency
    probe_max_ms: float | None
    ratio_rps: float | None = None  # wsgikit / gunicorn, higher is better
    ratio_p99: float | None = None  # wsgikit / gunicorn, lower is better


def summarize(runs: list[Run], servers: list[str]) -> tuple[list[Summary], list[str]]:
    """Per (scenario, variant, server) medians, ratios, and plain-language findings."""
    rows: list[Summary] = []
    findings: list[str] = []
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.scenario, run.variant), []).append(run)
    for (scenario, variant), group in groups.items():
        by_server: dict[str, Summary] = {}
        for server in servers:
            mine = [r for r in group if r.server == server]
            measured = [r.result for r in mine if r.result is not None]
            row = by_server[server] = Summary(
                scenario,
                variant,
                server,
                runs=len(mine),
                measured=len(measured),
                answered=sum(1 for r in measured if r.in_time > 0),
                rps=_median([r.rps for r in measured]),
                p50_ms=_median([r.p50_ms for r in measured]),
                p99_ms=_median([r.p99_ms for r in measured]),
                errors={k: sum(r.errors.get(k, 0) for r in measured) for k in ERROR_KINDS},
                probes_sent=sum(int(r.probe["sent"] or 0) for r in mine if r.probe),
                probes_answered=sum(int(r.probe["answered"] or 0) for r in mine if r.probe),
                probe_p50_ms=_median([_float(r.probe["p50_ms"]) for r in mine if r.probe]),
                probe_max_ms=max(
                    (m for r in mine if r.probe and (m := _float(r.probe["max_ms"]))), default=None
                ),
            )
            rows.append(row)
            findings += _findings(row, {r.note for r in mine if r.note})
        if "wsgikit" in by_server and "gunicorn" in by_server:
            wk, gu = by_server["wsgikit"], by_server["gunicorn"]
            rows[-1].ratio_rps = _ratio(wk.rps, gu.rps)
            rows[-1].ratio_p99 = _ratio(wk.p99_ms, gu.p99_ms)
    return rows, findings


def _findings(row: Summary, notes: set[str]) -> list[str]:
    where = f"{row.scenario}/{row.variant}: {row.server}"
    if not row.measured:
        return [f"{where} not measured ({'; '.join(sorted(notes))})"]
    if row.answered < row.measured:
        return [
            f"{where} STARVED: no successful response within the timeout in "
            f"{row.measured - row.answered}"
            f"/{row.measured} runs (load generator errors: {_errors_text(row.errors)})"
        ]
    found = []
    if sum(row.errors.values()):
        found.append(f"{where} answered, with errors: {_errors_text(row.errors)}")
    if row.probes_answered < row.probes_sent:
        found.append(
            f"{where} kept new clients out: {row.probes_sent - row.probes_answered} of "
            f"{row.probes_sent} fresh connections got no answer within the timeout"
        )
    if row.probe_max_ms is not None and row.probe_max_ms > PROBE_SLOW_MS:
        found.append(
            f"{where} kept new clients waiting: a fresh connection's GET / took up to "
            f"{row.probe_max_ms:.0f} ms (median {_num(row.probe_p50_ms, 0)} ms) under load"
        )
    return found


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _errors_text(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in errors.items() if v) or "none"


def print_summary(rows: list[Summary], findings: list[str], cfg: Settings) -> None:
    print(
        f"\n=== summary: medians of {cfg.rounds} interleaved round(s) x {cfg.duration:g} s, "
        f"{cfg.loadgen.kind}, {cfg.workers} workers, {cfg.threads} threads (threaded) ==="
    )
    current = ""
    for row in rows:
        if row.scenario != current:
            current = row.scenario
            scen = SCENARIOS[current]
            print(f"\n{current}: {scen.description}; {cfg.connections_for(scen)} connections")
            print(
                f"  {'variant':<10}{'server':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
                f"{'errors':>9}{'answered':>10}{'new conns':>11}{'conn ms':>9}"
            )
        print(
            f"  {row.variant:<10}{row.server:<10}{_num(row.rps, 1):>10}{_num(row.p50_ms):>9}"
            f"{_num(row.p99_ms):>9}{sum(row.errors.values()):>9}"
            f"{f'{row.answered}/{row.measured}':>10}"
            f"{f'{row.probes_answered}/{row.probes_sent}':>11}{_num(row.probe_p50_ms, 1):>9}"
        )
        if len(cfg.servers) == 2 and row.server == cfg.servers[-1]:
            if row.ratio_rps is None:
                print(f"  {'':<10}ratio wsgikit/gunicorn: n/a ({_why_no_ratio(rows, row)})")
            else:
                print(
                    f"  {'':<10}ratio wsgikit/gunicorn: req/s {_x(row.ratio_rps)} (higher is "
                    f"better), p99 {_x(row.ratio_p99)} (lower is better)"
                )
    if findings:
        print("\nfindings:")
        for line in findings:
            print(f"  - {line}")


def _why_no_ratio(rows: list[Summary], last: Summary) -> str:
    pair = [r for r in rows if (r.scenario, r.variant) == (last.scenario, last.variant)]
    reasons = [
        f"{r.server} not measured" if not r.measured else f"{r.server} starved"
        for r in pair
        if not r.measured or not r.rps
    ]
    return ", ".join(reasons) or "no data"


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _num(value: float | None, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if value is not None else "-"


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "n/a"


def write_json(
    runs: list[Run], rows: list[Summary], findings: list[str], cfg: Settings, started: float
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / time.strftime("bench-%Y%m%d-%H%M%S.json", time.localtime(started))
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "git": _git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": _cpu_count(),
        "gunicorn": _version("gunicorn"),
        "h11": _version("h11"),
        "loadgen": cfg.loadgen.kind,
        "rounds": cfg.rounds,
        "duration_s": cfg.duration,
        "warmup_s": cfg.warmup,
        "workers": cfg.workers,
        "threads": cfg.threads,
        "connections": {s.name: cfg.connections_for(s) for s in cfg.scenarios},
        "idle_clients": cfg.idle_clients,
        "slow_clients": cfg.slow_clients,
        "servers": cfg.servers,
        "wsgikit_cmd": cfg.wsgikit_cmd,
        "gunicorn_cmd": cfg.gunicorn_cmd,
    }
    doc = {
        "meta": meta,
        "summary": [asdict(r) for r in rows],
        "findings": findings,
        "runs": [r.to_json() for r in runs],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_count() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# --- command line -------------------------------------------------------------------------


def ensure_module(module: str, requirement: str, install: bool) -> bool:
    """Import-check ``module``; pip-install ``requirement`` into this env if allowed."""
    if importlib.util.find_spec(module) is not None:
        return True
    if not install:
        print(f"bench: {module} is not installed (pip install {requirement})", file=sys.stderr)
        return False
    print(
        f"bench: {module} is not installed; running: {sys.executable} -m pip install {requirement}",
        file=sys.stderr,
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", requirement], check=False, timeout=600
    )
    importlib.invalidate_caches()
    return importlib.util.find_spec(module) is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark wsgikit's workers against Gunicorn's in the same run (ratios).",
        epilog="Scenarios: " + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values()),
    )
    add = parser.add_argument
    add(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(SCENARIOS)}; default all",
    )
    add(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated subset of wsgikit,gunicorn (default both)",
    )
    add("--rounds", type=int, help="interleaved rounds per variant (default 5)")
    add("--duration", type=int, help="whole seconds per measured run (default 5)")
    add("--warmup", type=int, help="seconds of warm-up load per server start (default 1)")
    add("--workers", type=int, default=2, help="worker processes, both servers (default 2)")
    add("--threads", type=int, default=4, help="threads per threaded worker (default 4)")
    add("--connections", type=int, help="load-generator connections (default per scenario)")
    add("--quick", action="store_true", help="smoke run: 1 round, 2 s runs, 1 s warm-up")
    add(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk if installed (auto), or the Python generator",
    )
    add("--timeout", type=int, default=2, help="per-request timeout of the load generator, s")
    add("--idle-clients", type=int, default=200, help="idle keep-alive connections (slow scenario)")
    add("--slow-clients", type=int, default=20, help="byte-by-byte clients (slow scenario)")
    add(
        "--wsgikit-cmd",
        default=f"{sys.executable} -m wsgikit",
        help="command that starts wsgikit (flags are appended)",
    )
    add(
        "--gunicorn-cmd",
        default=f"{sys.executable} -m gunicorn",
        help="command that starts Gunicorn (flags are appended)",
    )
    add(
        "--no-install",
        action="store_true",
        help="do not pip-install gunicorn/h11 into this environment when missing",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.scenario or [",".join(SCENARIOS)] for n in item.split(",")]
    unknown = [n for n in names if n not in SCENARIOS]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    if not servers or any(s not in SERVERS for s in servers) or len(set(servers)) < len(servers):
        parser.error("--servers takes wsgikit, gunicorn or wsgikit,gunicorn")
    at_least_1 = (args.workers, args.threads, args.connections, args.rounds, args.duration)
    if min(v for v in (*at_least_1, args.timeout) if v is not None) < 1 or (args.warmup or 0) < 0:
        parser.error("--workers/--threads/--connections/--rounds/--duration/--timeout must be >= 1")
    args.scenario_list = [SCENARIOS[n] for n in dict.fromkeys(names)]
    args.server_list = servers
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (a CI job's timeout, kill PID) and SIGINT, even if inherited as ignored,
    # unwind like Ctrl-C so every server and client we started is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    servers: list[str] = []
    for name in args.server_list:
        default_cmd = args.wsgikit_cmd if name == "wsgikit" else args.gunicorn_cmd
        module, requirement = (
            ("h11", "h11>=0.14") if name == "wsgikit" else ("gunicorn", "gunicorn")
        )
        if not default_cmd.startswith(sys.executable) or ensure_module(
            module, requirement, not args.no_install
        ):
            servers.append(name)
        else:
            print(f"bench: skipping {name}: {module} is missing", file=sys.stderr)
    if not servers:
        return 2
    try:
        loadgen = LoadGen(choose(args.loadgen).kind, args.timeout)
    except LoadGenError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    cfg = Settings(
        scenarios=args.scenario_list,
        servers=servers,
        rounds=args.rounds or (1 if args.quick else 5),
        duration=args.duration or (2 if args.quick else 5),
        warmup=args.warmup if args.warmup is not None else 1,
        workers=args.workers,
        threads=args.threads,
        connections=args.connections,
        idle_clients=args.idle_clients,
        slow_clients=args.slow_clients,
        wsgikit_cmd=args.wsgikit_cmd,
        gunicorn_cmd=args.gunicorn_cmd,
        loadgen=loadgen,
    )
    started = time.time()
    runs: list[Run] = []
    print(
        f"bench: {', '.join(s.name for s in cfg.scenarios)} | servers {', '.join(servers)} | "
        f"{cfg.loadgen.kind} | {cfg.rounds} round(s) x {cfg.duration:g} s | "
        f"{_cpu_count()} CPUs",
        flush=True,
    )
    try:
        for scenario in cfg.scenarios:
            print(f"\n{scenario.name}: {scenario.description}", flush=True)
            for model in scenario.variants:
                run_variant(cfg, scenario, model, runs)
    except KeyboardInterrupt:
        for run in runs:
            if run.result is None and not run.note:
                run.note = "interrupted"
        print("\nbench: interrupted; servers stopped, reporting what was measured", file=sys.stderr)
    finally:
        rows, findings = summarize(runs, cfg.servers)
        if runs:
            print_summary(rows, findings, cfg)
            path = write_json(runs, rows, findings, cfg, started)
            print(f"\nresults: {path.relative_to(REPO_ROOT)}  ({time.time() - started:.0f} s)")
    return 0
