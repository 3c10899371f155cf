"""The API server on the Raft etcd: what a Cluster's control plane does when etcd misbehaves."""

from __future__ import annotations

from kube_teach import Cluster

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
"""


def test_a_leader_cut_off_from_its_peers_cancels_the_watch_and_the_cache_recovers():
    """The API server's etcd member is cut off from the other members but not from the API
    server: it loses its leadership, cancels the require-leader watch after three election
    timeouts (`etcdserver: no leader`), and the API server watches again until it reaches a
    member with a leader; the Deployment scaled meanwhile gets its pods."""
    cluster = Cluster(nodes=2, seed=0)
    cluster.apply(WEB)
    cluster.run(20)
    leader = cluster.etcd.leader().name
    assert cluster.store.backend.client.pinned == leader
    cluster.etcd.isolate(leader)
    cut = cluster.now
    cluster.apply(WEB.replace("replicas: 3", "replicas: 5"))
    cluster.run(40)
    canceled = cluster.trace.where(event="etcd-watch-canceled")
    assert canceled and canceled[0].fields["reason"] == "etcdserver: no leader"
    # CheckQuorum makes it step down after an election timeout, then 3 more checks of 1 s
    assert 3 <= canceled[0].t - cut <= 6
    ready = cluster.get("deployment", "web")["status"].get("readyReplicas")
    assert ready == 5


def test_without_quorum_a_request_times_out_after_the_api_servers_60_s():
    cluster = Cluster(nodes=1, seed=0)
    cluster.etcd.crash("etcd-2")
    cluster.etcd.crash("etcd-3")
    sent = cluster.now
    out = cluster.kubectl("get pods")
    assert out == (
        "Error from server (Timeout): Timeout: request did not complete within requested "
        "timeout - context deadline exceeded"
    )
    assert 60 <= cluster.now - sent < 61
    cluster.etcd.restart("etcd-2")
    assert cluster.kubectl("get pods") == "No resources found in default namespace."
