"""Properties of the sans-IO connection over generated request streams (hypothesis).

Bounded for CI: a few hundred examples per property, no deadline (the machine
is shared). ``HYPOTHESIS_EXAMPLES`` raises the count for a longer local run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .drive import check_trace, trace
from .streams import Sent, mutations, streams

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "200"))
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
cut_lists = st.lists(st.integers(0, 2000), max_size=12)


def _requests(events: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return [event for event in events if event[0] == "request"]


def _expected(sent: list[Sent]) -> list[tuple[object, ...]]:
    """The events a correct parser gives for ``sent`` (heads checked by field)."""
    out: list[tuple[object, ...]] = []
    for item in sent:
        out.append(("request", item.method, item.target))
        if item.body:
            out.append(("data", item.body))
        out.append(("end",))
    return out


@PROFILE
@given(stream=streams(), cuts=cut_lists)
def test_any_split_of_a_valid_stream_gives_the_same_events(
    stream: tuple[bytes, list[Sent]], cuts: list[int]
) -> None:
    raw, sent = stream
    whole = trace(raw)
    assert trace(raw, cuts) == whole
    assert trace(raw, range(1, len(raw))) == whole  # byte by byte
    # ... and they are the requests that were sent, bodies decoded.
    assert whole[-1] == ("closed",), whole[-1]
    got = [e[:3] if e[0] == "request" else e for e in whole[:-1]]
    assert got == _expected(sent)
    check_trace(whole)


@PROFILE
@given(data=st.data(), stream=streams(), cuts=cut_lists)
def test_mutated_streams_only_raise_protocol_errors(
    data: st.DataObject, stream: tuple[bytes, list[Sent]], cuts: list[int]
) -> None:
    raw, sent = stream
    mutated = data.draw(mutations(raw))
    whole = trace(mutated)  # anything but ProtocolError propagates and fails the test
    check_trace(whole)
    assert len(_requests(whole)) <= len(sent), "more requests than were sent"
    split = trace(mutated, cuts)
    # How the bytes arrive may change which rule fires first (and so the
    # status), never what was accepted before it.
    if whole[-1][0] == "error":
        assert split[:-1] == whole[:-1] and split[-1][0] == "error"
    else:
        assert split == whole
