"""Fuzz wsgikit's sans-IO HTTP connection with atheris (libFuzzer); see fuzz/README.md.

Each input is a byte stream a client might send. It is fed to an
``HTTPConnection`` whole and cut into pieces (the cuts derive from the input,
so a crash reproduces from the file alone), with default and with tiny
limits, and with or without end of input. The run fails on:

- any exception but ``ProtocolError`` (a crash of the parser);
- a connection that stops making progress;
- an event stream breaking an invariant (``tests/http/drive.py:check_trace``):
  an error status outside 400/413/414/431/501/505, a body longer than its
  Content-Length or the body limit, a target with a fragment;
- more requests than the input has request lines;
- a verdict that depends on how the bytes were cut.
"""

from __future__ import annotations

import random
import sys
import zlib
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    import h11  # noqa: F401  (instrumented too: it parses our heads)

    from wsgikit.http import Limits

from tests.http.drive import check_trace, trace  # noqa: E402

LIMITS = (
    Limits(),
    Limits(request_line=64, header_fields=6, header_field_size=48, body=300, chunk_extension=24),
)


def _requests(events: list[tuple[object, ...]]) -> int:
    return sum(1 for event in events if event[0] == "request")


def check(data: bytes) -> None:
    """Run every invariant on one input; raises AssertionError (or the parser's bug)."""
    seed = zlib.crc32(data)
    rng = random.Random(seed)
    limits = LIMITS[seed & 1]
    eof = bool(seed & 2)
    cuts = [rng.randrange(1, len(data) + 1) for _ in range(rng.randrange(0, 9))] if data else []
    whole = trace(data, (), limits, eof)
    check_trace(whole, limits)
    assert _requests(whole) <= data.count(b" HTTP/"), "more requests than request lines"
    pieces = trace(data, cuts, limits, eof)
    if whole[-1][0] == "error":
        # Which rule fires first may depend on the cuts, never what came before.
        assert pieces[:-1] == whole[:-1] and pieces[-1][0] == "error", (whole, pieces)
    else:
        assert pieces == whole, (whole, pieces)


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
