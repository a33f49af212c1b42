"""Every hostile case through the sans-IO layer: whole, in pieces and byte by byte.

The verdict must not depend on how the bytes arrive, nor on the client closing:
a rejection comes as soon as the bytes break a rule, with the connection still
open, so a live server answers it without waiting for a timeout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wsgikit.http import HTTPConnection, ProtocolError

from ..http.drive import Outcome, drive
from .corpus import CASES, SMUGGLED, HostileCase, limits_of


def statuses(out: Outcome) -> tuple[int, ...]:
    served = out.output.count(b"HTTP/1.1 200 OK")
    return (200,) * served + ((out.error.status,) if out.error is not None else ())


def test_corpus_is_large_and_every_file_has_a_line() -> None:
    assert len(CASES) >= 150
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    files = {path.stem for path in (Path(__file__).parent / "cases").glob("*.http")}
    assert files == set(names), "a .http file without a line in expected.txt, or the reverse"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_case_gets_its_outcome(case: HostileCase) -> None:
    pieces = [0, 7, 1024] + ([1] if len(case.raw) < 30000 else [])
    for piece in pieces:
        # Without end of input: a rejection must not wait for the client to close.
        for eof in (False, True) if not case.rejected else (False,):
            out = drive(case.raw, limits_of(case), piece=piece, eof=eof)
            got = statuses(out)
            detail = f"pieces of {piece}, eof={eof}: {out.error}; {case.why}"
            assert got == case.outcome, detail
            assert all(request.target != b"/SMUGGLED" for request in out.requests), detail
            if not case.rejected:
                assert out.error is None, detail


@pytest.mark.parametrize("case", [c for c in CASES if c.rejected], ids=str)
def test_after_a_rejection_nothing_more_is_read(case: HostileCase) -> None:
    conn = HTTPConnection(limits_of(case))
    conn.receive_data(case.raw)
    with pytest.raises(ProtocolError):
        for _ in range(case.served * 3 + 3):
            event = conn.next_event()
            if type(event).__name__ == "Paused":
                conn.start_response("200 OK", [("Content-Length", "0")], "D")
                conn.end_response()
                assert conn.start_next_cycle()
    conn.receive_data(SMUGGLED)
    with pytest.raises(ProtocolError):
        conn.next_event()
