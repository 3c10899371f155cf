"""A small world for kubelet host tests: an API server over an object store, a kubectl-like
client and kubelets with options, on one simulated clock."""

import json

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.client.rest import RESTClient
from kube_teach.kubelet.kubelet import Kubelet
from kube_teach.kubelet.runtime import WORKLOAD_ANNOTATION
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

PODS, EVENTS, NODES = KINDS["Pod"], KINDS["Event"], KINDS["Node"]
EPOCH = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z


class World:
    def __init__(self, seed=0, nodes=1, **kubelet_options):
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
            self.kubelets[name] = Kubelet(
                self.net.add_host(name), "apiserver", name, trace=self.trace, metrics=metrics,
                epoch_ns=EPOCH, rng=seeds.stream(f"kubelet/{name}"),
                pod_cidr=f"10.244.{i}.0/24", node_ip=f"10.0.0.{10 + i}", **kubelet_options,
            )  # fmt: skip
            self.kubelets[name].start()
        self.clock.run(1)

    @property
    def kubelet(self):
        return self.kubelets["node-1"]

    def create(self, pod):
        resp = self.client.call("POST", collection_path(PODS, "default"), pod)
        assert resp.code == 201, resp.body
        return resp.body

    def pod(self, name):
        return self.store.get(PODS, name, "default")

    def exists(self, name):
        return self.store.exists(PODS, name, "default")

    def run_until(self, predicate, timeout=600):
        self.clock.run_until(predicate, timeout=timeout)

    def events(self, reason=None):
        evs = sorted(self.store.list(EVENTS, "default"), key=lambda e: e["firstTimestamp"])
        return [e for e in evs if reason is None or e["reason"] == reason]

    def traced(self, event, **fields):
        return [e for e in self.trace.events
                if e.event == event and all(e.fields.get(k) == v for k, v in fields.items())]  # fmt: skip

    def mark_deleted(self, name, grace=None):
        """A graceful DELETE, as kubectl sends it: the API server sets deletionTimestamp and
        deletionGracePeriodSeconds (the spec's terminationGracePeriodSeconds by default)."""
        from kube_teach.apiserver.deletion import DeleteOptions

        self.store.delete(KINDS["Pod"], name, "default",
                          options=DeleteOptions(grace_period_seconds=grace))  # fmt: skip


def make_pod(name="web", image="nginx:1.27", workload=None, policy=None, init=(), **ctr):
    container = {"name": "app", "image": image, **ctr}
    spec = {"nodeName": "node-1", "containers": [container]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": spec}  # fmt: skip
    if init:
        spec["initContainers"] = list(init)
    if workload is not None:
        pod["metadata"]["annotations"] = {WORKLOAD_ANNOTATION: json.dumps(workload)}
    if policy:
        spec["restartPolicy"] = policy
    return pod
