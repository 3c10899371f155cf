"""The ReplicaSet and Deployment controllers running in a ControllerManager against a real API
server on the simulated network: what a cluster without schedulers or kubelets would show."""

from __future__ import annotations

import re

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.controllers.deployment import compute_hash
from kube_teach.controllers.manager import (
    ControllerManager,
    ControllersFlagError,
    enabled_controllers,
)
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

PODS, RSS, DEPLOYS, EVENTS = KINDS["Pod"], KINDS["ReplicaSet"], KINDS["Deployment"], KINDS["Event"]
EPOCH = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z
GENERATED = "[bcdfghjklmnpqrstvwxz2456789]{5}"


class World:
    """Network + ObjectStore + APIServer + one ControllerManager, as tests/test_rest_path.py."""

    def __init__(self, seed: int = 0, **manager_args) -> None:
        self.clock, self.seeds = Clock(), Seeds(seed)
        self.trace, self.metrics = Trace(self.clock), Metrics(self.clock)
        self.net = Network(self.clock, self.seeds, self.trace)
        self.store = ObjectStore(self.clock, self.seeds, self.trace, EPOCH)
        for ns in INITIAL_NAMESPACES:
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.server = APIServer("apiserver", self.net, self.store, self.trace, self.metrics)
        self.kcm = ControllerManager(
            self.net, "apiserver", trace=self.trace, metrics=self.metrics, epoch_ns=EPOCH,
            **manager_args,
        )  # fmt: skip
        self.kcm.start()

    def run(self, seconds: float) -> None:
        self.clock.run(seconds)

    def pods(self, **labels) -> list:
        return [p for p in self.store.list(PODS, "default") if _has(p, labels)]

    def rs(self, name: str):
        return self.store.get(RSS, name, "default")

    def events(self, reason: str) -> list:
        found = [e for e in self.store.list(EVENTS, "default") if e["reason"] == reason]
        return sorted(found, key=lambda e: int(e.name.rsplit(".", 1)[1], 16))

    def scale(self, kind, name: str, replicas: int) -> None:
        obj = self.store.get(kind, name, "default")
        obj["spec"]["replicas"] = replicas
        self.store.update(obj)

    def set_ready(self, pod, ready: bool = True, phase: str = "Running") -> None:
        """Play the kubelet: write the pod's status through the status subresource."""
        pod = self.store.get(PODS, pod.name, "default")
        condition = {"type": "Ready", "status": "True" if ready else "False",
                     "lastTransitionTime": self.store.timestamp()}  # fmt: skip
        pod["status"] = {"phase": phase, "conditions": [condition]}
        self.store.update(pod, subresource="status")


def _has(obj, labels: dict) -> bool:
    return all(obj.labels.get(k) == v for k, v in labels.items())


def template(image: str = "nginx:1.26", app: str = "web") -> dict:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "web", "image": image}]}}  # fmt: skip


def replicaset(name: str = "web", replicas: int = 3) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": template()}}  # fmt: skip


def deployment(name: str = "web", replicas: int = 3, surge=1, unavailable=1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": template()}}  # fmt: skip


# -- --controllers ---------------------------------------------------------------------------
KNOWN = ["deployment-controller", "replicaset-controller"]


@pytest.mark.parametrize(
    ("flag", "want"),
    [
        pytest.param(["*"], KNOWN, id="* enables every controller on by default"),
        pytest.param(["replicaset-controller"], ["replicaset-controller"], id="a name alone enables just that one"),
        pytest.param(["*", "-replicaset-controller"], ["deployment-controller"], id="-name disables one of *"),
        pytest.param(["-deployment-controller", "*"], ["replicaset-controller"], id="order does not matter for -name"),
        pytest.param(["replicaset-controller", "-replicaset-controller"], ["replicaset-controller"], id="the first entry naming a controller wins"),
        pytest.param(["*", "-replicaset"], ["deployment-controller"], id="pre-1.28 aliases are accepted"),
        pytest.param([], [], id="an empty list enables nothing"),
        pytest.param(["bootstrap-signer-controller"], [], id="a known upstream controller not built here starts nothing"),
    ],
)  # fmt: skip
def test_controllers_flag(flag, want):
    assert enabled_controllers(flag, KNOWN) == want


def test_an_unknown_controller_name_is_rejected_in_upstreams_words():
    with pytest.raises(
        ControllersFlagError, match='"-foo" is not in the list of known controllers'
    ):
        enabled_controllers(["*", "-foo"], KNOWN)


# -- ReplicaSet ------------------------------------------------------------------------------
def test_a_replicaset_of_3_gets_3_pods_it_owns_and_a_status_that_counts_them():
    w = World()
    w.store.create(replicaset())
    w.run(5)
    rs = w.rs("web")
    pods = w.pods()
    assert len(pods) == 3
    assert all(re.fullmatch(f"web-{GENERATED}", p.name) for p in pods)
    assert {p.metadata["generateName"] for p in pods} == {"web-"}
    for p in pods:
        assert p.metadata["ownerReferences"] == [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs.uid,
             "controller": True, "blockOwnerDeletion": True}
        ]  # fmt: skip
        assert p.status["phase"] == "Pending"  # no scheduler, no kubelet
    assert rs.status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 0,
                         "availableReplicas": 0, "observedGeneration": 1}  # fmt: skip
    created = w.events("SuccessfulCreate")
    assert sorted(e["message"] for e in created) == sorted(f"Created pod: {p.name}" for p in pods)
    first = created[0]
    assert (
        first["involvedObject"]["kind"] == "ReplicaSet" and first["involvedObject"]["uid"] == rs.uid
    )
    assert first["source"] == {"component": "replicaset-controller"} and first["type"] == "Normal"
    # slow start: one pod alone, then the other two together
    sent = [e.t for e in w.trace.where("replicaset-controller", "event", reason="SuccessfulCreate")]
    assert sent[0] < sent[1] == sent[2]


def test_a_deleted_pod_is_replaced():
    w = World()
    w.store.create(replicaset())
    w.run(5)
    victim = w.pods()[0].name
    w.store.delete(PODS, victim, "default")
    w.run(5)
    names = [p.name for p in w.pods()]
    assert len(names) == 3 and victim not in names
    assert len(w.events("SuccessfulCreate")) == 4
    assert w.rs("web").status["replicas"] == 3


def test_scaling_to_1_deletes_the_two_pods_upstream_ranks_first():
    w = World()
    w.store.create(replicaset())
    w.run(5)
    running_ready, running_unready, pending = w.pods()
    w.set_ready(running_ready)
    w.set_ready(running_unready, ready=False)
    w.run(2)
    w.scale(RSS, "web", 1)
    w.run(5)
    assert [p.name for p in w.pods()] == [running_ready.name]  # Pending, then not Ready, go first
    deleted = [e["message"] for e in w.events("SuccessfulDelete")]
    assert deleted == [f"Deleted pod: {pending.name}", f"Deleted pod: {running_unready.name}"]
    assert w.rs("web").status["replicas"] == 1


def test_an_orphan_that_matches_is_adopted_and_a_pod_that_stops_matching_is_released():
    w = World()
    w.store.create({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}})  # fmt: skip
    w.store.create(replicaset())
    w.run(5)
    rs = w.rs("web")
    assert len(w.pods()) == 3 and len(w.events("SuccessfulCreate")) == 2
    stray = w.store.get(PODS, "stray", "default")
    assert stray.metadata["ownerReferences"][0]["uid"] == rs.uid
    stray["metadata"]["labels"] = {"app": "debug"}
    w.store.update(stray)
    w.run(5)
    assert "ownerReferences" not in w.store.get(PODS, "stray", "default").metadata
    assert len(w.pods(app="web")) == 3  # a replacement for the released pod


def test_expectations_hold_a_replicaset_back_until_its_pod_informer_has_seen_the_creates():
    w = World()
    w.run(1)
    pods = w.kcm.controllers["replicaset-controller"].pods
    held: list = []
    deliver = pods._watch.on_event
    pods._watch.on_event = held.append  # the pod watch lags; ReplicaSet events still flow
    w.store.create(replicaset())
    w.run(10)
    assert len(w.pods()) == 3  # the status updates resynced the RS, but it waited
    for event in held:
        deliver(event)
    pods._watch.on_event = deliver
    w.run(10)
    assert len(w.pods()) == 3 and len(w.events("SuccessfulCreate")) == 3


def test_expectations_expire_after_5_minutes():
    w = World()
    w.run(1)
    pods = w.kcm.controllers["replicaset-controller"].pods
    pods._watch.on_event = lambda event: None  # the creates are never observed
    w.store.create(replicaset())
    w.run(200)
    rs = w.rs("web")
    rs["metadata"]["annotations"] = {"touch": "1"}
    w.store.update(rs)
    w.run(10)
    assert len(w.pods()) == 3  # still within ExpectationsTimeout
    w.run(100)
    rs = w.rs("web")
    rs["metadata"]["annotations"] = {"touch": "2"}
    w.store.update(rs)
    w.run(10)
    assert len(w.pods()) == 6  # expired: the cache says 0 pods, so 3 more


def test_the_client_side_rate_limit_of_20_qps_and_burst_30_paces_a_big_scale_up():
    w = World()
    w.store.create(replicaset(replicas=100))
    w.run(30)
    pods = w.pods()
    assert len(pods) == 100
    created = [
        e.t for e in w.trace.where("replicaset-controller", "event", reason="SuccessfulCreate")
    ]
    # creates (and their events) share one bucket: 30 at once, then 20 a second
    assert created[-1] - created[0] > (100 - 30) / 20
    assert w.kcm.controllers["replicaset-controller"].client.throttled_ns > 0


# -- Deployment ------------------------------------------------------------------------------
def test_a_deployment_creates_its_replicaset_named_by_the_template_hash_and_3_pods():
    w = World()
    w.store.create(deployment())
    w.run(5)
    d = w.store.get(DEPLOYS, "web", "default")
    template_hash = compute_hash(d.spec["template"])
    (rs,) = w.store.list(RSS, "default")
    assert rs.name == f"web-{template_hash}"
    assert rs.labels["pod-template-hash"] == template_hash
    assert rs.spec["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": template_hash}
    assert rs.metadata["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d.uid,
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    assert rs.annotations["deployment.kubernetes.io/revision"] == "1"
    assert d.annotations["deployment.kubernetes.io/revision"] == "1"
    pods = w.pods()
    assert len(pods) == 3
    assert all(p.labels["pod-template-hash"] == template_hash for p in pods)
    assert all(re.fullmatch(f"{rs.name}-{GENERATED}", p.name) for p in pods)
    assert [e["message"] for e in w.events("ScalingReplicaSet")] == [
        f"Scaled up replica set {rs.name} from 0 to 3"
    ]
    assert d.status["replicas"] == 3 and d.status["updatedReplicas"] == 3
    assert d.status["observedGeneration"] == 1


def test_without_kubelets_a_new_image_gets_only_the_first_rollout_steps():
    w = World()
    w.store.create(deployment())
    w.run(5)
    old = w.store.list(RSS, "default")[0].name
    d = w.store.get(DEPLOYS, "web", "default")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    w.store.update(d)
    w.run(30)
    new = next(rs.name for rs in w.store.list(RSS, "default") if rs.name != old)
    # no pod is ever available: unhealthy old replicas go first, then the surge is used up
    assert [e["message"] for e in w.events("ScalingReplicaSet")][1:] == [
        f"Scaled up replica set {new} from 0 to 1",
        f"Scaled down replica set {old} from 3 to 2",
        f"Scaled up replica set {new} from 1 to 2",
    ]
    assert (w.rs(old).spec["replicas"], w.rs(new).spec["replicas"]) == (2, 2)


def test_a_rollout_with_pods_becoming_ready_one_at_a_time_follows_the_seeds_steps():
    """3 replicas, maxSurge 1, maxUnavailable 1: reference section 7.4, step by step."""
    w = World()
    w.store.create(deployment())
    w.run(5)
    for pod in w.pods():
        w.set_ready(pod)
    w.run(5)
    old = w.store.list(RSS, "default")[0].name
    d = w.store.get(DEPLOYS, "web", "default")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    w.store.update(d)
    w.run(5)
    new = next(rs.name for rs in w.store.list(RSS, "default") if rs.name != old)
    surge_ok, available_ok = [], []

    def check() -> None:
        rss = w.store.list(RSS, "default")
        surge_ok.append(sum(rs.spec["replicas"] for rs in rss) <= 3 + 1)
        ready = [p for p in w.pods() if p.status.get("phase") == "Running"]
        available_ok.append(len(ready) >= 3 - 1)

    for _ in range(3):
        pending = [
            p for p in w.pods(**{"pod-template-hash": new[4:]}) if p.status["phase"] == "Pending"
        ]
        w.set_ready(pending[0])
        for _ in range(50):
            w.run(0.1)
            check()
    assert all(surge_ok) and all(available_ok)
    assert [e["message"] for e in w.events("ScalingReplicaSet")] == [
        f"Scaled up replica set {old} from 0 to 3",
        f"Scaled up replica set {new} from 0 to 1",
        f"Scaled down replica set {old} from 3 to 2",
        f"Scaled up replica set {new} from 1 to 2",
        f"Scaled down replica set {old} from 2 to 1",
        f"Scaled up replica set {new} from 2 to 3",
        f"Scaled down replica set {old} from 1 to 0",
    ]
    d = w.store.get(DEPLOYS, "web", "default")
    assert d.annotations["deployment.kubernetes.io/revision"] == "2"
    assert {k: d.status[k] for k in ("replicas", "updatedReplicas", "availableReplicas")} == {
        "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}  # fmt: skip
    progressing = next(c for c in d.status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"


def test_with_the_replicaset_controller_disabled_a_deployment_gets_a_replicaset_but_no_pods():
    w = World(controllers=["*", "-replicaset-controller"])
    w.store.create(deployment())
    w.run(5)
    assert len(w.store.list(RSS, "default")) == 1 and w.pods() == []
    assert sorted(w.kcm.controllers) == [
        "clusterrole-aggregation-controller",
        "daemonset-controller",
        "deployment-controller",
        "disruption-controller",
        "endpoints-controller",
        "endpointslice-controller",
        "garbage-collector-controller",
        "horizontal-pod-autoscaler-controller",
        "node-lifecycle-controller",
        "service-lb-controller",
        "serviceaccount-controller",
        "taint-eviction-controller",
    ]


# -- crash and restart -----------------------------------------------------------------------
def test_after_a_crash_the_manager_relists_and_acts_on_what_it_missed():
    w = World()
    w.store.create(replicaset())
    w.run(5)
    w.net.crash("kube-controller-manager")
    for pod in w.pods()[:2]:
        w.store.delete(PODS, pod.name, "default")
    w.scale(RSS, "web", 4)
    w.run(10)
    assert len(w.pods()) == 1  # nobody is watching
    restarted_at = w.clock.now
    w.net.restart("kube-controller-manager")
    w.run(30)
    assert len(w.pods()) == 4 and w.rs("web").status["replicas"] == 4
    starts = w.trace.where("kube-controller-manager", "started")
    assert len(starts) == 2 and starts[0].fields["identity"] != starts[1].fields["identity"]
    # a new identity must wait out the lease its previous life held
    leads = w.trace.where("kube-controller-manager", "became-leader")
    assert leads[1].t - restarted_at >= 15
    informers = w.kcm.informers
    assert informers is not None
    assert informers.informer(RSS).lists == 1  # a fresh list, not a resumed watch


def test_the_same_seed_gives_the_same_trace():
    def run(seed: int) -> str:
        w = World(seed)
        w.store.create(deployment())
        w.run(5)
        for pod in w.pods():
            w.set_ready(pod)
        d = w.store.get(DEPLOYS, "web", "default")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
        w.store.update(d)
        w.run(10)
        return w.trace.text()

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_min_ready_seconds_brings_the_replicaset_back_to_count_available_pods():
    w = World()
    rs = replicaset()
    rs["spec"]["minReadySeconds"] = 5
    w.store.create(rs)
    w.run(5)
    for pod in w.pods():
        w.set_ready(pod)
    w.run(1)
    assert (w.rs("web").status["readyReplicas"], w.rs("web").status["availableReplicas"]) == (3, 0)
    w.run(6)  # nothing changes in the API meanwhile: the requeue after minReadySeconds does it
    assert w.rs("web").status["availableReplicas"] == 3


def test_lost_requests_fail_the_sync_and_the_key_comes_back_with_backoff():
    w = World(leader_elect=False)
    w.net.set_link("kube-controller-manager", "apiserver", both_ways=False, drop=0.3)
    w.store.create(replicaset(replicas=5))
    w.run(300)
    assert len(w.pods()) == 5
    failed = w.events("FailedCreate")
    assert failed and failed[0]["message"] == "Error creating: context deadline exceeded"
    assert w.trace.where("replicaset-controller", "sync-error")
