"""Every malformed request gets its status and nothing after it is answered;
every valid-but-unusual request is parsed."""

from __future__ import annotations

import pytest

from .drive import drive, limits_from
from .malformed_cases import CASES, KNOWN_GAPS, Case
from .valid_cases import VALID, ValidCase


def test_corpus_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 40
    ids = [c.id for c in CASES + KNOWN_GAPS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_malformed_request_gets_its_status(case: Case) -> None:
    # Whole, in odd-sized pieces, and (for the small ones) one byte at a time:
    # the verdict must not depend on how the bytes arrive.
    pieces = [0, 7, 1024] + ([1] if len(case.raw) < 20000 else [])
    for piece in pieces:
        out = drive(case.raw, limits_from(case.limits), piece=piece)
        assert out.error is not None, f"accepted in pieces of {piece}: {case.why}"
        assert out.error.status == case.status, f"{out.error} (pieces of {piece}; {case.why})"
        # Nothing behind the rejected request is parsed, let alone answered.
        assert all(r.target != b"/SMUGGLED" for r in out.requests)
        assert out.output == b""


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.id)
def test_valid_request_is_parsed(case: ValidCase) -> None:
    for piece in (0, 1, 1024):
        out = drive(case.raw, limits_from(case.limits), piece=piece)
        assert out.error is None, f"{case.id} rejected: {out.error}"
        assert len(out.requests) == case.requests
        first = out.requests[0]
        assert first.method == case.method
        assert first.target == case.target
        assert len(first.headers) == case.headers_count
        assert out.bodies[0] == case.body
        assert out.output.count(b"HTTP/1.1 200 OK") == case.requests
