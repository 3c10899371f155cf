"""The kubelet host on the simulated network: pods run, report status, crash-loop, get OOM-killed
and probed; the node Lease is renewed every 10 s until the machine dies."""

import json

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.client.rest import RESTClient
from kube_teach.kubelet.kubelet import Kubelet, pod_phase
from kube_teach.kubelet.runtime import (
    WORKLOAD_ANNOTATION,
    ContainerRuntime,
    Workload,
    default_pull_policy,
    image_size,
    workload_for,
)
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

PODS, LEASES, EVENTS, NODES = KINDS["Pod"], KINDS["Lease"], KINDS["Event"], KINDS["Node"]
EPOCH = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z


class World:
    def __init__(self, seed=0, nodes=2):
        self.clock, seeds = Clock(), Seeds(seed)
        self.trace, metrics = Trace(self.clock), Metrics(self.clock)
        self.net = Network(self.clock, seeds, self.trace)
        self.store = ObjectStore(self.clock, seeds, self.trace, EPOCH)
        for ns in INITIAL_NAMESPACES:
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        APIServer("apiserver", self.net, self.store, self.trace, metrics)
        self.client = RESTClient(self.net.add_host("kubectl"), "apiserver", qps=1000, burst=1000)
        self.kubelets = {}
        for i in range(1, nodes + 1):
            name = f"node-{i}"
            host = self.net.add_host(name)
            self.kubelets[name] = Kubelet(
                host, "apiserver", name, trace=self.trace, metrics=metrics, epoch_ns=EPOCH,
                rng=seeds.stream(f"kubelet/{name}"), pod_cidr=f"10.244.{i}.0/24",
                node_ip=f"10.0.0.{10 + i}",
            )  # fmt: skip
            self.kubelets[name].start()
        self.clock.run(1)

    def create(self, pod):
        resp = self.client.call("POST", collection_path(PODS, "default"), pod)
        assert resp.code == 201, resp.body
        return resp.body

    def pod(self, name):
        return self.store.get(PODS, name, "default")

    def run_until(self, predicate, timeout=600):
        self.clock.run_until(predicate, timeout=timeout)

    def events(self, reason=None):
        evs = sorted(self.store.list(EVENTS, "default"), key=lambda e: e["firstTimestamp"])
        return [e for e in evs if reason is None or e["reason"] == reason]

    def traced(self, event, **fields):
        return [
            e
            for e in self.trace.events
            if e.event == event and all(e.fields.get(k) == v for k, v in fields.items())
        ]


def make_pod(name="web", image="nginx:1.27", node="node-1", workload=None, policy=None, **ctr):
    container = {"name": "app", "image": image, **ctr}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"nodeName": node, "containers": [container]}}  # fmt: skip
    if workload is not None:
        pod["metadata"]["annotations"] = {WORKLOAD_ANNOTATION: json.dumps(workload)}
    if policy:
        pod["spec"]["restartPolicy"] = policy
    return pod


def condition(pod, type_):
    return next(c for c in pod["status"]["conditions"] if c["type"] == type_)


def test_a_bound_pod_becomes_running_and_ready_with_its_status():
    w = World()
    t0 = w.clock.now
    created = w.create(make_pod())
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running")
    pod = w.pod("web")
    elapsed = w.clock.now - t0
    pull = image_size("nginx:1.27") / 50e6 + 0.2
    assert pull + 0.1 < elapsed < pull + 0.2  # image pull, then container start
    status = pod["status"]
    assert status["podIP"] == "10.244.1.2" and status["hostIP"] == "10.0.0.11"
    assert status["qosClass"] == "BestEffort"
    assert status["startTime"].startswith("2025-01-01T00:00:0")
    [cs] = status["containerStatuses"]
    assert cs["ready"] is True and cs["restartCount"] == 0 and cs["started"] is True
    assert cs["image"] == "nginx:1.27"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert cs["containerID"].startswith("containerd://") and "running" in cs["state"]
    types = [c["type"] for c in status["conditions"]]
    assert types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                     "PodScheduled"]  # fmt: skip
    assert all(c["status"] == "True" for c in status["conditions"])
    msgs = [(e["reason"], e["message"]) for e in w.events() if e["involvedObject"]["kind"] == "Pod"]
    assert msgs[:4] == [
        ("Pulling", 'Pulling image "nginx:1.27"'),
        ("Pulled", 'Successfully pulled image "nginx:1.27" in 1.648s (1.648s including waiting). '
                   f"Image size: {image_size('nginx:1.27')} bytes."),
        ("Created", "Created container: app"),
        ("Started", "Started container app"),
    ]  # fmt: skip
    assert w.traced("pod-running", pod="default/web")
    assert created["metadata"]["uid"] == pod.metadata["uid"]


def test_a_second_pod_with_the_cached_image_starts_without_pulling():
    w = World()
    w.create(make_pod("a"))
    w.run_until(lambda: w.pod("a").status.get("phase") == "Running")
    w.create(make_pod("b"))
    t0 = w.clock.now
    w.run_until(lambda: w.pod("b").status.get("phase") == "Running")
    assert w.clock.now - t0 < 0.2
    assert w.pod("b").status["podIP"] == "10.244.1.3"
    pulled = [e["message"] for e in w.events("Pulled") if e["involvedObject"]["name"] == "b"]
    assert pulled == [
        'Container image "nginx:1.27" already present on machine and can be accessed by the pod'
    ]


def test_a_crashing_container_restarts_with_doubling_back_off():
    w = World()
    w.create(make_pod(workload={"exitAfter": 1, "exitCode": 1}))
    w.run_until(lambda: len(w.traced("container-started", pod="default/web")) >= 5, timeout=300)
    starts = [e.t for e in w.traced("container-started", pod="default/web")]
    exits = [e.t for e in w.traced("container-exited", pod="default/web")]
    waits = [round(s - e, 1) for e, s in zip(exits, starts[1:], strict=False)]
    assert waits == [0.1, 10.1, 20.1, 40.1]  # back-off, plus the container's start latency
    w.clock.run(5)  # the fifth run exits at once, then waits 80 s
    cs = w.pod("web").status["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"].startswith(
        "back-off 1m20s restarting failed container=app"
    )
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["restartCount"] == 4 and cs["ready"] is False
    assert w.pod("web").status["phase"] == "Running"
    assert condition(w.pod("web"), "Ready")["status"] == "False"
    backoff = w.events("BackOff")[0]
    assert backoff["message"].startswith(
        "Back-off restarting failed container app in pod web_default("
    )


def test_a_leaking_container_is_oom_killed_at_its_limit_and_restarted():
    w = World()
    w.create(make_pod(workload={"kind": "leak", "memory": "20Mi", "leakPerSecond": "10Mi"},
                      resources={"limits": {"memory": "100Mi"}}))  # fmt: skip
    w.run_until(lambda: len(w.traced("container-oomkilled")) >= 2, timeout=300)
    first, second = w.traced("container-oomkilled")[:2]
    starts = [e.t for e in w.traced("container-started")]
    assert first.t - starts[0] == pytest.approx(8.0)  # (100Mi - 20Mi) / 10Mi per second
    assert second.t - starts[1] == pytest.approx(8.0)
    assert first.fields["exitCode"] == 137
    w.clock.run(1)
    cs = w.pod("web").status["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert w.pod("web").status["qosClass"] == "Burstable"  # no cpu limit


def test_a_failing_liveness_probe_restarts_the_container():
    w = World()
    probe = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5, "failureThreshold": 3}
    w.create(make_pod(workload={"failsAfter": {"liveness": 30}}, livenessProbe=probe))
    w.run_until(lambda: len(w.traced("container-started")) >= 2, timeout=300)
    started, restarted = (e.t for e in w.traced("container-started"))
    killed = w.traced("container-exited")[0].t
    # failing from 30 s; the third failure in a row (3 x 5 s later at most) kills it
    assert 30 + 2 * 5 <= killed - started < 30 + 3 * 5
    unhealthy = w.events("Unhealthy")[0]["message"]
    assert unhealthy == "Liveness probe failed: HTTP probe failed with statuscode: 500"
    killing = w.events("Killing")[0]["message"]
    assert killing == "Container app failed liveness probe, will be restarted"
    assert restarted - killed < 1  # the first restart is not held back
    w.clock.run(1)
    assert w.pod("web").status["containerStatuses"][0]["restartCount"] == 1


def test_a_failing_readiness_probe_keeps_the_pod_not_ready():
    w = World()
    probe = {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 5}
    w.create(make_pod(workload={"failsAfter": {"readiness": 0}}, readinessProbe=probe))
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running")
    w.clock.run(60)
    pod = w.pod("web")
    assert condition(pod, "Ready")["status"] == "False"
    assert condition(pod, "Ready")["message"] == "containers with unready status: [app]"
    assert condition(pod, "ContainersReady")["reason"] == "ContainersNotReady"
    assert pod["status"]["containerStatuses"][0]["ready"] is False
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


def test_readiness_probe_success_makes_the_pod_ready():
    w = World()
    probe = {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 5}
    w.create(make_pod(readinessProbe=probe))
    w.run_until(lambda: condition(w.pod("web"), "Ready")["status"] == "True"
                if w.pod("web").status.get("conditions") else False)  # fmt: skip
    assert w.pod("web").status["containerStatuses"][0]["ready"] is True


@pytest.mark.parametrize(
    ("policy", "code", "phase"),
    [
        pytest.param("Never", 0, "Succeeded", id="Never and exit 0 ends Succeeded"),
        pytest.param("Never", 2, "Failed", id="Never and exit 2 ends Failed"),
        pytest.param("OnFailure", 0, "Succeeded", id="OnFailure and exit 0 ends Succeeded"),
    ],
)
def test_restart_policy_decides_the_final_phase(policy, code, phase):
    w = World()
    w.create(make_pod(workload={"exitAfter": 2, "exitCode": code}, policy=policy))
    w.run_until(lambda: w.pod("web").status.get("phase") == phase, timeout=60)
    w.clock.run(30)
    assert w.pod("web").status["phase"] == phase
    assert len(w.traced("container-started")) == 1
    state = w.pod("web").status["containerStatuses"][0]["state"]
    assert state["terminated"]["exitCode"] == code


def test_on_failure_restarts_a_failed_container():
    w = World()
    w.create(make_pod(workload={"exitAfter": 2, "exitCode": 1}, policy="OnFailure"))
    w.run_until(lambda: len(w.traced("container-started")) >= 2, timeout=60)
    assert w.pod("web").status["phase"] == "Running"


def test_a_deleted_pod_has_its_containers_stopped():
    w = World()
    w.create(make_pod())
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running")
    assert w.client.call("DELETE", "/api/v1/namespaces/default/pods/web").code == 200
    w.clock.run(1)
    assert w.traced("pod-killed", pod="default/web")
    assert w.kubelets["node-1"].runtime.containers == {}
    killing = [e["message"] for e in w.events("Killing")]
    assert killing == ["Stopping container app"]


def test_the_node_lease_is_renewed_every_10s_and_stops_when_the_node_crashes():
    w = World()
    w.clock.run(45)
    renewals = [e.t for e in w.traced("lease-renewed") if e.component == "node-1"]
    gaps = [round(b - a, 3) for a, b in zip(renewals[1:], renewals[2:], strict=False)]
    assert len(renewals) >= 5 and all(g == 10 for g in gaps)
    lease = w.store.get(LEASES, "node-1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    w.net.crash("node-1")
    before = lease["spec"]["renewTime"]
    w.clock.run(60)
    assert w.store.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"] == before
    assert w.store.get(LEASES, "node-2", "kube-node-lease")["spec"]["renewTime"] > before


def test_the_kubelet_registers_its_node_with_ready_conditions():
    w = World()
    node = w.store.get(NODES, "node-1")
    assert node["spec"]["podCIDR"] == "10.244.1.0/24"
    conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conds == {"MemoryPressure": "False", "DiskPressure": "False",
                     "PIDPressure": "False", "Ready": "True"}  # fmt: skip
    assert node["status"]["capacity"]["pods"] == "110"


def test_a_crashed_node_stops_its_containers_and_a_restart_runs_them_again():
    w = World()
    w.create(make_pod())
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running")
    w.net.crash("node-1")
    assert w.kubelets["node-1"].pods == {}
    w.clock.run(30)
    w.net.restart("node-1")
    w.run_until(lambda: len(w.traced("container-started")) >= 2, timeout=60)
    pulled = [e["message"] for e in w.events("Pulled")]
    assert pulled[-1].startswith('Container image "nginx:1.27" already present')  # disk kept


def test_the_same_seed_gives_the_same_trace():
    def run(seed):
        w = World(seed)
        probe = {"httpGet": {"path": "/", "port": 80}}
        w.create(make_pod("a", workload={"exitAfter": 3, "exitCode": 1}))
        w.create(make_pod("b", node="node-2", readinessProbe=probe))
        w.clock.run(120)
        return w.trace.text()

    assert run(7) == run(7)


@pytest.mark.parametrize(
    ("statuses", "policy", "want"),
    [
        pytest.param([{"state": {"waiting": {}}, "lastState": {}}], "Always", "Pending",
                     id="a container that never started keeps the pod Pending"),
        pytest.param([{"state": {"waiting": {}}, "lastState": {"terminated": {"exitCode": 1}}}],
                     "Always", "Running", id="a crash-looping container keeps the pod Running"),
        pytest.param([{"state": {"terminated": {"exitCode": 0}}, "lastState": {}},
                      {"state": {"terminated": {"exitCode": 1}}, "lastState": {}}],
                     "Never", "Failed", id="one failure under Never fails the pod"),
    ],
)  # fmt: skip
def test_pod_phase(statuses, policy, want):
    assert pod_phase(statuses, policy) == want


def test_workloads_and_pull_policy():
    leak = Workload.from_dict({"kind": "leak", "memory": "10Mi", "leakPerSecond": "1Mi"})
    assert leak.oom_after(20 * 1024 * 1024) == pytest.approx(10.0)
    assert Workload().oom_after(0) is None
    pod = {"metadata": {"annotations": {WORKLOAD_ANNOTATION: json.dumps({"app": {"cpu": "2"}})}}}
    assert workload_for(pod, "app").cpu == 2000
    assert workload_for(pod, "other") == Workload()
    assert default_pull_policy("nginx") == "Always"
    assert default_pull_policy("nginx:latest") == "Always"
    assert default_pull_policy("nginx:1.27") == "IfNotPresent"
    runtime = ContainerRuntime("n")
    a, wait_a = runtime.pull("nginx:1.27", 0)
    b, wait_b = runtime.pull("redis:7", 0)
    assert wait_a == a and wait_b == a + b  # pulls are serialized
