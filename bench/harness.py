"""The harness: scenarios, interleaved rounds, medians, CPU per request and ratios.

Each scenario runs several *contestants* (a server and one of its worker models):
wsgikit's default worker (threaded, one app thread), its sync worker and its threaded
worker with four app threads; Gunicorn's sync and gthread workers; and a bare h11
epoll loop (``bench/reference.py``) as the ceiling. Contestants run one after the
other, round after round, in an order that rotates, so slow drift on a shared machine
hits all alike. For every run the harness reads the CPU time of all of the server's
processes from /proc and divides by the requests served: CPU per request is steadier
than req/s on a shared machine, and is the figure the targets are set in.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib
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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bench.loadgen import ERROR_KINDS, LoadGen, LoadGenError, LoadResult, Request, choose
from bench.probe import Prober
from bench.procstat import busiest_share, cpu_sample, worker_rss_mib
from bench.scrape import Scraper
from bench.servers import (
    HOST,
    REPO_ROOT,
    Server,
    ServerSpec,
    ServerStartError,
    gunicorn_spec,
    indent,
    reference_spec,
    wsgikit_spec,
)

SERVERS = ("wsgikit", "gunicorn", "h11-loop")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROBE_SLOW_MS = 1000.0  # a fresh connection waiting longer than this is reported
LOPSIDED = 0.9  # one worker with this share of the work or more: the burst went to it
OBSERVE_COST = 1.05  # CPU/request with status and metrics on, at most this times off


@dataclass(frozen=True)
class Contestant:
    """One server in one worker model: ``model`` is sync, threaded or loop (the reference)."""

    server: str
    model: str
    threads: int = 1
    observe: bool = False  # status and metrics on, and read during the runs (--observe)

    @property
    def label(self) -> str:
        suffix = " +observe" if self.observe else ""
        if self.server == "h11-loop":
            return "h11-loop"
        if self.model == "sync":
            return f"{self.server} sync{suffix}"
        if self.server == "wsgikit" and self.threads == 1:
            return f"wsgikit default{suffix}"
        kind = "gthread" if self.server == "gunicorn" else "threaded"
        return f"{self.server} {kind} x{self.threads}{suffix}"


WK_DEFAULT = Contestant("wsgikit", "threaded", 1)
WK_SYNC = Contestant("wsgikit", "sync")
WK_THREADS = Contestant("wsgikit", "threaded", 4)
GU_SYNC = Contestant("gunicorn", "sync")
GU_GTHREAD = Contestant("gunicorn", "threaded", 4)
REFERENCE = Contestant("h11-loop", "loop")


@dataclass(frozen=True)
class Scenario:
    name: str
    app: str
    contestants: tuple[Contestant, ...]
    connections: int
    description: str
    request: Request = field(default_factory=Request)
    target: float | None = None  # wsgikit CPU/request at most this times Gunicorn's best
    slow_clients: bool = False  # also fresh servers per run, so no run inherits a stuck one
    thread_ceiling: bool = False  # req/s checked against workers x threads / the app's time
    default: bool = True  # part of the suite run with no --scenario


ALL_WSGIKIT = (WK_DEFAULT, WK_SYNC, WK_THREADS)
GUNICORNS = (GU_SYNC, GU_GTHREAD)

SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "hello",
            "bench.apps:hello",
            (*ALL_WSGIKIT, *GUNICORNS, REFERENCE),
            32,
            "hello world, keep-alive: the server's own per-request cost",
            target=0.6,
        ),
        Scenario(
            "post64k",
            "bench.apps:echo",
            (*ALL_WSGIKIT, *GUNICORNS, REFERENCE),
            32,
            "64 KiB POST echoed back: moving a request body in and a response out",
            request=Request(method="POST", body_size=64 << 10),
            target=0.7,
        ),
        Scenario(
            "hello-close",
            "bench.apps:hello",
            (WK_DEFAULT, WK_SYNC, *GUNICORNS, REFERENCE),
            32,
            "hello world with Connection: close: accept and close per request",
            request=Request(headers=(("Connection", "close"),)),
            target=0.8,
        ),
        Scenario(
            "file1m",
            "bench.apps:file1m",
            (WK_DEFAULT, WK_SYNC, *GUNICORNS),
            16,
            "a 1 MiB file through wsgi.file_wrapper (sendfile where the server can)",
            target=0.8,
        ),
        Scenario(
            "flask",
            "bench.flask_app:flask_json",
            (WK_DEFAULT, WK_SYNC, *GUNICORNS),
            32,
            "a Flask JSON view: a real framework's request in front of the server's",
            target=0.8,
        ),
        Scenario(
            "sleep",
            "bench.apps:sleepy",
            (WK_THREADS, GU_GTHREAD),
            64,
            "10 ms sleep per request, 4 app threads: how close to the thread ceiling",
            thread_ceiling=True,
        ),
        Scenario(
            "hello-under-slow-clients",
            "bench.apps:hello",
            (WK_DEFAULT, WK_SYNC, GU_SYNC, GU_GTHREAD),
            32,
            "hello world while idle keep-alive and byte-by-byte slow clients are connected",
            slow_clients=True,
            default=False,
        ),
    )
}


@dataclass
class Run:
    scenario: str
    contestant: str
    round: int
    result: LoadResult | None = None
    note: str = ""  # why there is no result, or what went wrong
    cpu_s: float | None = None  # CPU seconds of every server process during the run
    busiest: float | None = None  # the busiest worker's share of the workers' CPU time
    background: dict[str, int] | None = None
    probe: dict[str, float | int | None] | None = None
    scrapes: dict[str, int] | None = None  # --observe: metrics/health/status reads

    @property
    def cpu_us_per_request(self) -> float | None:
        if self.result is None or self.cpu_s is None or not self.result.ok:
            return None
        return self.cpu_s * 1e6 / self.result.ok

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "contestant": self.contestant,
            "round": self.round,
            "note": self.note,
            "cpu_s": self.cpu_s,
            "cpu_us_per_request": self.cpu_us_per_request,
            "busiest_worker_share": self.busiest,
            "background": self.background,
            "probe": self.probe,
            "scrapes": self.scrapes,
            "result": self.result.to_json() if self.result else None,
        }


@dataclass
class Start:
    """One fresh start: start-up time, idle RSS and (for the plain app) the burst spread."""

    contestant: str
    app: str = "plain"  # "plain" (bench.apps:hello) or "flask" (bench.flask_app:flask_json)
    startup_s: float | None = None
    idle_rss_mib: float | None = None  # mean over the workers
    busiest: float | None = None
    note: str = ""


@dataclass
class Settings:
    scenarios: list[Scenario]
    servers: list[str]
    rounds: int
    duration: int
    warmup: int
    workers: int
    starts: int  # fresh starts for the distribution and start-up check (0: skip it)
    connections: int | None
    idle_clients: int
    slow_clients: int
    wsgikit_cmd: str
    gunicorn_cmd: str
    loadgen: LoadGen
    observe: bool = False  # each wsgikit contestant also runs with status and metrics on
    scrape_interval: float = 1.0
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    # Seconds per call of a thread_ceiling scenario's app, measured alone (app_call_seconds).
    app_seconds: dict[str, float] = field(default_factory=dict)
    shown: set[str] = field(default_factory=set)  # server outputs already printed once

    def spec(self, who: Contestant, scenario: Scenario) -> ServerSpec:
        if who.server == "wsgikit":
            return wsgikit_spec(
                self.wsgikit_cmd, scenario.app, who.model, self.workers, who.threads, who.observe
            )
        if who.server == "gunicorn":
            return gunicorn_spec(
                self.gunicorn_cmd, scenario.app, who.model, self.workers, who.threads
            )
        return reference_spec(scenario.app, self.workers)

    def connections_for(self, scenario: Scenario) -> int:
        return self.connections or scenario.connections

    def contestants(self, scenario: Scenario) -> list[Contestant]:
        """The scenario's contestants this run has servers for; with ``observe``, each
        wsgikit one twice, without and with its status and metrics on."""
        chosen = []
        for who in scenario.contestants:
            if who.server in self.servers:
                chosen.append(who)
                if self.observe and who.server == "wsgikit":
                    chosen.append(replace(who, observe=True))
        return chosen


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


def app_call_seconds(app_ref: str, threads: int, calls: int) -> float:
    """The app's own wall time per call, called here, with no server, by ``threads``
    threads at once, ``calls`` times each (the mean): what each app thread of a server
    that added nothing would spend per request.

    The thread ceiling of the sleep scenario is workers x threads / this, not / 10 ms:
    ``time.sleep(0.01)`` itself takes longer than 10 ms (the kernel's timer slack, the
    wake-up), about 10.1 ms on the bench machine, and that is no server's doing.
    """
    module, _, name = app_ref.partition(":")
    app = getattr(importlib.import_module(module), name)

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        return lambda data: None

    spent: list[float] = []

    def caller() -> None:
        for _ in range(calls):
            began = time.perf_counter()
            result = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
            spent.append(time.perf_counter() - began)

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statistics.fmean(spent)


def thread_ceiling(cfg: Settings, scenario: str, threads: int) -> tuple[float, float]:
    """The most req/s ``threads`` app threads per worker can serve in ``scenario``, and
    the seconds per request it assumes: the app's measured time if the harness took it,
    else the nominal 10 ms."""
    per_call = cfg.app_seconds.get(scenario, 0.01)
    return cfg.workers * threads / per_call, per_call


def warm_up(server: Server, cfg: Settings, scenario: Scenario) -> None:
    if cfg.warmup > 0:
        try:
            cfg.loadgen.run(server.url, cfg.warmup, cfg.connections_for(scenario), scenario.request)
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
            scraper = None
            if server.spec.observe:
                scraper = stack.enter_context(
                    Scraper(server.metrics_port, server.control_path, cfg.scrape_interval)
                )
            before = cpu_sample(server.pid)
            run.result = cfg.loadgen.run(
                server.url, cfg.duration, cfg.connections_for(scenario), scenario.request
            )
            after = cpu_sample(server.pid)
        run.cpu_s = after.total - before.total
        run.busiest = busiest_share(before, after)
        run.probe = prober.summary()
        run.scrapes = dict(scraper.counts) if scraper is not None else None
    except LoadGenError as err:
        run.note = f"load generator failed: {err}"
    if not server.alive():
        run.note = (run.note + "; " if run.note else "") + "server exited during the run"
        print(
            f"  {server.spec.name} exited during the run:\n{indent(server.output_tail())}",
            file=sys.stderr,
        )


def start(spec: ServerSpec, cfg: Settings, key: tuple[str, str]) -> Server | None:
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
            f"  SKIPPING {key[0]} for {key[1]}: {first}\n{output}\n"
            f"    command: {' '.join(server.command())}",
            file=sys.stderr,
        )
        return None
    return server


def run_scenario(cfg: Settings, scenario: Scenario, runs: list[Run]) -> None:
    """All rounds of one scenario, the contestants' order rotating; appends to ``runs``."""
    contestants = cfg.contestants(scenario)
    with contextlib.ExitStack() as stack:
        live: dict[str, Server] = {}
        if not scenario.slow_clients:  # keep servers up across rounds
            for who in contestants:
                server = start(cfg.spec(who, scenario), cfg, (who.label, scenario.name))
                if server is not None:
                    live[who.label] = stack.enter_context(server)
                    warm_up(server, cfg, scenario)
        if scenario.thread_ceiling:  # measured with the servers up but idle
            app_times = [app_call_seconds(scenario.app, WK_THREADS.threads, 50)]
        for rnd in range(1, cfg.rounds + 1):
            shift = (rnd - 1) % len(contestants)
            for who in contestants[shift:] + contestants[:shift]:
                key = (who.label, scenario.name)
                run = Run(scenario.name, who.label, rnd)
                runs.append(run)
                if key in cfg.failed:
                    run.note = f"skipped: {cfg.failed[key]}"
                    continue
                if scenario.slow_clients:
                    fresh = start(cfg.spec(who, scenario), cfg, key)
                    if fresh is None:
                        run.note = f"skipped: {cfg.failed[key]}"
                        continue
                    with fresh:
                        warm_up(fresh, cfg, scenario)
                        measure(fresh, cfg, scenario, run)
                else:
                    measure(live[who.label], cfg, scenario, run)
                    if not live[who.label].alive():
                        cfg.failed[key] = "server exited during an earlier run"
                print_run(run)
        if scenario.thread_ceiling:
            # Before and after the rounds: the machine of the day changes the sleep too.
            app_times.append(app_call_seconds(scenario.app, WK_THREADS.threads, 50))
            per_call = cfg.app_seconds[scenario.name] = statistics.fmean(app_times)
            ceiling, _ = thread_ceiling(cfg, scenario.name, WK_THREADS.threads)
            print(
                f"  the app alone: {per_call * 1e3:.2f} ms per call ({WK_THREADS.threads} "
                f"threads at once, before and after the rounds): thread ceiling "
                f"{ceiling:.0f} req/s ({cfg.workers * WK_THREADS.threads * 100} at exactly 10 ms)",
                flush=True,
            )


def run_starts(cfg: Settings, starts: list[Start]) -> None:
    """Fresh starts: start-up time, idle worker memory, and how a burst spreads.

    With the plain hello app, each start gets a 2 s burst of 32 connections: a load
    generator opens its connections in a burst, as a proxy's upstream pool does; if the
    first worker to wake takes them all, keep-alive keeps them there and the other
    workers idle. Then the same number of starts with the Flask app, for start-up time
    and memory only: the plain app measures the server's own cost, Flask what a
    framework's deployment sees (its imports dominate both servers' figures).
    """
    flask = SCENARIOS["flask"]
    for app, scenario in (("plain", SCENARIOS["hello"]), ("flask", flask)):
        if app == "flask" and importlib.util.find_spec("flask") is None:
            print("  (Flask is not installed: no starts with the Flask app)", flush=True)
            continue
        contestants = [c for c in (WK_DEFAULT, GU_GTHREAD) if c.server in cfg.servers]
        for number in range(1, cfg.starts + 1):  # interleaved: the machine drifts
            for who in contestants:
                record = Start(who.label, app)
                starts.append(record)
                key = (who.label, f"{app} start {number}")
                server = start(cfg.spec(who, scenario), cfg, key)
                if server is None:
                    record.note = "did not start"
                    continue
                with server:
                    record.startup_s = server.startup_s
                    time.sleep(0.5)  # let every worker finish booting before reading memory
                    sizes = worker_rss_mib(server.pid)
                    record.idle_rss_mib = statistics.mean(sizes) if sizes else None
                    if app == "plain":
                        before = cpu_sample(server.pid)
                        try:
                            cfg.loadgen.run(server.url, 2, 32)
                        except LoadGenError as err:
                            record.note = str(err)
                        record.busiest = busiest_share(before, cpu_sample(server.pid))
                spread = (
                    f", busiest worker {_pct(record.busiest)} of the burst"
                    if app == "plain"
                    else ""
                )
                print(
                    f"  [{app} start {number}] {who.label:<20} up in "
                    f"{_num(record.startup_s, 3)} s, idle worker "
                    f"{_num(record.idle_rss_mib, 1)} MiB{spread} {record.note}",
                    flush=True,
                )


# --- reporting ----------------------------------------------------------------------------


def print_run(run: Run) -> None:
    label = f"  [{run.scenario} round {run.round}] {run.contestant:<28}"
    res = run.result
    if res is None:
        print(f"{label} {run.note}")
        return
    errors = ", ".join(f"{k} {v}" for k, v in res.errors.items() if v) or "none"
    if run.probe is not None:
        pr = run.probe
        errors += f"  new conns {pr['answered']}/{pr['sent']}"
    bg = ""
    if run.scrapes is not None:
        bg += f"  scrapes {run.scrapes['scrapes'] - run.scrapes['failed']}/{run.scrapes['scrapes']}"
    if run.background is not None:
        bg += "  | slow answered {}, idle answered {}".format(
            _count(run.background, "slow_answered_"), _count(run.background, "idle_answered_")
        )
    print(
        f"{label} {res.rps:9.1f} req/s  {_num(run.cpu_us_per_request, 0):>5} us CPU/req  "
        f"p99 {_ms(res.p99_ms)}  busiest {_pct(run.busiest)}  errors: {errors}{bg}"
        f"{'  ' + run.note if run.note else ''}",
        flush=True,
    )


def _count(stats: dict[str, int], prefix: str) -> int:
    return sum(v for k, v in stats.items() if k.startswith(prefix))


def _ms(value: float | None) -> str:
    return f"{value:7.2f} ms" if value is not None else "     - ms"


def _pct(value: float | None) -> str:
    return f"{value * 100:3.0f} %" if value is not None else "  - %"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass
class Summary:
    """Medians over one contestant's runs of one scenario."""

    scenario: str
    contestant: str
    runs: int
    measured: int
    answered: int  # runs with at least one successful response within the timeout
    rps: float | None
    cpu_us: float | None  # CPU per request, microseconds
    p50_ms: float | None
    p99_ms: float | None
    busiest: float | None
    errors: dict[str, int]
    probes_sent: int  # fresh connections opened during the runs (bench/probe.py)
    probes_answered: int  # ... that got a 2xx within the timeout
    probe_max_ms: float | None


def summarize(runs: list[Run]) -> tuple[list[Summary], list[str]]:
    """Per (scenario, contestant) medians and plain-language findings."""
    rows: list[Summary] = []
    findings: list[str] = []
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.scenario, run.contestant), []).append(run)
    for (scenario, contestant), mine in groups.items():
        measured = [r for r in mine if r.result is not None]
        row = Summary(
            scenario,
            contestant,
            runs=len(mine),
            measured=len(measured),
            answered=sum(1 for r in measured if r.result and r.result.in_time > 0),
            rps=_median([r.result.rps for r in measured if r.result]),
            cpu_us=_median([r.cpu_us_per_request for r in measured]),
            p50_ms=_median([r.result.p50_ms for r in measured if r.result]),
            p99_ms=_median([r.result.p99_ms for r in measured if r.result]),
            busiest=_median([r.busiest for r in measured]),
            errors={
                k: sum(r.result.errors.get(k, 0) for r in measured if r.result) for k in ERROR_KINDS
            },
            probes_sent=sum(int(r.probe["sent"] or 0) for r in mine if r.probe),
            probes_answered=sum(int(r.probe["answered"] or 0) for r in mine if r.probe),
            probe_max_ms=max(
                (m for r in mine if r.probe and (m := _float(r.probe["max_ms"]))), default=None
            ),
        )
        rows.append(row)
        findings += _findings(row, {r.note for r in mine if r.note})
        failed = sum(r.scrapes["failed"] for r in mine if r.scrapes)
        if failed:
            scrapes = sum(r.scrapes["scrapes"] for r in mine if r.scrapes)
            findings.append(
                f"{scenario}: {contestant}: {failed} of {scrapes} reads of /metrics, /healthz "
                "or the control socket failed during the runs"
            )
    return rows, findings


def _findings(row: Summary, notes: set[str]) -> list[str]:
    where = f"{row.scenario}: {row.contestant}"
    if not row.measured:
        return [f"{where} not measured ({'; '.join(sorted(notes))})"]
    if row.answered < row.measured:
        return [
            f"{where} STARVED: no successful response within the timeout in "
            f"{row.measured - row.answered}/{row.measured} runs "
            f"(load generator errors: {_errors_text(row.errors)})"
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
        found.append(f"{where} kept a new client waiting {row.probe_max_ms:.0f} ms under load")
    if row.busiest is not None and row.busiest >= LOPSIDED and "h11" not in row.contestant:
        found.append(
            f"{where}: one worker did {row.busiest:.0%} of the work (median of the runs): "
            f"the others idled"
        )
    return found


@dataclass
class Verdict:
    """One target of the speed issue, checked against this run's medians."""

    what: str
    measured: float | None
    limit: float
    passed: bool | None  # None: not measured


def verdicts(rows: list[Summary], starts: list[Start], cfg: Settings) -> list[Verdict]:
    """The targets, each with its measured value; the limits are the issue's."""
    out: list[Verdict] = []
    by = {(r.scenario, r.contestant): r for r in rows}
    for scenario in cfg.scenarios:
        if scenario.target is None:
            continue
        gunicorn = [
            r.cpu_us
            for c in GUNICORNS
            if (r := by.get((scenario.name, c.label))) and r.cpu_us is not None
        ]
        best = min(gunicorn) if gunicorn else None
        ref = by.get((scenario.name, REFERENCE.label))
        for who in (WK_DEFAULT, WK_SYNC, WK_THREADS):
            row = by.get((scenario.name, who.label))
            if row is None:
                continue
            ratio = _ratio(row.cpu_us, best)
            out.append(
                Verdict(
                    f"{scenario.name}: {who.label} CPU/request vs Gunicorn's best worker",
                    ratio,
                    scenario.target,
                    None if ratio is None else ratio <= scenario.target,
                )
            )
            if scenario.name == "hello" and ref is not None:
                ratio = _ratio(row.cpu_us, ref.cpu_us)
                out.append(
                    Verdict(
                        f"hello: {who.label} CPU/request vs the bare h11 loop",
                        ratio,
                        1.0,
                        None if ratio is None else ratio <= 1.0,
                    )
                )
    if cfg.observe:
        # What status and metrics cost the request path: the same contestant, on and off.
        for scenario in cfg.scenarios:
            for who in ALL_WSGIKIT:
                off = by.get((scenario.name, who.label))
                on = by.get((scenario.name, replace(who, observe=True).label))
                if off is None or on is None:
                    continue
                ratio = _ratio(on.cpu_us, off.cpu_us)
                out.append(
                    Verdict(
                        f"{scenario.name}: {who.label} CPU/request, status and metrics on vs off",
                        ratio,
                        OBSERVE_COST,
                        None if ratio is None else ratio <= OBSERVE_COST,
                    )
                )
    sleep = by.get(("sleep", WK_THREADS.label))
    if sleep is not None:
        ceiling, per_call = thread_ceiling(cfg, "sleep", WK_THREADS.threads)
        share = _ratio(sleep.rps, ceiling)
        nominal = _ratio(sleep.rps, float(cfg.workers * WK_THREADS.threads * 100))
        out.append(
            Verdict(
                f"sleep: {WK_THREADS.label} req/s vs the thread ceiling ({ceiling:.0f}/s, "
                f"the app taking {per_call * 1e3:.2f} ms; {_num(nominal)} of the 10 ms one)",
                share,
                0.95,
                None if share is None else share >= 0.95,
            )
        )
    mine = [s for s in starts if s.contestant == WK_DEFAULT.label and s.busiest is not None]
    if mine:
        lopsided = sum(1 for s in mine if s.busiest is not None and s.busiest >= LOPSIDED)
        out.append(
            Verdict(
                f"burst: fresh starts of {WK_DEFAULT.label} with >= {LOPSIDED:.0%} on one worker"
                f" (of {len(mine)})",
                float(lopsided),
                0.0,
                lopsided == 0,
            )
        )
    for app in ("plain", "flask"):
        for what, attr in (
            ("start-up to first answer", "startup_s"),
            ("idle worker RSS", "idle_rss_mib"),
        ):
            wk, gu = (
                _median([getattr(s, attr) for s in starts if (s.contestant, s.app) == (who, app)])
                for who in (WK_DEFAULT.label, GU_GTHREAD.label)
            )
            ratio = _ratio(wk, gu)
            if ratio is not None:
                out.append(
                    Verdict(
                        f"{what}, {app} app: {WK_DEFAULT.label} vs {GU_GTHREAD.label}",
                        ratio,
                        1.0,
                        ratio <= 1.0,
                    )
                )
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _errors_text(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in errors.items() if v) or "none"


def print_summary(
    rows: list[Summary], findings: list[str], starts: list[Start], cfg: Settings
) -> list[Verdict]:
    print(
        f"\n=== summary: medians of {cfg.rounds} interleaved round(s) x {cfg.duration:g} s, "
        f"{cfg.loadgen.kind}, {cfg.workers} workers ==="
    )
    current = ""
    for row in rows:
        if row.scenario != current:
            current = row.scenario
            scen = SCENARIOS[current]
            print(f"\n{current}: {scen.description}; {cfg.connections_for(scen)} connections")
            print(
                f"  {'contestant':<30}{'req/s':>9}{'CPU us/req':>12}{'p50 ms':>9}{'p99 ms':>9}"
                f"{'busiest':>9}{'errors':>8}{'answered':>10}{'new conns':>11}"
            )
        print(
            f"  {row.contestant:<30}{_num(row.rps, 0):>9}{_num(row.cpu_us, 0):>12}"
            f"{_num(row.p50_ms):>9}{_num(row.p99_ms):>9}{_pct(row.busiest):>9}"
            f"{sum(row.errors.values()):>8}{f'{row.answered}/{row.measured}':>10}"
            f"{f'{row.probes_answered}/{row.probes_sent}':>11}"
        )
    if starts:
        print(
            f"\nfresh starts ({cfg.starts} each; with the plain app a 2 s burst of 32 "
            "connections after each):"
        )
        for label, app in dict.fromkeys((s.contestant, s.app) for s in starts):
            mine = [s for s in starts if (s.contestant, s.app) == (label, app)]
            spread = ""
            if app == "plain":
                lopsided = sum(1 for s in mine if s.busiest is not None and s.busiest >= LOPSIDED)
                spread = (
                    f", busiest worker median {_pct(_median([s.busiest for s in mine]))}, "
                    f"{lopsided} of {len(mine)} starts lopsided (>= {LOPSIDED:.0%})"
                )
            print(
                f"  {label:<22} {app:<6} start-up {_num(_median([s.startup_s for s in mine]), 3)}"
                f" s, idle worker {_num(_median([s.idle_rss_mib for s in mine]), 1)} MiB{spread}"
            )
    results = verdicts(rows, starts, cfg)
    if results:
        print("\ntargets (ratio wsgikit/reference; lower is better unless marked >=):")
        for v in results:
            mark = "n/a" if v.passed is None else ("met" if v.passed else "MISSED")
            sign = ">=" if "ceiling" in v.what else "<="
            print(f"  {mark:<7}{v.what}: {_num(v.measured)} ({sign} {v.limit:g})")
    if findings:
        print("\nfindings:")
        for line in findings:
            print(f"  - {line}")
    return results


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _num(value: float | None, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if value is not None else "-"


def write_json(
    runs: list[Run],
    rows: list[Summary],
    findings: list[str],
    starts: list[Start],
    results: list[Verdict],
    cfg: Settings,
    started: float,
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
        "connections": {s.name: cfg.connections_for(s) for s in cfg.scenarios},
        "servers": cfg.servers,
        "wsgikit_cmd": cfg.wsgikit_cmd,
        "observe": cfg.observe,
        "gunicorn_cmd": cfg.gunicorn_cmd,
        "app_seconds": cfg.app_seconds,
    }
    doc = {
        "meta": meta,
        "summary": [asdict(r) for r in rows],
        "targets": [asdict(v) for v in results],
        "starts": [asdict(s) for s in starts],
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
        description="Benchmark wsgikit's workers against Gunicorn's and a bare h11 loop, "
        "in the same run: CPU per request, req/s and the ratios the speed targets are set in.",
        epilog="Scenarios: " + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values()),
    )
    add = parser.add_argument
    default = [s.name for s in SCENARIOS.values() if s.default]
    add(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(SCENARIOS)}; "
        f"default {', '.join(default)}",
    )
    add(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated subset of wsgikit,gunicorn,h11-loop (default all)",
    )
    add("--rounds", type=int, help="interleaved rounds per scenario (default 3)")
    add("--duration", type=int, help="whole seconds per measured run (default 4)")
    add("--warmup", type=int, help="seconds of warm-up load per server start (default 1)")
    add("--workers", type=int, default=2, help="worker processes, every server (default 2)")
    add(
        "--starts", type=int, help="fresh starts for the burst/start-up check (default 10; 0 skips)"
    )
    add("--connections", type=int, help="load-generator connections (default per scenario)")
    add("--quick", action="store_true", help="smoke run: 1 round, 2 s runs, 3 starts")
    add(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk if installed (auto), or the Python generator (GET scenarios only)",
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
        "--observe",
        action="store_true",
        help="also run each wsgikit contestant with its status and metrics on "
        "(--metrics-bind and --control-socket, each server on addresses of its own), "
        "read during the runs as Prometheus, a probe and `wsgikit status` would: "
        "the cost of observing, on and off in the same run",
    )
    add(
        "--scrape-interval",
        type=float,
        default=1.0,
        help="with --observe: seconds between reads of /metrics, /healthz and the "
        "control socket (default 1)",
    )
    add(
        "--no-install",
        action="store_true",
        help="do not pip-install gunicorn/h11 into this environment when missing",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.scenario or [",".join(default)] for n in item.split(",")]
    unknown = [n for n in names if n not in SCENARIOS]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    if not servers or any(s not in SERVERS for s in servers) or len(set(servers)) < len(servers):
        parser.error("--servers takes a comma-separated subset of " + ",".join(SERVERS))
    at_least_1 = (args.workers, args.connections, args.rounds, args.duration)
    if min(v for v in (*at_least_1, args.timeout) if v is not None) < 1 or (args.warmup or 0) < 0:
        parser.error("--workers/--connections/--rounds/--duration/--timeout must be >= 1")
    if not args.scrape_interval > 0:
        parser.error("--scrape-interval must be > 0")
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
        if name == "gunicorn":
            ok = not args.gunicorn_cmd.startswith(sys.executable) or ensure_module(
                "gunicorn", "gunicorn", not args.no_install
            )
        else:
            ok = ensure_module("h11", "h11>=0.16", not args.no_install)
        if ok:
            servers.append(name)
        else:
            print(f"bench: skipping {name}: a module it needs is missing", file=sys.stderr)
    if not servers:
        return 2
    if "wsgikit" in servers:
        # Installed packages carry their compiled bytecode (pip writes it); a checkout
        # run with PYTHONDONTWRITEBYTECODE=1 would compile wsgikit at every start and
        # charge it to start-up time and RSS: compile it once, as an install would.
        compileall.compile_dir(str(REPO_ROOT / "wsgikit"), quiet=1)
    try:
        loadgen = LoadGen(choose(args.loadgen).kind, args.timeout)
    except LoadGenError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    cfg = Settings(
        scenarios=args.scenario_list,
        servers=servers,
        rounds=args.rounds or (1 if args.quick else 3),
        duration=args.duration or (2 if args.quick else 4),
        warmup=args.warmup if args.warmup is not None else 1,
        workers=args.workers,
        starts=args.starts if args.starts is not None else (3 if args.quick else 10),
        connections=args.connections,
        idle_clients=args.idle_clients,
        slow_clients=args.slow_clients,
        wsgikit_cmd=args.wsgikit_cmd,
        gunicorn_cmd=args.gunicorn_cmd,
        loadgen=loadgen,
        observe=args.observe,
        scrape_interval=args.scrape_interval,
    )
    started = time.time()
    runs: list[Run] = []
    starts: list[Start] = []
    print(
        f"bench: {', '.join(s.name for s in cfg.scenarios)} | servers {', '.join(servers)} | "
        f"{cfg.loadgen.kind} | {cfg.rounds} round(s) x {cfg.duration:g} s | "
        f"{_cpu_count()} CPUs",
        flush=True,
    )
    try:
        for scenario in cfg.scenarios:
            print(f"\n{scenario.name}: {scenario.description}", flush=True)
            run_scenario(cfg, scenario, runs)
        if cfg.starts:
            print("\nfresh starts under a burst", flush=True)
            run_starts(cfg, starts)
    except KeyboardInterrupt:
        for run in runs:
            if run.result is None and not run.note:
                run.note = "interrupted"
        print("\nbench: interrupted; servers stopped, reporting what was measured", file=sys.stderr)
    finally:
        rows, findings = summarize(runs)
        if runs or starts:
            results = print_summary(rows, findings, starts, cfg)
            path = write_json(runs, rows, findings, starts, results, cfg, started)
            print(f"\nresults: {path.relative_to(REPO_ROOT)}  ({time.time() - started:.0f} s)")
    return 0
