"""A simulated cloud's load balancers, and which Services and nodes they serve. No clock inside:
times (seconds) come from the caller; randomness from the stream the caller passes.

Semantics: k8s.io/cloud-provider's LoadBalancer interface (GetLoadBalancer,
EnsureLoadBalancer, UpdateLoadBalancer, EnsureLoadBalancerDeleted, DefaultLoadBalancerName)
and the service controller's node predicate (nodes labelled
node.kubernetes.io/exclude-from-external-load-balancers, or tainted by the cluster autoscaler
for deletion, are left out; readiness is left to the health checks since
StableLoadBalancerNodeSet). Health checks: with externalTrafficPolicy Cluster a node passes
when it is Ready (kube-proxy's /healthz on 10256); with Local only nodes with a ready endpoint of
the Service pass (kube-proxy's healthCheckNodePort).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._util import condition, labels, meta, name, spec, uid

LOAD_BALANCER_CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
KUBE_PROXY_HEALTHZ_PORT = 10256
#: Addresses the simulated cloud hands out: TEST-NET-3, documentation-only addresses.
ADDRESS_POOL = tuple(f"203.0.113.{i}" for i in range(10, 251))


def wants_load_balancer(service: Mapping[str, Any]) -> bool:
    """Type LoadBalancer and no loadBalancerClass (a class means another controller's job)."""
    return spec(service).get("type") == "LoadBalancer" and not spec(service).get(
        "loadBalancerClass"
    )


def load_balancer_name(service: Mapping[str, Any]) -> str:
    """cloudprovider.DefaultLoadBalancerName: "a" + the Service UID without dashes, cut to 32."""
    return ("a" + uid(service).replace("-", ""))[:32]


def node_included(node: Mapping[str, Any]) -> bool:
    """Whether a node is a load balancer backend (the service controller's node predicate)."""
    if EXCLUDE_LABEL in labels(node):
        return False
    return not any(t.get("key") == TO_BE_DELETED_TAINT for t in spec(node).get("taints") or ())


def backend_nodes(nodes: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted(name(n) for n in nodes if node_included(n))


def node_ready(node: Mapping[str, Any]) -> bool:
    cond = condition((node.get("status") or {}).get("conditions"), "Ready")
    return cond is not None and cond.get("status") == "True"


def local_endpoint_nodes(slices: Iterable[Mapping[str, Any]]) -> set[str]:
    """Nodes that hold a ready endpoint in `slices`: where a Local health check answers 200."""
    out = set()
    for slice_ in slices:
        for endpoint in slice_.get("endpoints") or ():
            if (endpoint.get("conditions") or {}).get("ready") and endpoint.get("nodeName"):
                out.add(endpoint["nodeName"])
    return out


def frontend_ports(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Listener → node port for each Service port (the cloud forwards to nodePort)."""
    return [
        {
            "port": p.get("port"),
            "protocol": p.get("protocol") or "TCP",
            "nodePort": p.get("nodePort"),
        }
        for p in spec(service).get("ports") or ()
    ]


@dataclass
class LoadBalancer:
    """One cloud load balancer as a learner sees it in the cloud console."""

    name: str
    service: str  # namespace/name
    ip: str
    ports: list[dict[str, Any]]
    nodes: list[str]
    external_traffic_policy: str
    health_check_node_port: int | None
    created_at: float
    ready_at: float
    healthy_nodes: list[str] = field(default_factory=list)

    def active(self, now: float) -> bool:
        return now >= self.ready_at

    @property
    def health_check(self) -> str:
        """What the cloud probes on each node: `HTTP :<port>/healthz`."""
        if self.external_traffic_policy == "Local" and self.health_check_node_port:
            return f"HTTP :{self.health_check_node_port}/healthz"
        return f"HTTP :{KUBE_PROXY_HEALTHZ_PORT}/healthz"

    def status(self) -> dict[str, Any]:
        """The Service's status.loadBalancer once provisioned."""
        return {"ingress": [{"ip": self.ip, "ipMode": "VIP"}]}


class CloudProvider:
    """The cloud behind `service-lb-controller`: load balancers by name, each provisioned after
    a delay drawn from `provisioning_delay` (seconds, uniform) and given an address from
    ADDRESS_POOL, both from `rng` so a seed replays a run exactly."""

    def __init__(
        self,
        rng: random.Random | None = None,
        provisioning_delay: tuple[float, float] = (5.0, 30.0),
        name: str = "kube-teach-cloud",
    ) -> None:
        low, high = provisioning_delay
        if not 0 <= low <= high:
            raise ValueError(
                f"provisioning_delay must be 0 <= low <= high, got {provisioning_delay}"
            )
        self.rng = rng or random.Random("cloud-provider")
        self.provisioning_delay = (float(low), float(high))
        self.name = name
        self.load_balancers: dict[str, LoadBalancer] = {}

    def __repr__(self) -> str:
        return f"<CloudProvider {self.name} load_balancers={sorted(self.load_balancers)}>"

    def get_load_balancer(self, service: Mapping[str, Any]) -> LoadBalancer | None:
        return self.load_balancers.get(load_balancer_name(service))

    def ensure_load_balancer(
        self, service: Mapping[str, Any], nodes: list[str], now: float
    ) -> LoadBalancer:
        """Create the load balancer (provisioning starts now) or bring its listeners and
        backends up to date; returns it, active or still provisioning."""
        lb = self.get_load_balancer(service)
        policy = spec(service).get("externalTrafficPolicy") or "Cluster"
        hc_port = spec(service).get("healthCheckNodePort")
        if lb is None:
            low, high = self.provisioning_delay
            delay = round(self.rng.uniform(low, high), 3)
            used = {other.ip for other in self.load_balancers.values()}
            free = [ip for ip in ADDRESS_POOL if ip not in used]
            if not free:
                raise CloudError("no free external IP address left in the pool")
            lb = LoadBalancer(
                name=load_balancer_name(service),
                service=f"{meta(service).get('namespace')}/{name(service)}",
                ip=self.rng.choice(free), ports=frontend_ports(service), nodes=list(nodes),
                external_traffic_policy=policy, health_check_node_port=hc_port,
                created_at=now, ready_at=now + delay,
            )  # fmt: skip
            self.load_balancers[lb.name] = lb
            return lb
        lb.ports, lb.nodes = frontend_ports(service), list(nodes)
        lb.external_traffic_policy, lb.health_check_node_port = policy, hc_port
        return lb

    def update_load_balancer(self, service: Mapping[str, Any], nodes: list[str]) -> None:
        lb = self.get_load_balancer(service)
        if lb is not None:
            lb.nodes = list(nodes)

    def ensure_load_balancer_deleted(self, service: Mapping[str, Any]) -> bool:
        """Delete it; True if there was one."""
        return self.load_balancers.pop(load_balancer_name(service), None) is not None

    def health_check(
        self,
        service: Mapping[str, Any],
        nodes: Iterable[Mapping[str, Any]],
        slices: Iterable[Mapping[str, Any]] = (),
    ) -> list[str]:
        """Probe every backend node and record which pass (see the module docstring)."""
        lb = self.get_load_balancer(service)
        if lb is None:
            return []
        by_name = {name(n): n for n in nodes}
        local = local_endpoint_nodes(slices) if lb.external_traffic_policy == "Local" else None
        healthy = []
        for node_name in lb.nodes:
            node = by_name.get(node_name)
            if node is None or not node_ready(node):
                continue
            if local is not None and node_name not in local:
                continue
            healthy.append(node_name)
        lb.healthy_nodes = healthy
        return healthy


class CloudError(RuntimeError):
    """The cloud refused a request; the controller reports it in a SyncLoadBalancerFailed event."""


__all__ = [
    "ADDRESS_POOL",
    "EXCLUDE_LABEL",
    "LOAD_BALANCER_CLEANUP_FINALIZER",
    "CloudError",
    "CloudProvider",
    "LoadBalancer",
    "backend_nodes",
    "frontend_ports",
    "load_balancer_name",
    "local_endpoint_nodes",
    "node_included",
    "wants_load_balancer",
]
