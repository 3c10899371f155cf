"""NetworkPolicy evaluation: may this pod open this connection to that pod or address?

Semantics: networking.k8s.io/v1 NetworkPolicy as documented and as the upstream e2e truth
tables (test/e2e/network/netpol) check it: pods are open until a policy selects them for a
direction; then only the union of the selecting policies' rules is allowed; a connection
needs egress allowed at the source and ingress allowed at the destination.
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kube_teach.api.selectors import LabelSelector

INGRESS, EGRESS = "Ingress", "Egress"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace since 1.21

Pod = Mapping[str, Any]
Endpoint = Pod | str  # a pod dict, or an IP address outside the cluster


@dataclass(frozen=True)
class _Peer:
    pods: LabelSelector | None
    namespaces: LabelSelector | None
    cidr: Any = None  # ipaddress network
    excepts: tuple = ()


@dataclass(frozen=True)
class _Port:
    protocol: str
    port: int | str | None
    end_port: int | None


@dataclass(frozen=True)
class _Rule:
    peers: tuple[_Peer, ...] | None  # None: every peer
    ports: tuple[_Port, ...] | None  # None: every port


@dataclass(frozen=True)
class _Policy:
    namespace: str
    name: str
    selector: LabelSelector
    types: frozenset[str]
    rules: Mapping[str, tuple[_Rule, ...]]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _peer(d: Mapping[str, Any]) -> _Peer:
    block = d.get("ipBlock")
    if block is not None:
        return _Peer(
            None,
            None,
            ipaddress.ip_network(block["cidr"], strict=False),
            tuple(ipaddress.ip_network(e, strict=False) for e in block.get("except") or ()),
        )
    pods, namespaces = d.get("podSelector"), d.get("namespaceSelector")
    return _Peer(
        None if pods is None else LabelSelector.from_dict(pods),
        None if namespaces is None else LabelSelector.from_dict(namespaces),
    )


def _rule(d: Mapping[str, Any] | None, peers_field: str) -> _Rule:
    d = d or {}
    peers = d.get(peers_field) or None  # absent or empty: every peer
    ports = d.get("ports") or None
    return _Rule(
        None if peers is None else tuple(_peer(p) for p in peers),
        None
        if ports is None
        else tuple(
            _Port(p.get("protocol") or "TCP", p.get("port"), p.get("endPort")) for p in ports
        ),
    )


def _policy(obj: Mapping[str, Any]) -> _Policy:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    types = spec.get("policyTypes")
    if not types:  # API defaulting: Ingress, plus Egress when egress rules are given
        types = [INGRESS] + ([EGRESS] if spec.get("egress") else [])
    return _Policy(
        meta.get("namespace") or "default",
        meta.get("name") or "",
        LabelSelector.from_dict(spec.get("podSelector") or {}),
        frozenset(types),
        {
            INGRESS: tuple(_rule(r, "from") for r in spec.get("ingress") or ()),
            EGRESS: tuple(_rule(r, "to") for r in spec.get("egress") or ()),
        },
    )


class _Namespaces:
    """Namespace labels: given ones plus kubernetes.io/metadata.name, which always exists."""

    def __init__(self, namespaces: Any) -> None:
        self._labels: dict[str, dict[str, str]] = {}
        if isinstance(namespaces, Mapping):
            for name, labels in namespaces.items():
                self._labels[name] = dict(labels or {})
        else:
            for ns in namespaces or ():
                if isinstance(ns, str):
                    self._labels[ns] = {}
                else:
                    meta = ns.get("metadata") or {}
                    self._labels[meta.get("name", "")] = dict(meta.get("labels") or {})

    def labels(self, name: str) -> dict[str, str]:
        return {**self._labels.get(name, {}), NAMESPACE_NAME_LABEL: name}


def _is_pod(endpoint: Endpoint) -> bool:
    return isinstance(endpoint, Mapping) and "ip" not in endpoint


def _ip(endpoint: Endpoint) -> Any:
    if isinstance(endpoint, str):
        return ipaddress.ip_address(endpoint)
    if not _is_pod(endpoint):
        return ipaddress.ip_address(endpoint["ip"])
    status = endpoint.get("status") or {}
    ip = status.get("podIP") or next((p.get("ip") for p in status.get("podIPs") or ()), None)
    return None if ip is None else ipaddress.ip_address(ip)


def _meta(pod: Pod) -> tuple[str, str, Mapping[str, str]]:
    meta = pod.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or "", meta.get("labels") or {}


def _peer_matches(peer: _Peer, policy_ns: str, other: Endpoint, namespaces: _Namespaces) -> bool:
    if peer.cidr is not None:
        ip = _ip(other)
        return (
            ip is not None
            and ip.version == peer.cidr.version
            and ip in peer.cidr
            and not any(ip.version == e.version and ip in e for e in peer.excepts)
        )
    if not _is_pod(other) or (peer.pods is None and peer.namespaces is None):
        return False  # selectors only ever match pods; a peer with no field matches nothing
    ns, _, labels = _meta(other)
    if peer.namespaces is None:  # a bare podSelector means the policy's own namespace
        return ns == policy_ns and peer.pods.matches(labels)
    if not peer.namespaces.matches(namespaces.labels(ns)):
        return False
    return peer.pods is None or peer.pods.matches(labels)


def _named_ports(pod: Pod, name: str, protocol: str) -> list[int]:
    spec = pod.get("spec") or {}
    return [
        int(p["containerPort"])
        for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]
        for p in c.get("ports") or ()
        if p.get("name") == name and (p.get("protocol") or "TCP") == protocol
    ]


def _port_matches(rule_port: _Port, port: int, protocol: str, dst: Endpoint) -> bool:
    if rule_port.protocol != protocol:
        return False
    if rule_port.port is None:
        return True  # a protocol alone allows every port
    if isinstance(rule_port.port, int):
        if rule_port.end_port is not None:
            return rule_port.port <= port <= rule_port.end_port
        return port == rule_port.port
    # A named port is looked up on the destination pod, for ingress and egress alike.
    return _is_pod(dst) and port in _named_ports(dst, rule_port.port, protocol)


def _rule_matches(
    rule: _Rule, policy_ns: str, peer: Endpoint, dst: Endpoint, port: int, protocol: str,
    namespaces: _Namespaces,
) -> bool:  # fmt: skip
    peers_ok = rule.peers is None or any(
        _peer_matches(p, policy_ns, peer, namespaces) for p in rule.peers
    )
    ports_ok = rule.ports is None or any(_port_matches(p, port, protocol, dst) for p in rule.ports)
    return peers_ok and ports_ok


@dataclass(frozen=True)
class DirectionVerdict:
    """One side of a connection: whether the pod is isolated in this direction, by which
    policies ("namespace/name"), and which of them allow the traffic."""

    direction: str
    isolated: bool
    allowed: bool
    policies: tuple[str, ...] = ()
    allowed_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The decision for one connection, with both sides and a one-line reason."""

    allowed: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _side(
    direction: str, target: Endpoint, peer: Endpoint, dst: Endpoint, port: int, protocol: str,
    policies: Sequence[_Policy], namespaces: _Namespaces,
) -> DirectionVerdict:  # fmt: skip
    if not _is_pod(target):
        return DirectionVerdict(direction, False, True)
    ns, _, labels = _meta(target)
    selecting = [
        p for p in policies
        if p.namespace == ns and direction in p.types and p.selector.matches(labels)
    ]  # fmt: skip
    if not selecting:
        return DirectionVerdict(direction, False, True)
    allowed_by = tuple(
        p.key
        for p in selecting
        if any(
            _rule_matches(r, p.namespace, peer, dst, port, protocol, namespaces)
            for r in p.rules[direction]
        )
    )
    return DirectionVerdict(
        direction, True, bool(allowed_by), tuple(p.key for p in selecting), allowed_by
    )


def _name(endpoint: Endpoint) -> str:
    if not _is_pod(endpoint):
        return str(_ip(endpoint))
    ns, name, _ = _meta(endpoint)
    return f"{ns}/{name}"


def _evaluate(
    src: Endpoint, dst: Endpoint, port: int, protocol: str, policies: Sequence[_Policy],
    namespaces: _Namespaces, allow_self: bool,
) -> Verdict:  # fmt: skip
    open_side = DirectionVerdict(EGRESS, False, True)
    if allow_self and _is_pod(src) and _is_pod(dst) and _name(src) == _name(dst):
        ingress = DirectionVerdict(INGRESS, False, True)
        return Verdict(True, open_side, ingress, "a pod can always reach itself")
    egress = _side(EGRESS, src, dst, dst, port, protocol, policies, namespaces)
    ingress = _side(INGRESS, dst, src, dst, port, protocol, policies, namespaces)
    where = f"{_name(src)} -> {_name(dst)}:{port}/{protocol}"
    if not egress.allowed:
        reason = f"{where}: egress from {_name(src)} is isolated by {', '.join(egress.policies)} and no rule allows it"
    elif not ingress.allowed:
        reason = f"{where}: ingress to {_name(dst)} is isolated by {', '.join(ingress.policies)} and no rule allows it"
    else:
        allowed = [*egress.allowed_by, *ingress.allowed_by]
        reason = (
            f"{where}: allowed by {', '.join(allowed)}"
            if allowed
            else f"{where}: no policy isolates either side"
        )
    return Verdict(egress.allowed and ingress.allowed, egress, ingress, reason)


def explain(
    src: Endpoint,
    dst: Endpoint,
    port: int | str,
    protocol: str = "TCP",
    policies: Iterable[Mapping[str, Any]] = (),
    namespaces: Any = None,
    *,
    allow_self: bool = True,
) -> Verdict:
    """The verdict for a new connection from `src` to `dst` on `port`/`protocol`, with the
    policies that isolate each side and those that allow it. See `can_connect`."""
    if isinstance(port, str) and not port.isdigit():
        ports = _named_ports(dst, port, protocol) if _is_pod(dst) else []
        if not ports:
            raise ValueError(f"port {port!r} is not a named port of {_name(dst)}")
        port = ports[0]
    parsed = [_policy(p) for p in policies]
    return _evaluate(src, dst, int(port), protocol, parsed, _Namespaces(namespaces), allow_self)


def can_connect(
    src_pod: Endpoint,
    dst_pod: Endpoint,
    port: int | str,
    protocol: str = "TCP",
    policies: Iterable[Mapping[str, Any]] = (),
    namespaces: Any = None,
    *,
    allow_self: bool = True,
) -> bool:
    """Whether `src_pod` may open a connection to `dst_pod` on `port` (a number, or a named
    container port of the destination) over `protocol` ("TCP", "UDP", "SCTP").

    Pods are Kubernetes dicts; either side may instead be an IP address outside the cluster
    ("203.0.113.7"), which only ipBlock peers match. `namespaces` gives namespace labels: a
    list of Namespace dicts or names, or {name: labels}; every namespace also carries
    kubernetes.io/metadata.name. A pod is isolated for ingress (egress) once any policy in
    its namespace selects it with that policy type; it then admits only what some rule of
    those policies allows: within a rule the peers (one peer's podSelector AND
    namespaceSelector, different peers OR) and the ports must both match. Egress at the
    source and ingress at the destination must both allow. Replies of an allowed connection
    always pass. A pod may always reach itself (the documented exception; `allow_self=False`
    to apply policies to loopback too, which upstream leaves to the network plugin).
    """
    return explain(
        src_pod, dst_pod, port, protocol, policies, namespaces, allow_self=allow_self
    ).allowed


@dataclass(frozen=True)
class ConnectivityMatrix:
    """Who can reach whom on one port: `allowed[(src, dst)]` over pods named "namespace/name".
    Prints as upstream's e2e truth table ("." reachable, "X" blocked); HTML in a notebook."""

    pods: tuple[str, ...]
    port: int
    protocol: str
    allowed: Mapping[tuple[str, str], bool]

    def can(self, src: str, dst: str) -> bool:
        """Whether `src` reaches `dst` (both "namespace/name")."""
        return self.allowed[(src, dst)]

    def denied(self) -> list[tuple[str, str]]:
        """Blocked (src, dst) pairs, in row order."""
        return [(s, d) for s in self.pods for d in self.pods if not self.allowed[(s, d)]]

    def to_dict(self) -> dict[str, dict[str, bool]]:
        """{src: {dst: allowed}}."""
        return {s: {d: self.allowed[(s, d)] for d in self.pods} for s in self.pods}

    def text(self) -> str:
        """The table as text, rows sources and columns destinations, "-" in the corner as in
        upstream's truth tables."""
        width = max([1, *map(len, self.pods)])
        lines = [" ".join(f"{p:<{width}}" for p in ("-", *self.pods))]
        for s in self.pods:
            marks = ["." if self.allowed[(s, d)] else "X" for d in self.pods]
            lines.append(" ".join(f"{m:<{width}}" for m in (s, *marks)))
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(p)}</th>" for p in self.pods)
        rows = []
        for s in self.pods:
            cells = "".join(
                '<td style="background:#d4f7d4;text-align:center">&#10003;</td>'
                if self.allowed[(s, d)]
                else '<td style="background:#f7d4d4;text-align:center">&#10007;</td>'
                for d in self.pods
            )
            rows.append(f"<tr><th>{html.escape(s)}</th>{cells}</tr>")
        caption = f"<caption>{self.port}/{self.protocol}: rows connect to columns</caption>"
        return f"<table>{caption}<tr><th>from \\ to</th>{head}</tr>{''.join(rows)}</table>"


def connectivity_matrix(
    pods: Iterable[Pod],
    policies: Iterable[Mapping[str, Any]] = (),
    namespaces: Any = None,
    port: int = 80,
    protocol: str = "TCP",
    *,
    allow_self: bool = True,
) -> ConnectivityMatrix:
    """`can_connect` for every ordered pair of `pods` on `port`/`protocol`, as a table."""
    pods = list(pods)
    parsed = [_policy(p) for p in policies]
    ns = _Namespaces(namespaces)
    names = tuple(_name(p) for p in pods)
    allowed = {
        (_name(s), _name(d)): _evaluate(s, d, port, protocol, parsed, ns, allow_self).allowed
        for s in pods
        for d in pods
    }
    return ConnectivityMatrix(names, port, protocol, allowed)
