"""The shortcuts on the hot paths change nothing: a store applying committed entries through
`apply_op` (whose plain puts skip the general transaction machinery) ends in exactly the state,
with exactly the responses, of one applying them through `apply`; and the network's latency
draws are the random stream's own `randint`.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.etcd.mvcc import MVCCStore
from kube_teach.sim import Seeds, uniform
from kube_teach.sim.duration import to_ns

KEYS = ["a", "b", "c", b"\xff", "\u00e9"]
VALUES = ["", "x", "v" * 40, "w" * 200, b"\x00\x01"]

put = st.builds(
    lambda k, v, flags: {"put": {"key": k, "value": v, **flags}},
    st.sampled_from(KEYS),
    st.sampled_from(VALUES),
    st.sampled_from(
        [
            {},
            {"lease": 0, "prev_kv": False, "ignore_value": False, "ignore_lease": False},
            {"prev_kv": True},
            {"ignore_value": True},
            {"ignore_lease": True},
            {"lease": 7},
            {"lease": 99},  # no such lease
        ]
    ),
)
other = st.sampled_from(
    [
        {"delete_range": {"key": "a"}},
        {"delete_range": {"key": "a", "range_end": "c", "prev_kv": True}},
        {"lease_grant": {"ID": 7, "TTL": 60}},
        {"lease_revoke": {"ID": 7}},
        {"compaction": {"revision": 3}},
        {
            "txn": {
                "compare": [{"key": "a", "target": "VERSION", "result": "GREATER", "version": 0}],
                "success": [{"request_put": {"key": "b", "value": "t"}}],
                "failure": [{"request_range": {"key": "b"}}],
            }
        },
        {"alarm": {"action": "ACTIVATE", "memberID": 1, "alarm": "NOSPACE"}},
        {"alarm": {"action": "DEACTIVATE", "memberID": 1, "alarm": "NOSPACE"}},
    ]
)


def _state(s: MVCCStore) -> tuple:
    return (
        s.current_rev,
        sorted(s.backend.records.items()),
        s.backend.size,
        s.backend.size_in_use,
        [(dict(leaf.items), leaf.nbytes) for leaf in s.backend._leaves],  # bytes per record
        s.status(),
        sorted(s.lessor._item.items()),
        s.applier,
    )


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(st.one_of(put, put, put, other), max_size=40),
    quota=st.sampled_from([0, -1, 24 * 1024]),
    watch=st.booleans(),
)
def test_apply_op_matches_apply(ops, quota, watch):
    general, fast = MVCCStore(quota_backend_bytes=quota), MVCCStore(quota_backend_bytes=quota)
    if watch:
        ids = [s.watch("a", "z", prev_kv=True)["watch_id"] for s in (general, fast)]
    for request in ops:
        ((kind, body),) = request.items()
        want = general.apply({kind: dict(body)})
        got = fast.apply_op(kind, dict(body))
        assert got == want, request
        assert _state(fast) == _state(general), request
    if watch:
        assert fast.watch_responses(ids[1]) == general.watch_responses(ids[0])
    assert fast.snapshot() == general.snapshot()


def test_apply_op_fills_the_quota_as_apply_does():
    """Right at the quota the plain put must step aside: the write lands and NOSPACE comes
    back with the alarm to raise, as from `apply`."""
    general, fast = (MVCCStore(quota_backend_bytes=20 * 4096) for _ in range(2))
    for i in range(400):
        req = {"key": f"k{i % 50}", "value": "v" * 300}
        want, got = general.apply({"put": dict(req)}), fast.apply_op("put", dict(req))
        assert got == want
        if "error" in want:
            assert want["raise_alarm"]["alarm"] == "NOSPACE"
            break
    else:
        pytest.fail("the quota was never reached")
    assert _state(fast) == _state(general)


@pytest.mark.parametrize(
    ("lo", "hi"),
    [("1ms", "1ms"), ("0s", "0s"), ("1ns", "2ns"), ("1ms", "30ms"), ("1ms", "1500ms"), (0, 3600)],
)
def test_uniform_draws_what_randint_draws(lo, hi):
    for seed in range(10):
        a, b = random.Random(seed), random.Random(seed)
        draw = uniform(lo, hi)
        assert [draw(a) for _ in range(300)] == [
            b.randint(to_ns(lo), to_ns(hi)) for _ in range(300)
        ]
        assert a.random() == b.random()  # and leaves the stream where randint leaves it


def test_uniform_with_bounds_reversed_fails_as_randint():
    with pytest.raises(ValueError, match="empty range"):
        uniform("2ms", "1ms")(Seeds(0).stream("x"))
