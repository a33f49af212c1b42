"""Drive a server with wrk, or with the Python load generator (``bench/pyload.py``) without it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ERROR_KINDS = ("connect", "read", "write", "status", "timeout")
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
MARKER = "BENCHJSON "


@dataclass
class LoadResult:
    """One measured run. ``requests`` counts every response; ``status`` errors are non-2xx/3xx.

    wrk counts a response that comes after its timeout both in ``requests`` and as a
    ``timeout`` error (and leaves it out of the latency percentiles): ``late`` says how
    many of ``requests`` those are. The Python generator abandons such requests instead.
    """

    requests: int
    duration_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0

    @property
    def ok(self) -> int:
        """Successful responses, however late."""
        return max(0, self.requests - self.errors.get("status", 0))

    @property
    def in_time(self) -> int:
        """Successful responses within the timeout: zero means the server was starved."""
        return max(0, self.ok - self.late)

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok, "in_time": self.in_time, "rps": round(self.rps, 1)}


class LoadGenError(Exception):
    """The load generator itself failed (not the server under test)."""


@dataclass(frozen=True)
class LoadGen:
    """Which generator to use and how hard to push: ``kind`` is "wrk" or "python"."""

    kind: str
    timeout_s: int = 2  # wrk takes whole seconds

    def run(
        self, url: str, duration: int, connections: int, request: Request | None = None
    ) -> LoadResult:
        """Load ``url`` for ``duration`` seconds over ``connections`` connections.

        ``request`` changes what is sent (a POST body, extra headers); only wrk can.
        """
        request = request or Request()
        if self.kind == "wrk":
            with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script:
                script.write(request.wrk_prelude() + WRK_SCRIPT.read_text())
                script.flush()
                argv = [
                    "wrk", "-t", str(min(2, connections)), "-c", str(connections),
                    "-d", f"{duration:g}s", "--timeout", f"{self.timeout_s:g}s",
                    "-s", script.name, url,
                ]  # fmt: skip
                return _run_and_parse(argv, duration + self.timeout_s + 15, True)
        if request != Request():
            raise LoadGenError("this scenario needs wrk (apt-get install wrk)")
        argv = [
            sys.executable, "-m", "bench.pyload", url, "--connections", str(connections),
            "--duration", f"{duration:g}", "--timeout", f"{self.timeout_s:g}",
        ]  # fmt: skip
        return _run_and_parse(argv, duration + self.timeout_s + 15, False)


@dataclass(frozen=True)
class Request:
    """What each request of a load run is: ``GET /`` unless told otherwise."""

    method: str = "GET"
    body_size: int = 0  # bytes of body (a POST)
    headers: tuple[tuple[str, str], ...] = ()

    def wrk_prelude(self) -> str:
        lines = [f'wrk.method = "{self.method}"']
        if self.body_size:
            lines.append(f'wrk.body = string.rep("x", {self.body_size})')
            lines.append(f'wrk.headers["Content-Length"] = "{self.body_size}"')
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in self.headers]
        return "\n".join(lines) + "\n"


def choose(preference: str) -> LoadGen:
    """``auto`` picks wrk when it is on PATH, else the Python generator (with a hint)."""
    have_wrk = shutil.which("wrk") is not None
    if preference == "wrk" and not have_wrk:
        raise LoadGenError(
            "wrk not found on PATH; install it (apt-get install wrk) or use --loadgen python"
        )
    if preference == "python" or not have_wrk:
        if preference == "auto":
            print(
                "bench: wrk not found (Debian/Ubuntu: apt-get install wrk); using the "
                "slower Python load generator. Ratios stay meaningful; absolute numbers "
                "are not comparable with wrk runs.",
                file=sys.stderr,
            )
        return LoadGen("python")
    return LoadGen("wrk")


def _run_and_parse(argv: list[str], limit: float, late_in_requests: bool) -> LoadResult:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        raise LoadGenError(f"{argv[0]} did not finish within {limit:.0f} s") from None
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            result = LoadResult(
                requests=int(data["requests"]),
                duration_s=float(data["duration_s"]),
                p50_ms=float(data["p50_ms"]),
                p99_ms=float(data["p99_ms"]),
                errors={kind: int(data[kind]) for kind in ERROR_KINDS},
                late=int(data["timeout"]) if late_in_requests else 0,
            )
            if result.requests - result.late <= 0:  # no latency sample at all
                result.p50_ms = result.p99_ms = None
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    raise LoadGenError(f"{argv[0]} exited {done.returncode} without a report: {' | '.join(tail)}")
