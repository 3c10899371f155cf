"""Max-in-flight and API Priority and Fairness: limits, classification, shuffle sharding,
fair dispatch, rejections. Cases after apiserver's util/flowcontrol and shufflesharding tests."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.apiserver.flowcontrol import (
    APF,
    TOO_MANY_REQUESTS_BODY,
    Dispatch,
    DroppedRequests,
    FlowRequest,
    MaxInFlight,
    Queued,
    Reject,
    deal,
    go_round,
    required_entropy_bits,
)
from kube_teach.apiserver.request import Attributes, UserInfo, request_info
from kube_teach.sim.duration import SECOND

ALICE = UserInfo.named("alice")


def get(user=ALICE, path="/api/v1/namespaces/default/pods/web", method="GET", rid=None):
    return FlowRequest(rid or path, Attributes.of(user, request_info(method, path)))


# -- max-in-flight -------------------------------------------------------------------------------


def test_max_inflight_429_is_plain_text_with_retry_after_1():
    mif = MaxInFlight(max_requests_inflight=1, max_mutating_requests_inflight=1)
    assert isinstance(mif.admit(get(rid=1)), Dispatch)
    r = mif.admit(get(rid=2))
    assert isinstance(r, Reject)
    assert (r.code, r.body, r.headers["Retry-After"]) == (
        429,
        "Too many requests, please try again later.\n",
        "1",
    )
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert TOO_MANY_REQUESTS_BODY.strip() == "Too many requests, please try again later."


def test_max_inflight_pools_and_exemptions():
    mif = MaxInFlight(1, 1)
    assert isinstance(mif.admit(get(rid=1)), Dispatch)
    assert isinstance(
        mif.admit(get(method="POST", path="/api/v1/namespaces/default/pods", rid=2)), Dispatch
    ), "separate pools"
    assert isinstance(mif.admit(get(path="/api/v1/pods?watch=true", rid=3)), Dispatch), (
        "watches are not counted"
    )
    assert isinstance(mif.admit(get(path="/api/v1/namespaces/d/pods/p/log", rid=4)), Dispatch), (
        "logs are long-running"
    )
    root = UserInfo("root", groups=("system:masters",))
    assert mif.admit(get(user=root, rid=5)).exempt, "system:masters bypasses a full pool"
    assert isinstance(mif.admit(get(rid=6)), Reject)
    mif.finish(1)
    assert isinstance(mif.admit(get(rid=7)), Dispatch)


def test_defaults_are_400_and_200():
    assert MaxInFlight().limits == {False: 400, True: 200}


# -- shuffle sharding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deck", "hand", "bits"), [(4, 3, 6), (128, 8, 56), (256, 7, 56), (256, 8, 64), (64, 6, 36)]
)
def test_required_entropy_bits(deck, hand, bits):
    assert required_entropy_bits(deck, hand) == bits


@pytest.mark.parametrize(
    ("deck", "hand", "message"),
    [
        (0, 1, "deckSize 0 or handSize 1 is not positive"),
        (4, 5, "handSize 5 is greater than deckSize 4"),
        ((1 << 26) + 1, 1, f"deckSize {(1 << 26) + 1} is impractically large"),
        (256, 8, "required entropy bits of deckSize 256 and handSize 8 is greater than 60"),
    ],
)
def test_dealer_rejects_bad_configurations(deck, hand, message):
    with pytest.raises(ValueError, match=message):
        deal(0, deck, hand)


def test_every_hand_is_dealt_exactly_once_over_the_hash_range():
    deck, hand = 8, 3
    hands = [tuple(deal(h, deck, hand)) for h in range(deck * (deck - 1) * (deck - 2))]
    assert sorted(hands) == sorted(itertools.permutations(range(deck), hand))


@given(h=st.integers(0, 2**64 - 1), deck=st.integers(6, 128), hand=st.integers(1, 6))
def test_a_hand_is_distinct_cards_in_range(h, deck, hand):
    cards = deal(h, deck, hand)
    assert len(cards) == hand == len(set(cards)) and all(0 <= c < deck for c in cards)
    assert cards == deal(h, deck, hand)


def test_go_round_goes_away_from_zero():
    assert [go_round(x) for x in (0.5, 1.5, 2.5, -0.5, 24.5, 220.5)] == [1, 2, 3, -1, 25, 221]


# -- configuration and classification ------------------------------------------------------------


def test_default_concurrency_limits():
    limits = APF().limits()
    assert {n: (v["nominal"], v["lendable"]) for n, v in limits.items()} == {
        "catch-all": (13, 0), "exempt": (0, 0), "global-default": (49, 25), "leader-election": (25, 0),
        "node-high": (98, 25), "system": (74, 24), "workload-high": (98, 49), "workload-low": (245, 221),
    }  # fmt: skip
    assert all(v["max"] == v["nominal"] + 600 for v in limits.values())


NODE = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
KCM = UserInfo.named("system:kube-controller-manager")


@pytest.mark.parametrize(
    ("user", "method", "path", "schema", "level"),
    [
        pytest.param(UserInfo("root", groups=("system:masters",)), "GET", "/api/v1/pods", "exempt", "exempt", id="system:masters"),
        pytest.param(ALICE, "GET", "/healthz", "probes", "exempt", id="health probes"),
        pytest.param(NODE, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "system-node-high", "node-high",
                     id="node leases"),
        pytest.param(NODE, "GET", "/api/v1/pods", "system-nodes", "system", id="other node traffic"),
        pytest.param(KCM, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager",
                     "system-leader-election", "leader-election", id="leader election"),
        pytest.param(KCM, "GET", "/apis/apps/v1/replicasets", "kube-controller-manager", "workload-high", id="controller manager"),
        pytest.param(UserInfo.named("system:serviceaccount:kube-system:coredns"), "GET", "/api/v1/services",
                     "kube-system-service-accounts", "workload-high", id="kube-system service accounts"),
        pytest.param(UserInfo.named("system:serviceaccount:dev:app"), "GET", "/api/v1/services", "service-accounts", "workload-low",
                     id="other service accounts"),
        pytest.param(ALICE, "GET", "/api/v1/namespaces/default/pods", "global-default", "global-default", id="everyone else"),
        pytest.param(UserInfo.named("system:anonymous"), "GET", "/version", "global-default", "global-default", id="anonymous too"),
    ],
)  # fmt: skip
def test_classification(user, method, path, schema, level):
    fs, state, _ = APF().classify(Attributes.of(user, request_info(method, path)))
    assert (fs["metadata"]["name"], state.config["metadata"]["name"]) == (schema, level)


def test_distinguisher_by_user_and_by_namespace():
    apf = APF()
    _, _, d = apf.classify(Attributes.of(ALICE, request_info("GET", "/api/v1/pods")))
    assert d == "alice"
    _, _, d = apf.classify(Attributes.of(KCM, request_info("GET", "/api/v1/namespaces/dev/pods")))
    assert d == "dev"


# -- queuing -------------------------------------------------------------------------------------


def one_level(queues=8, hand=2, qll=10, server=1):
    fs = [{"kind": "FlowSchema", "metadata": {"name": "users"},
           "spec": {"priorityLevelConfiguration": {"name": "limited"}, "matchingPrecedence": 1000, "distinguisherMethod": {"type": "ByUser"},
                    "rules": [{"subjects": [{"kind": "Group", "group": {"name": "system:authenticated"}}],
                               "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"], "clusterScope": True}]}]}}]  # fmt: skip
    pl = [{"kind": "PriorityLevelConfiguration", "metadata": {"name": "limited"},
           "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1000, "lendablePercent": 0, "borrowingLimitPercent": 0,
                                                   "limitResponse": {"type": "Queue", "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": qll}}}}}]  # fmt: skip
    return APF(fs, pl, server_concurrency_limit=server)


def by(user, n):
    return FlowRequest(
        f"{user}-{n}",
        Attributes.of(UserInfo.named(user), request_info("GET", "/api/v1/namespaces/d/pods")),
    )


def test_fair_dispatch_serves_a_quiet_flow_before_a_busy_one():
    # hand size 1: each flow owns one queue (with a hand of several, a busy flow spreads out)
    apf = one_level(hand=1)
    from kube_teach.apiserver.flowcontrol import hash_flow_id

    assert hash_flow_id("users", "busy") % 8 != hash_flow_id("users", "quiet") % 8
    assert apf.limits()["limited"]["current"] == 1
    t = 0
    assert isinstance(apf.admit(by("busy", 1), t), Dispatch)
    for n in (2, 3):
        assert isinstance(apf.admit(by("busy", n), t), Queued)
    assert isinstance(apf.admit(by("quiet", 1), t), Queued)
    order = []
    done = "busy-1"
    for step in range(1, 4):
        started = apf.finish(done, t + step * 10_000_000)
        order += [d.request_id for d in started]
        done = started[0].request_id
    assert order == ["quiet-1", "busy-2", "busy-3"]


def test_queue_full_rejects_with_retry_after():
    apf = one_level(queues=1, hand=1, qll=1)
    assert isinstance(apf.admit(by("a", 1), 0), Dispatch)
    assert isinstance(apf.admit(by("a", 2), 0), Queued)
    r = apf.admit(by("a", 3), 0)
    assert isinstance(r, Reject) and r.reason == "queue-full"
    assert (r.code, r.body, r.headers["Retry-After"]) == (429, TOO_MANY_REQUESTS_BODY, "1")
    assert "X-Kubernetes-PF-FlowSchema-UID" in r.headers and r.priority_level == "limited"


def test_waiting_too_long_times_out():
    apf = one_level()
    apf.admit(by("a", 1), 0)
    apf.admit(by("a", 2), 0)
    assert apf.tick(14 * SECOND) == []
    out = apf.tick(15 * SECOND)
    assert [(type(o), o.request_id, o.reason) for o in out] == [(Reject, "a-2", "time-out")]


def test_flows_land_on_queues_from_their_hand():
    apf = one_level(queues=16, hand=3, server=1)
    apf.admit(by("x", 0), 0)
    from kube_teach.apiserver.flowcontrol import hash_flow_id

    hand = deal(hash_flow_id("users", "bob"), 16, 3)
    for n in range(5):
        q = apf.admit(by("bob", n), 0)
        assert q.queue in hand


def test_catch_all_rejects_instead_of_queuing():
    apf = APF(flow_schemas=[], priority_levels=[], server_concurrency_limit=1)
    assert isinstance(apf.admit(get(rid=1), 0), Dispatch)
    r = apf.admit(get(rid=2), 0)
    assert isinstance(r, Reject) and (r.flow_schema, r.priority_level, r.reason) == (
        "catch-all",
        "catch-all",
        "concurrency-limit",
    )


def test_exempt_is_never_limited():
    apf = APF(server_concurrency_limit=1)
    root = UserInfo("root", groups=("system:masters",))
    assert all(apf.admit(get(user=root, rid=i), 0).exempt for i in range(50))


def test_retry_after_grows_with_sustained_drops_and_shrinks_again():
    d = DroppedRequests()
    for _ in range(3):
        d.record("pl", 0)
    assert d.retry_after("pl") == 1
    d.record("pl", 1 * SECOND)
    assert d.retry_after("pl") == 2
    d.record("pl", 3 * SECOND)
    assert d.retry_after("pl") == 1


def test_borrowing_follows_demand():
    apf = APF(server_concurrency_limit=100)
    before = apf.limits()["workload-low"]["current"]
    for i in range(60):
        apf.admit(get(user=UserInfo.named(f"system:serviceaccount:dev:sa{i}"), rid=i), 0)
    apf.tick(10 * SECOND)
    assert apf.limits()["workload-low"]["current"] > before
