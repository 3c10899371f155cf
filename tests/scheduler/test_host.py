"""kube-scheduler as a host: queue timing, binding, events, conditions, profiles, preemption and
restarts, against a real API server on the simulated network."""

import random

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.deletion import DeleteOptions
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.scheduler.framework import Status
from kube_teach.scheduler.queue import SchedulingQueue, backoff_duration_ns
from kube_teach.scheduler.scheduler import Scheduler, node_tree_order
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace
from kube_teach.sim.duration import SECOND

PODS, NODES, EVENTS = KINDS["Pod"], KINDS["Node"], KINDS["Event"]
EPOCH = 1_735_689_600 * SECOND  # 2025-01-01T00:00:00Z


class World:
    def __init__(self, seed=0, config=None, nodes=3, cpu="4", start=True):
        self.clock, self.seeds = Clock(), Seeds(seed)
        self.trace, self.metrics = Trace(self.clock), Metrics(self.clock)
        self.net = Network(self.clock, self.seeds, self.trace)
        self.store = ObjectStore(self.clock, self.seeds, self.trace, EPOCH)
        for ns in INITIAL_NAMESPACES:
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.server = APIServer("apiserver", self.net, self.store, self.trace, self.metrics)
        for i in range(1, nodes + 1):
            self.add_node(f"node-{i}", cpu=cpu, zone=f"zone-{'abc'[(i - 1) % 3]}")
        self.scheduler = Scheduler(
            self.net, "apiserver", trace=self.trace, metrics=self.metrics, epoch_ns=EPOCH,
            rng=self.seeds.stream("kube-scheduler"), config=config,
        )  # fmt: skip
        if start:
            self.scheduler.start()
            self.clock.run(1)

    def add_node(self, name, cpu="4", memory="16Gi", zone="zone-a", labels=None):
        node = self.store.create(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "topology.kubernetes.io/zone": zone,
                        **(labels or {}),
                    },
                },
            }  # fmt: skip
        )
        alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
        node["status"] = {"capacity": alloc, "allocatable": alloc,
                          "conditions": [{"type": "Ready", "status": "True"}]}  # fmt: skip
        self.store.update(node, subresource="status")

    def add_pod(self, name, cpu="500m", labels=None, **spec):
        container = {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu}}}
        self.store.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": "default",
                    "labels": labels or {"app": "web"},
                },
                "spec": {"containers": [container], **spec},
            }  # fmt: skip
        )

    def pod(self, name):
        return self.store.get(PODS, name, "default")

    def node_of(self, name):
        return self.pod(name).spec.get("nodeName")

    def events(self, name=None):
        out = []
        for e in self.store.list(EVENTS, "default"):
            if name is None or e["involvedObject"]["name"] == name:
                out.append((e["type"], e["reason"], e["message"]))
        return out

    def condition(self, name):
        conds = (self.pod(name).get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "PodScheduled"), None)

    def run_until_bound(self, name, timeout=60):
        self.clock.run_until(lambda: bool(self.node_of(name)), timeout=timeout)
        return self.clock.now


def test_pods_are_bound_spread_and_announced():
    w = World()
    for i in range(1, 7):
        w.add_pod(f"web-{i}")
    w.clock.run(2)
    placed = {f"web-{i}": w.node_of(f"web-{i}") for i in range(1, 7)}
    assert sorted(placed.values()) == ["node-1", "node-1", "node-2", "node-2", "node-3", "node-3"]
    for name, node in placed.items():
        assert ("Normal", "Scheduled", f"Successfully assigned default/{name} to {node}") in (
            w.events(name)
        )
        assert w.condition(name)["status"] == "True"
    bound = w.trace.where("kube-scheduler", "bound")
    assert [(e.fields["pod"], e.fields["node"]) for e in bound] == [
        (f"default/{n}", placed[n]) for n in sorted(placed)
    ]
    assert w.metrics.series("scheduler_schedule_attempts_total", profile="default-scheduler",
                            result="scheduled").last == 6  # fmt: skip


def test_a_pod_too_large_fails_with_upstreams_message_then_fits_a_new_node():
    w = World(cpu="2")
    w.add_pod("big", cpu="3")
    w.clock.run(2)
    want = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 Preemption is not helpful for scheduling.")  # fmt: skip
    assert w.events("big") == [("Warning", "FailedScheduling", want)]
    cond = w.condition("big")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
    assert w.scheduler.pending_pods()["unschedulable"] == ["default/big"]
    w.clock.run(20)  # nothing changes: it waits in unschedulablePods, not retried
    assert len(w.trace.where("kube-scheduler", "unschedulable")) == 1
    added = w.clock.now
    w.add_node("node-4", cpu="4")
    delay = w.run_until_bound("big") - added
    assert w.node_of("big") == "node-4"
    assert delay < 0.05  # NodeAdd moved it straight to activeQ: only network latency
    w.clock.run(1)  # the event follows the binding's response
    assert ("Normal", "Scheduled", "Successfully assigned default/big to node-4") in w.events("big")


def test_a_node_added_during_backoff_waits_for_the_backoff_flush():
    w = World(cpu="2")
    w.add_pod("big", cpu="3")
    w.clock.run_until(lambda: w.trace.where("kube-scheduler", "unschedulable"), timeout=5)
    failed = w.clock.now
    w.add_node("node-4", cpu="4")  # at once: the pod's 1 s backoff has not ended
    w.run_until_bound("big")
    assert 1.0 <= w.clock.now - failed <= 2.01  # after backoff, on the next 1 s flush


def test_a_node_heartbeat_does_not_requeue_a_pod_rejected_for_cpu():
    w = World(cpu="2")
    w.add_pod("big", cpu="3")
    w.clock.run(2)
    node = w.store.get(NODES, "node-1")
    node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    w.store.update(node, subresource="status")
    node = w.store.get(NODES, "node-1")
    node["metadata"]["labels"]["x"] = "y"
    w.store.update(node)
    w.clock.run(5)
    assert len(w.trace.where("kube-scheduler", "unschedulable")) == 1


def test_backoff_doubles_from_1s_to_a_10s_cap():
    assert [backoff_duration_ns(n) // SECOND for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    now = [0]
    q = SchedulingQueue(lambda: now[0], lambda a, b: a.timestamp < b.timestamp)
    q.add({"metadata": {"name": "p", "namespace": "default", "uid": "u"}})
    pops = []
    while len(pops) < 7:
        qpi = q.pop()
        if qpi is not None:
            pops.append(now[0] // SECOND)
            assert q.add_unschedulable_if_not_present(qpi, error=True) == "backoff"
        now[0] += SECOND  # the 1 s flush
        q.flush_backoff_completed()
    assert [b - a for a, b in zip(pops, pops[1:], strict=False)] == [1, 2, 4, 8, 10, 10]


def test_retries_of_a_pod_moved_by_events_follow_the_backoff():
    w = World()
    w.add_pod("picky", nodeSelector={"disk": "ssd"})
    w.clock.run_until(lambda: w.trace.where("kube-scheduler", "unschedulable"), timeout=5)

    def relabel():  # a node label change: NodeAffinity registered for it
        node = w.store.get(NODES, "node-1")
        node["metadata"]["labels"]["tick"] = str(w.clock.now_ns)
        w.store.update(node)

    w.clock.every(0.25, relabel)
    w.clock.run(40)
    times = [e.t for e in w.trace.where("kube-scheduler", "unschedulable")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    for gap, backoff in zip(gaps, [1, 2, 4, 8, 10, 10], strict=False):
        assert backoff <= gap <= backoff + 1.01  # expiry, then the next 1 s flush
    assert len(gaps) >= 5


def test_the_unschedulable_pool_is_flushed_after_five_minutes():
    w = World(cpu="2")
    w.add_pod("big", cpu="3")
    w.clock.run(299)
    assert len(w.trace.where("kube-scheduler", "unschedulable")) == 1
    w.clock.run(40)
    retries = w.trace.where("kube-scheduler", "unschedulable")
    assert len(retries) == 2 and 300 < retries[1].t <= 331


PACKING = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "bin-packer",
         "pluginConfig": [{"name": "NodeResourcesFit",
                           "args": {"scoringStrategy": {"type": "MostAllocated"}}}]},
    ],
}  # fmt: skip


def test_two_profiles_side_by_side_and_other_schedulers_pods_are_left_alone():
    w = World(config=PACKING)
    for i in range(1, 4):
        w.add_pod(f"packed-{i}", schedulerName="bin-packer")
    w.clock.run(2)
    for i in range(1, 4):
        w.add_pod(f"spread-{i}")
    w.add_pod("foreign", schedulerName="my-scheduler")
    w.clock.run(2)
    packed = {w.node_of(f"packed-{i}") for i in range(1, 4)}
    spread = {w.node_of(f"spread-{i}") for i in range(1, 4)}
    assert len(packed) == 1 and len(spread) == 2 and not packed & spread  # least allocated
    assert w.node_of("foreign") is None and w.events("foreign") == []
    announced = [e for e in w.store.list(EVENTS, "default")
                 if e["involvedObject"]["name"] == "packed-1"]  # fmt: skip
    assert announced[0]["source"] == {"component": "bin-packer"}


def test_a_learner_plugin_applies_after_restart():
    w = World()

    @w.scheduler.plugin(weight=50)
    class PreferSpot:
        name = "PreferSpot"

        def score(self, state, pod, node):
            return 100 if node.labels.get("lifecycle") == "spot" else 0

    w.add_node("spot-1", zone="zone-a", labels={"lifecycle": "spot"})
    w.add_pod("before")
    w.clock.run(2)
    assert "PreferSpot" not in w.scheduler.explain("before").score_plugins
    w.scheduler.restart()
    w.clock.run(1)
    for i in range(3):
        w.add_pod(f"after-{i}", cpu="100m")
    w.clock.run(2)
    assert {w.node_of(f"after-{i}") for i in range(3)} == {"spot-1"}
    ev = w.scheduler.explain("after-0")
    assert ev.scores["spot-1"]["PreferSpot"].weighted == 5000
    assert "PreferSpot" in ev.text() and "<table>" in ev._repr_html_()


def test_preemption_evicts_a_lower_priority_pod():
    w = World(nodes=1, cpu="2")
    for name, value in (("low", 100), ("high", 1000)):
        w.store.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": name}, "value": value})  # fmt: skip
    w.add_pod("victim", cpu="1500m", priorityClassName="low", priority=100)
    w.clock.run(1)
    assert w.node_of("victim") == "node-1"
    w.add_pod("vip", cpu="1", priorityClassName="high", priority=1000)

    def victim_terminating() -> bool:
        return bool(w.pod("victim").metadata.get("deletionTimestamp"))

    w.clock.run_until(victim_terminating, timeout=10)  # a graceful delete: 30 s to stop
    assert w.node_of("vip") in (None, "")  # it waits for the victim to be gone
    # there is no kubelet in this world: finish the deletion as the victim's kubelet would
    w.store.delete(PODS, "victim", "default", options=DeleteOptions(grace_period_seconds=0))
    w.run_until_bound("vip", timeout=10)
    assert not w.store.exists(PODS, "victim", "default")
    uid = w.pod("vip").metadata["uid"]
    assert ("Normal", "Preempted", f"Preempted by pod {uid} on node node-1") in w.events("victim")
    assert ("Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.") in (
        w.events("vip")
    )
    assert w.pod("vip").status.get("nominatedNodeName") == "node-1"
    assert w.trace.where("kube-scheduler", "preempted")[0].fields["victim"] == "default/victim"


def test_a_pod_that_cannot_preempt_says_so():
    w = World(nodes=1, cpu="2")
    w.add_pod("first", cpu="1500m", priority=1000)
    w.clock.run(1)
    w.add_pod("second", cpu="1", priority=1000)
    w.clock.run(2)
    assert w.events("second") == [
        ("Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu. preemption: "
         "0/1 nodes are available: 1 No preemption victims found for incoming pod.")
    ]  # fmt: skip


def placement_trace(seed):
    w = World(seed=seed, nodes=6)
    for i in range(12):
        w.add_pod(f"p-{i}", cpu="0")
    w.clock.run(3)
    return w.trace.text(w.trace.where("kube-scheduler", "bound"))


def test_the_same_seed_gives_the_same_placement_trace():
    first = placement_trace(7)
    assert first == placement_trace(7)
    assert first.count("bound") == 12


def test_a_crashed_scheduler_relists_and_goes_on():
    w = World()
    w.add_pod("early")
    w.clock.run(1)
    w.net.crash("kube-scheduler")
    w.add_pod("while-down")
    w.clock.run(5)
    assert w.node_of("while-down") is None
    w.net.restart("kube-scheduler")
    w.run_until_bound("while-down", timeout=5)
    w.add_pod("after")
    w.run_until_bound("after", timeout=5)
    w.clock.run(1)
    assert w.scheduler.restarts == 1
    assert [e.fields["pod"] for e in w.trace.where("kube-scheduler", "bound")] == [
        "default/early", "default/while-down", "default/after"
    ]  # fmt: skip


def test_explain_shows_the_verdicts_for_a_pending_pod():
    w = World(cpu="2")
    w.add_pod("big", cpu="3")
    w.clock.run(2)
    before = w.scheduler.rng.getstate()
    ev = w.scheduler.explain("big")
    assert w.scheduler.rng.getstate() == before
    assert ev.selected is None and ev.message.startswith("0/3 nodes are available: 3 Insufficient")
    assert {r.plugin for r in ev.filters.values()} == {"NodeResourcesFit"}
    with pytest.raises(Exception, match='pods "nope" not found'):
        w.scheduler.explain("nope")


def test_gated_pods_wait_until_their_gates_are_removed():
    w = World()
    w.add_pod("gated", schedulingGates=[{"name": "example.com/wait"}])
    w.clock.run(2)
    assert w.scheduler.pending_pods()["gated"] == ["default/gated"]
    assert w.events("gated") == []
    pod = w.pod("gated")
    del pod["spec"]["schedulingGates"]
    w.store.update(pod, internal=True)  # upstream allows removing gates; our validation not yet
    w.run_until_bound("gated", timeout=2)


def test_queue_sort_puts_higher_priority_first():
    now = [0]
    q = SchedulingQueue(
        lambda: now[0],
        lambda a, b: (
            (a.pod["spec"]["priority"], -a.timestamp) > (b.pod["spec"]["priority"], -b.timestamp)
        ),
    )
    for i, prio in enumerate([1, 5, 5, 3]):
        now[0] = i
        q.add({"metadata": {"name": f"p{i}", "uid": f"u{i}"}, "spec": {"priority": prio}})
    assert [q.pop().pod["metadata"]["name"] for _ in range(4)] == ["p1", "p2", "p3", "p0"]
    assert q.pop() is None


def test_pre_enqueue_gates_and_node_tree_interleaves_zones():
    q = SchedulingQueue(
        lambda: 0,
        lambda a, b: False,
        pre_enqueue=lambda pod: Status.error("wait", "SchedulingGates"),
    )
    assert q.add({"metadata": {"name": "g", "uid": "g"}}) == "gated"
    assert q.pop() is None
    nodes = [
        {"metadata": {"name": n, "labels": {"topology.kubernetes.io/zone": z}}}
        for n, z in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a"), ("c1", "c")]
    ]
    assert [n["metadata"]["name"] for n in node_tree_order(nodes)] == ["a1", "b1", "c1", "a2", "a3"]
    assert random.Random(0).random() == random.Random(0).random()


def test_with_leader_election_only_the_lease_holder_schedules():
    w = World(start=False)
    w.scheduler.leader_elect = True
    standby = Scheduler(w.net, "apiserver", trace=w.trace, epoch_ns=EPOCH, leader_elect=True,
                        name="kube-scheduler-2", rng=w.seeds.stream("kube-scheduler-2"))  # fmt: skip
    w.scheduler.start()
    w.clock.run(1)
    standby.start()
    w.add_pod("web")
    w.run_until_bound("web", timeout=5)
    assert w.scheduler.leading and not standby.leading
    lease = w.store.get(KINDS["Lease"], "kube-scheduler", "kube-system")
    assert lease.spec["holderIdentity"].startswith("kube-scheduler_")
    w.net.crash("kube-scheduler")
    w.clock.run(30)
    assert standby.leading
    w.add_pod("later")
    w.run_until_bound("later", timeout=5)


def test_a_pod_follows_its_volume_to_its_zone_and_waits_for_a_missing_claim():
    w = World()
    w.store.create({"apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": "pv-b", "labels": {"topology.kubernetes.io/zone": "zone-b"}},
                    "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                             "hostPath": {"path": "/data"}}})  # fmt: skip
    w.add_pod("db", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])
    w.clock.run(2)
    assert w.node_of("db") is None
    assert w.events("db")[-1][1:] == (
        "FailedScheduling",
        '0/3 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/3 nodes '
        "are available: 3 Preemption is not helpful for scheduling.",
    )
    assert w.scheduler.pending_pods()["unschedulable"] == ["default/db"]
    w.store.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "namespace": "default",
                                 "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-b",
                             "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}}})  # fmt: skip
    t0 = w.clock.now
    assert w.run_until_bound("db") - t0 < 2  # the claim's add event requeues it after backoff
    assert w.node_of("db") == "node-2"
    ev = w.scheduler.explain("db")
    assert ev.filters["node-1"].reason == "node(s) had no available volume zone"
