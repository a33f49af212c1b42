"""Every valid-but-unusual request is parsed the same whatever way its bytes arrive.

The hostile corpus (requests to reject) is in ``tests/hostile``.
"""

from __future__ import annotations

import pytest

from .drive import drive, limits_from
from .valid_cases import VALID, ValidCase


def test_ids_unique() -> None:
    ids = [c.id for c in VALID]
    assert len(ids) == len(set(ids))


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
