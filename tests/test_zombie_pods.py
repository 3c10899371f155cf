"""The seed's kubelet-disk-full story end to end: a chatty pod fills node-1's disk, its kubelet
crashes, and the pods it ran keep running and keep getting traffic through kube-proxy until the
node lifecycle controller has marked them not ready and the endpoints have caught up."""

from __future__ import annotations

import json

from kube_teach import Cluster
from kube_teach.kubelet.runtime import WORKLOAD_ANNOTATION

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: nginx:1.25, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"""
CHATTY = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "chatty",
        "annotations": {WORKLOAD_ANNOTATION: json.dumps({"logPerSecond": "4Gi"})},
    },
    "spec": {
        "nodeSelector": {"kubernetes.io/hostname": "node-1"},
        "containers": [{"name": "app", "image": "busybox:1.36"}],
    },
}


def test_a_crashed_kubelets_pods_keep_serving_traffic_until_the_endpoints_drop_them():
    cluster = Cluster(nodes=2, seed=0)
    cluster.apply(WEB)
    cluster.run(20)
    zombie = next(p for p in cluster.list("pods") if p["spec"]["nodeName"] == "node-1")
    zombie_ip = zombie["status"]["podIP"]
    service_ip = cluster.get("service", "web")["spec"]["clusterIP"]
    proxy = cluster.kube_proxies["node-2"]

    def share_to_zombie(n: int = 200) -> float:
        hits = [proxy.connect("10.244.2.99", service_ip, 80) for _ in range(n)]
        assert all(h.error is None for h in hits)
        return sum(h.endpoint.ip == zombie_ip for h in hits) / n

    assert 0.3 < share_to_zombie() < 0.7  # both pods serve before anything happens
    cluster.apply(CHATTY)
    cluster.run_until(lambda: cluster.trace.where(event="kubelet-crashed"), timeout=60)
    (crash,) = cluster.trace.where(event="kubelet-crashed")
    assert crash.fields["reason"] == "disk full"
    # the kubelet is gone, the container is not: a zombie that keeps taking half the traffic
    node1 = cluster.kubelets["node-1"]
    assert node1.running is False
    assert {c.state for c in node1.runtime.containers.values()} == {"running"}
    cluster.run(30)
    assert 0.3 < share_to_zombie() < 0.7
    # after the grace period the node is Unknown, its pods not Ready, and the endpoints drop it
    cluster.run(60)
    ready = next(c for c in cluster.get("node", "node-1")["status"]["conditions"]
                 if c["type"] == "Ready")  # fmt: skip
    assert ready["status"] == "Unknown"
    assert share_to_zombie() == 0
    assert {c.state for c in node1.runtime.containers.values()} == {"running"}  # still there
