"""Leader election of kube-controller-manager on the kube-system/kube-controller-manager Lease:
one active manager at a time, and a handover within the lease duration after a crash."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.client.leaderelection import (
    JITTER_FACTOR,
    LeaderElectionRecord,
    LeaderElector,
    format_micro_time,
    parse_micro_time,
)
from kube_teach.client.rest import RESTClient
from kube_teach.controllers.manager import ControllerManager
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

LEASES, EVENTS = KINDS["Lease"], KINDS["Event"]
EPOCH = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 15, 10, 2
# A candidate sees the last renewal at its next poll (at most one jittered retry period later),
# waits out the lease from then, and acquires at the poll after that.
MAX_HANDOVER = LEASE_DURATION + 2 * RETRY_PERIOD * (1 + JITTER_FACTOR) + 0.2


class World:
    """An API server and `n` kube-controller-managers, kcm-1 ... kcm-n, on one network."""

    def __init__(self, seed: int = 0, n: int = 2) -> None:
        self.clock, self.seeds = Clock(), Seeds(seed)
        self.trace, self.metrics = Trace(self.clock), Metrics(self.clock)
        self.net = Network(self.clock, self.seeds, self.trace)
        self.store = ObjectStore(self.clock, self.seeds, self.trace, EPOCH)
        for ns in INITIAL_NAMESPACES:
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        APIServer("apiserver", self.net, self.store, self.trace, self.metrics)
        self.kcms = {}
        for i in range(1, n + 1):
            name = f"kcm-{i}"
            self.kcms[name] = ControllerManager(
                self.net, "apiserver", trace=self.trace, metrics=self.metrics, epoch_ns=EPOCH,
                name=name, rng=self.seeds.stream(name),
            )  # fmt: skip
            self.kcms[name].start()

    def leaders(self) -> list[str]:
        return [name for name, kcm in self.kcms.items() if kcm.leading]

    def lease(self):
        return self.store.get(LEASES, "kube-controller-manager", "kube-system")

    def run_checking(self, seconds: float, check) -> None:
        """Run event by event, calling `check()` after each one."""
        end = self.clock.now_ns + round(seconds * 1e9)
        while (due := self.clock.peek()) is not None and due <= end:
            self.clock.step()
            check()
        self.clock.run(until_ns=end)


def at_most_one_leader(w: World) -> None:
    leaders = w.leaders()
    assert len(leaders) <= 1, f"t={w.clock.now}: {leaders} both lead"
    assert all(w.net.hosts[name].up for name in leaders)


# -- the record and its wire form ------------------------------------------------------------
def test_micro_time_round_trips_to_the_microsecond():
    t = EPOCH + 12_345_678_999
    assert format_micro_time(t) == "2025-01-01T00:00:12.345678Z"
    assert parse_micro_time("2025-01-01T00:00:12.345678Z") == EPOCH + 12_345_678_000
    assert parse_micro_time("2025-01-01T00:00:12Z") == EPOCH + 12 * 10**9
    assert parse_micro_time(None) == 0


def test_renewals_within_one_second_look_alike_to_a_candidate():
    """client-go compares records marshalled with metav1.Time, which keeps whole seconds."""
    a = LeaderElectionRecord("x", 15, EPOCH, EPOCH + 100_000_000, 0)
    assert a.raw() == LeaderElectionRecord("x", 15, EPOCH, EPOCH + 900_000_000, 0).raw()
    assert a.raw() != LeaderElectionRecord("x", 15, EPOCH, EPOCH + 1_000_000_000, 0).raw()
    assert LeaderElectionRecord.from_lease_spec(a.to_lease_spec()) == a


@pytest.mark.parametrize(
    ("durations", "message"),
    [
        pytest.param((10, 10, 2), "leaseDuration must be greater than renewDeadline",
                     id="the lease must outlast the renew deadline"),
        pytest.param((15, 2.4, 2), "renewDeadline must be greater than retryPeriod*JitterFactor",
                     id="the renew deadline must leave room for a jittered retry"),
    ],
)  # fmt: skip
def test_impossible_timings_are_refused(durations, message):
    net = Network(Clock(), Seeds(0))
    client = RESTClient(net.add_host("c"), "apiserver")
    lease, renew, retry = durations
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        LeaderElector(client, namespace="kube-system", name="x", identity="c_1",
                      lease_duration=lease, renew_deadline=renew, retry_period=retry)  # fmt: skip


# -- managers --------------------------------------------------------------------------------
def test_the_first_manager_creates_the_lease_and_renews_it_while_the_second_waits():
    w = World(n=2)
    w.run_checking(60, lambda: at_most_one_leader(w))
    (leader,) = w.leaders()
    kcm = w.kcms[leader]
    spec = w.lease().spec
    assert spec["holderIdentity"] == kcm.identity and kcm.identity.startswith(f"{leader}_")
    assert spec["leaseDurationSeconds"] == 15 and spec["leaseTransitions"] == 0
    renewed = parse_micro_time(spec["renewTime"])
    assert 0 <= EPOCH + w.clock.now_ns - renewed <= RETRY_PERIOD * 1e9 + 1e8
    assert parse_micro_time(spec["acquireTime"]) < renewed
    (became,) = [e for e in w.store.list(EVENTS, "kube-system") if e["reason"] == "LeaderElection"]
    assert became["message"] == f"{kcm.identity} became leader"
    assert became["involvedObject"]["kind"] == "Lease"
    assert became["source"] == {"component": "kube-controller-manager"}
    assert sorted(kcm.controllers) == [
        "clusterrole-aggregation-controller",
        "daemonset-controller",
        "deployment-controller",
        "disruption-controller",
        "endpoints-controller",
        "endpointslice-controller",
        "garbage-collector-controller",
        "horizontal-pod-autoscaler-controller",
        "node-lifecycle-controller",
        "replicaset-controller",
        "service-lb-controller",
        "serviceaccount-controller",
        "taint-eviction-controller",
    ]
    other = next(m for name, m in w.kcms.items() if name != leader)
    assert other.controllers == {} and other.elector.leader() == kcm.identity


def test_killing_the_leader_hands_over_within_the_lease_duration_and_a_retry_or_two():
    w = World(n=3)
    w.clock.run(30)
    (first,) = w.leaders()
    crashed_at = w.clock.now
    w.net.crash(first)
    w.run_checking(MAX_HANDOVER + 1, lambda: at_most_one_leader(w))
    (second,) = w.leaders()
    assert second != first
    took = w.trace.where(second, "became-leader")[-1].t - crashed_at
    assert LEASE_DURATION - RETRY_PERIOD - 0.1 <= took <= MAX_HANDOVER
    assert w.lease().spec["leaseTransitions"] == 1


def test_a_leader_cut_off_from_the_api_server_steps_down_before_another_takes_over():
    w = World(n=2)
    w.clock.run(30)
    (first,) = w.leaders()
    w.net.partition({first}, {"apiserver"})
    w.run_checking(40, lambda: at_most_one_leader(w))
    stopped = w.trace.where(first, "stopped-leading")[0]
    (second,) = w.leaders()
    assert second != first
    assert stopped.t < w.trace.where(second, "became-leader")[0].t
    assert (
        stopped.t - 30 <= RENEW_DEADLINE + RETRY_PERIOD + 0.1
    )  # renewDeadline after its last renewal round began
    # upstream exits on a lost lease; it comes back as a candidate under a new identity
    assert len(w.trace.where(first, "started")) == 2


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_never_two_active_managers_under_crashes_restarts_and_partitions(seed):
    w = World(seed, n=3)
    rng = random.Random(seed)
    names = sorted(w.kcms)
    t = 0.0
    while t < 150:
        t += rng.uniform(1, 12)
        w.run_checking(t - w.clock.now, lambda: at_most_one_leader(w))
        action = rng.choice(["crash", "restart", "isolate", "heal"])
        target = rng.choice(w.leaders() or names) if rng.random() < 0.5 else rng.choice(names)
        if action == "crash":
            w.net.crash(target)
        elif action == "restart":
            w.net.restart(target)
        elif action == "isolate":
            w.net.partition({target}, {"apiserver"})
        else:
            w.net.heal()
    w.net.heal()
    for name in names:
        w.net.restart(name)
    w.run_checking(MAX_HANDOVER + RENEW_DEADLINE + 5, lambda: at_most_one_leader(w))
    assert len(w.leaders()) == 1  # and once all is well, someone leads


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_crash_of_the_leader_is_followed_by_a_handover_in_time(seed):
    w = World(seed, n=3)
    rng = random.Random(seed)
    w.clock.run(20)
    for _ in range(3):
        (leader,) = w.leaders()
        w.clock.run(rng.uniform(0, 5))
        crashed_at = w.clock.now
        w.net.crash(leader)
        w.run_checking(MAX_HANDOVER, lambda: at_most_one_leader(w))
        (successor,) = w.leaders()
        took = w.trace.where(successor, "became-leader")[-1].t - crashed_at
        assert took <= MAX_HANDOVER
        w.net.restart(leader)


def test_the_same_seed_gives_the_same_election():
    def run(seed: int) -> str:
        w = World(seed, n=3)
        w.clock.run(20)
        w.net.crash(w.leaders()[0])
        w.clock.run(30)
        return w.trace.text()

    assert run(3) == run(3)
