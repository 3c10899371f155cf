"""The node lifecycle and taint-eviction controllers in a whole Cluster: a node host fails, goes
Unknown about 50 s after its last Lease renewal, gets the unreachable taints, its pods are
evicted after their tolerationSeconds and replaced elsewhere; recovered, it is clean again."""

from __future__ import annotations

import copy

import pytest

from kube_teach import Cluster
from kube_teach.api.kinds import KINDS
from kube_teach.controllers._util import parse_time

PODS, NODES, LEASES, EVENTS = KINDS["Pod"], KINDS["Node"], KINDS["Lease"], KINDS["Event"]
UNREACHABLE = "node.kubernetes.io/unreachable"

WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}


def web(toleration_seconds: int | None) -> dict:
    deploy = copy.deepcopy(WEB)
    if toleration_seconds is not None:
        deploy["spec"]["template"]["spec"]["tolerations"] = [
            {"key": key, "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": toleration_seconds}
            for key in (UNREACHABLE, "node.kubernetes.io/not-ready")
        ]  # fmt: skip
    return deploy


def pods(c: Cluster, node: str | None = None) -> list:
    """Pods not marked for deletion (an evicted pod on a dead node stays Terminating until its
    kubelet comes back to finish the graceful deletion)."""
    found = c.store.list(PODS, "default")
    return [
        p
        for p in found
        if (node is None or p["spec"].get("nodeName") == node)
        and not p["metadata"].get("deletionTimestamp")
    ]


def exists(c: Cluster, pod: str) -> bool:
    """True until the pod is marked for deletion."""
    return any(p["metadata"]["name"] == pod for p in pods(c))


def cond(obj, kind: str) -> dict:
    return next(x for x in obj["status"].get("conditions") or () if x["type"] == kind)


def taints(c: Cluster, node: str) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in c.nodes[node].obj["spec"].get("taints") or ()}


def sim_time(c: Cluster, stamp: str) -> float:
    """An RFC 3339 time of the API as simulated seconds since the cluster started."""
    return parse_time(stamp) - c.store.epoch_ns / 1e9


def fail_node_1(c: Cluster, toleration_seconds: int | None) -> tuple[str, float, float]:
    """Run the Deployment, fail node-1 and wait for it to turn Unknown: (its pod, the time of
    its last Lease renewal, the time it turned Unknown)."""
    c.apply(web(toleration_seconds))
    c.run(60)
    assert len(pods(c)) == 3 and all(p["status"].get("phase") == "Running" for p in pods(c))
    (victim,) = pods(c, "node-1")
    c.nodes["node-1"].fail()
    c.run_until(lambda: cond(c.nodes["node-1"].obj, "Ready")["status"] == "Unknown", timeout=120)
    unknown_at = c.now
    lease = c.store.get(LEASES, "node-1", "kube-node-lease")
    return victim["metadata"]["name"], sim_time(c, lease["spec"]["renewTime"]), unknown_at


def test_dead_node_is_tainted_evicted_and_cleaned_on_recovery():
    c = Cluster(nodes=3, seed=0)
    victim, renewed_at, unknown_at = fail_node_1(c, toleration_seconds=30)
    # the grace period (50 s) from the last renewal, plus up to one monitor period (5 s)
    assert 50 < unknown_at - renewed_at <= 50 + 5 + 1
    node = c.nodes["node-1"].obj
    for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        assert cond(node, kind)["status"] == "Unknown"
        assert cond(node, kind)["reason"] == "NodeStatusUnknown"
        assert cond(node, kind)["message"] == "Kubelet stopped posting node status."
    c.run(1)  # the NoSchedule taint comes with the status update
    assert taints(c, "node-1") == {(UNREACHABLE, "NoSchedule")}
    c.run(5)  # the NoExecute one in the next monitor pass, which observes the node Unknown
    assert taints(c, "node-1") == {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    (noexec,) = [t for t in c.nodes["node-1"].obj["spec"]["taints"] if t["effect"] == "NoExecute"]
    tainted_at = sim_time(c, noexec["timeAdded"])
    assert (
        cond(c.store.get(PODS, victim, "default"), "Ready")["status"] == "False"
    )  # MarkPodsNotReady
    not_ready = [e for e in c.store.list(EVENTS, "default") if e["reason"] == "NodeNotReady"]
    assert [e["message"] for e in not_ready] == ["Node node-1 status is now: NodeNotReady"]

    c.run_until(lambda: not exists(c, victim), timeout=60)
    assert 30 - 1 <= c.now - tainted_at <= 30 + 1
    evictions = [
        e for e in c.store.list(EVENTS, "default") if e["reason"] == "TaintManagerEviction"
    ]
    assert [e["message"] for e in evictions] == [f"Marking for deletion Pod default/{victim}"]

    def replaced() -> bool:
        running = [p for p in pods(c) if p["status"].get("phase") == "Running"]
        return len(running) == 3

    c.run_until(replaced, timeout=60)
    assert not pods(c, "node-1")
    assert victim not in {p["metadata"]["name"] for p in pods(c)}

    c.nodes["node-1"].recover()
    recovered_at = c.now
    c.run_until(
        lambda: (
            cond(c.nodes["node-1"].obj, "Ready")["status"] == "True" and not taints(c, "node-1")
        ),
        timeout=60,
    )
    assert c.now - recovered_at <= 20
    c.run(30)
    assert not taints(c, "node-1")
    assert cond(c.nodes["node-1"].obj, "Ready")["status"] == "True"


@pytest.mark.parametrize("seconds", [300])
def test_default_toleration_seconds_delays_eviction(seconds):
    """As DefaultTolerationSeconds would add: tolerate unreachable for 300 s."""
    c = Cluster(nodes=3, seed=0)
    victim, _, _ = fail_node_1(c, toleration_seconds=seconds)
    c.run(6)
    (noexec,) = [t for t in c.nodes["node-1"].obj["spec"]["taints"] if t["effect"] == "NoExecute"]
    tainted_at = sim_time(c, noexec["timeAdded"])
    c.run(tainted_at + seconds - 10 - c.now)
    assert exists(c, victim)
    c.run_until(lambda: not exists(c, victim), timeout=30)
    assert seconds - 1 <= c.now - tainted_at <= seconds + 1


def test_pod_without_toleration_is_evicted_at_once():
    """No toleration at all: only with the DefaultTolerationSeconds admission plugin off."""
    c = Cluster(nodes=3, seed=0, disable_admission_plugins=["DefaultTolerationSeconds"])
    victim, _, unknown_at = fail_node_1(c, toleration_seconds=None)
    c.run_until(lambda: not exists(c, victim), timeout=10)
    assert c.now - unknown_at <= 5 + 1  # tainted by the next monitor pass, evicted at once
