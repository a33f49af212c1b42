"""Differential check: nothing wsgikit accepts may be rejected by a strict reference parser.

Behind a proxy, a request that one parser accepts and another rejects (or reads
differently) is where smuggling starts. Every hostile case, every valid case
and generated (mutated) request streams go through Gunicorn's parser too; a
request wsgikit serves that Gunicorn refuses fails the test unless it is listed
in ``DISAGREEMENTS`` with the reason it is safe. The other direction (wsgikit
stricter) is expected and is listed in docs/security.md.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..http.drive import trace
from ..http.streams import Sent, mutations, streams
from ..http.valid_cases import VALID, ValidCase
from .corpus import CASES, HostileCase
from .reference import reference_accepts

pytest.importorskip("gunicorn", reason="the reference parser comes with the test extra")

#: Cases wsgikit serves and Gunicorn refuses, with the reason that is no smuggling risk.
DISAGREEMENTS = {
    "header-field-exactly-8190": (
        "limit arithmetic, not parsing: Gunicorn counts the CRLF in limit_request_field_size, "
        "we count the field line without it (both read the field the same way)"
    ),
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_case_agrees_with_the_reference(case: HostileCase) -> None:
    served, reason = reference_accepts(case.raw, case.limits)
    if case.served > served and case.name not in DISAGREEMENTS:
        pytest.fail(f"wsgikit serves {case.served}, Gunicorn {served} ({reason}); {case.why}")


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.id)
def test_valid_case_agrees_with_the_reference(case: ValidCase) -> None:
    served, reason = reference_accepts(case.raw, case.limits)
    if case.requests > served and case.id not in DISAGREEMENTS:
        pytest.fail(f"wsgikit serves {case.requests}, Gunicorn {served} ({reason}); {case.why}")


def test_listed_disagreements_still_disagree() -> None:
    """The list stays honest: a listed case that now agrees is taken off it."""
    raw = {c.name: (c.raw, c.limits, c.served) for c in CASES}
    raw.update({c.id: (c.raw, c.limits, c.requests) for c in VALID})
    for name in DISAGREEMENTS:
        data, limits, ours = raw[name]
        assert reference_accepts(data, limits)[0] < ours, f"{name} agrees now: unlist it"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), stream=streams())
def test_generated_streams_agree_with_the_reference(
    data: st.DataObject, stream: tuple[bytes, list[Sent]]
) -> None:
    raw, _ = stream
    if data.draw(st.booleans(), label="mutate"):
        raw = data.draw(mutations(raw), label="mutated")
    ours = sum(1 for event in trace(raw) if event[0] == "end")
    served, reason = reference_accepts(raw)
    assert ours <= served, f"wsgikit serves {ours}, Gunicorn {served} ({reason})"
