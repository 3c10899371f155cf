"""kube-proxy as a host: informers against the API server feed the core; syncs are bounded."""

from kube_teach import Cluster
from kube_teach.network.proxy import REJECT, KubeProxyHost
from kube_teach.network.service import endpoint_slice

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"clusterIP": "10.96.5.5", "selector": {"app": "web"}, "ports": [{"port": 80}]},
}


def test_kube_proxy_follows_the_api_server_at_most_once_per_min_sync_period():
    cluster = Cluster(nodes=0, seed=0)
    proxy = KubeProxyHost(cluster.network.add_host("kube-proxy-node-1"), "apiserver", "node-1",
                          trace=cluster.trace)  # fmt: skip
    proxy.start()
    cluster.apply(SERVICE)
    cluster.apply(endpoint_slice("web", [("10.244.1.5", "node-1")], 8080, name="web-1"))
    cluster.run(seconds=3)
    assert str(proxy.connect("10.244.1.2", "10.96.5.5", 80).endpoint) == "10.244.1.5:8080"

    cluster.apply(endpoint_slice("web", [("10.244.1.6", "node-1")], 8080, name="web-1"))
    cluster.delete("endpointslice", "web-1")
    changed = cluster.now
    cluster.run_until(lambda: proxy.connect("10.244.1.2", "10.96.5.5", 80).verdict == REJECT,
                      timeout=5)  # fmt: skip
    assert cluster.now - changed <= 1.1  # minSyncPeriod 1 s (plus the watch's latency)
    syncs = [e.t for e in cluster.trace.where(component="kube-proxy/node-1", event="synced")]
    assert len(syncs) >= 3
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(syncs, syncs[1:], strict=False))
