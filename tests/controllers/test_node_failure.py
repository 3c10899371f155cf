"""Acceptance: a node dies with default settings; its pods come back on other nodes after the
node-monitor-grace-period plus the 300 s of the default NoExecute tolerations, measured in
simulated time from the node's last Lease renewal."""

from __future__ import annotations

import copy

import pytest

from kube_teach import Cluster
from kube_teach.api.kinds import KINDS
from kube_teach.controllers._util import parse_time
from kube_teach.controllers.node_lifecycle import (
    DEFAULT_TOLERATION_SECONDS,
    NODE_MONITOR_GRACE_PERIOD,
    NODE_MONITOR_PERIOD,
)

PODS, LEASES = KINDS["Pod"], KINDS["Lease"]
#: What the DefaultTolerationSeconds admission plugin adds to every pod that has none.
DEFAULT_TOLERATIONS = [
    {"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
    for key in ("not-ready", "unreachable")
]  # fmt: skip
WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.27"}],
                "tolerations": DEFAULT_TOLERATIONS,
            },
        },
    },
}


def sim(c: Cluster, stamp: str) -> float:
    return parse_time(stamp) - c.store.epoch_ns / 1e9


def running(c: Cluster) -> list:
    """Running and not being deleted (a pod on a dead node stays Terminating: no kubelet
    is left to finish its deletion)."""
    return [
        p
        for p in c.store.list(PODS, "default")
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


@pytest.mark.parametrize("seed", [0, 7])
def test_pods_of_a_dead_node_are_recreated_elsewhere_after_grace_plus_300_s(seed):
    c = Cluster(nodes=3, seed=seed)
    c.apply(copy.deepcopy(WEB))
    c.run(60)
    assert len(running(c)) == 3
    (victim,) = [p for p in running(c) if p["spec"]["nodeName"] == "node-1"]
    c.nodes["node-1"].fail()
    c.run(1)
    last_renewal = sim(c, c.store.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"])
    c.run(NODE_MONITOR_GRACE_PERIOD + DEFAULT_TOLERATION_SECONDS - 5)
    assert victim["metadata"]["name"] in {p["metadata"]["name"] for p in running(c)}

    def replaced() -> bool:
        return len(running(c)) == 3 and all(p["spec"]["nodeName"] != "node-1" for p in running(c))

    c.run_until(replaced, timeout=60)
    new = [p for p in running(c) if p["metadata"]["name"] not in {victim["metadata"]["name"]}]
    created = max(sim(c, p["metadata"]["creationTimestamp"]) for p in new)
    delay = created - last_renewal
    # grace period, then the Unknown status within one monitor pass and the NoExecute taint
    # in the pass after it, then the 300 s of the tolerations (timestamps are whole seconds)
    low = NODE_MONITOR_GRACE_PERIOD + DEFAULT_TOLERATION_SECONDS - 1
    high = NODE_MONITOR_GRACE_PERIOD + DEFAULT_TOLERATION_SECONDS + 2 * NODE_MONITOR_PERIOD + 1
    assert low <= delay <= high
    assert c.now - created < 10  # the replacement runs within seconds of its creation


def test_the_defaults_are_upstreams():
    assert (NODE_MONITOR_GRACE_PERIOD, NODE_MONITOR_PERIOD, DEFAULT_TOLERATION_SECONDS) == (
        50.0,  # 40 s before Kubernetes 1.32
        5.0,
        300,
    )


def test_the_same_seed_gives_the_same_failure_byte_for_byte():
    def story() -> str:
        c = Cluster(nodes=3, seed=11)
        c.apply(copy.deepcopy(WEB))
        c.run(30)
        c.nodes["node-2"].fail()
        c.run(400)
        return c.trace.text()

    assert story() == story()
