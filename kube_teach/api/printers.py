"""`kubectl get` tables: the columns kube-apiserver's server-side printers build for each kind.

Column names, `<none>` placeholders and `-o wide` extras follow upstream's internal printers;
text output is aligned the way kubectl's tabwriter aligns it (minimum width 6, padding 3).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .kinds import KINDS

Row = list[str]
NONE = "<none>"
_SECOND = 1_000_000_000


def parse_time(text: str | None) -> int | None:
    """RFC 3339 (`2025-01-01T00:00:00Z`) to Unix nanoseconds; None when absent or unreadable."""
    if not text:
        return None
    try:
        t = dt.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
    return int(t.timestamp()) * _SECOND


def _age(obj: dict[str, Any], now_ns: int, stamp: str | None = None) -> str:
    t = parse_time(stamp or (obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(now_ns - t)


def human_duration(ns: int) -> str:
    """An age as kubectl prints it (apimachinery's `duration.HumanDuration`): `45s`, `5m30s`, `3h`, `2d4h`."""
    seconds = abs(ns) // _SECOND * (1 if ns >= 0 else -1)  # Go truncates toward zero
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = hours // 24 % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


@dataclass
class Table:
    """A kubectl table: headers, rows, and how to show them in a terminal or a notebook."""

    headers: list[str]
    rows: list[Row] = field(default_factory=list)
    empty_message: str = "No resources found"

    def text(self) -> str:
        if not self.rows:
            return self.empty_message
        cells = [self.headers, *self.rows]
        widths = [max(6, max(len(r[i]) for r in cells) + 3) for i in range(len(self.headers))]
        lines = []
        for r in cells:
            line = "".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + r[-1]
            lines.append(line.rstrip())
        return "\n".join(lines)

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p><em>{html.escape(self.empty_message)}</em></p>"
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r)
            + "</tr>"
            for r in self.rows
        )
        return (
            f"<table class='kube-teach'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def column(self, header: str) -> list[str]:
        i = self.headers.index(header)
        return [r[i] for r in self.rows]


def _pod(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    containers = spec.get("containers") or []
    cstat = status.get("containerStatuses") or []
    ready = sum(1 for c in cstat if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cstat)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for c in cstat:
        waiting = (c.get("state") or {}).get("waiting") or {}
        terminated = (c.get("state") or {}).get("terminated") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated.get("reason"):
            reason = terminated["reason"]
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    row = [f"{ready}/{len(containers)}", reason, str(restarts), _age(o, now)]
    if wide:
        gates = spec.get("readinessGates") or []
        row += [
            status.get("podIP") or NONE,
            spec.get("nodeName") or NONE,
            status.get("nominatedNodeName") or NONE,
            NONE if not gates else f"0/{len(gates)}",
        ]
    return row


def _node(o: dict[str, Any], now: int, wide: bool) -> Row:
    status, spec = o.get("status") or {}, o.get("spec") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    # printNode: Ready when the condition is True, NotReady for False and Unknown alike, and
    # Unknown only when the node has no Ready condition at all
    state = "Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (o.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo") or {}
    row = [state, ",".join(roles) or NONE, _age(o, now), info.get("kubeletVersion", "")]
    if wide:
        addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        row += [
            addrs.get("InternalIP") or NONE,
            addrs.get("ExternalIP") or NONE,
            info.get("osImage", ""),
            info.get("kernelVersion", ""),
            info.get("containerRuntimeVersion", ""),
        ]
    return row


def _selector_text(sel: dict[str, Any] | None) -> str:
    if not sel:
        return NONE
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, vals = e.get("operator"), ",".join(e.get("values") or [])
        if op == "In":
            parts.append(f"{e.get('key')} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{e.get('key')} notin ({vals})")
        elif op == "Exists":
            parts.append(str(e.get("key")))
        else:
            parts.append(f"!{e.get('key')}")
    return ",".join(parts) or NONE


def _containers(o: dict[str, Any]) -> list[str]:
    spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
    cs = spec.get("containers") or []
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)]


def _deployment(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    row = [
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        str(st.get("updatedReplicas", 0)),
        str(st.get("availableReplicas", 0)),
        _age(o, now),
    ]
    if wide:
        row += [*_containers(o), _selector_text(spec.get("selector"))]
    return row


def _replicaset(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    row = [
        str(spec.get("replicas", 0)),
        str(st.get("replicas", 0)),
        str(st.get("readyReplicas", 0)),
        _age(o, now),
    ]
    if wide:
        row += [*_containers(o), _selector_text(spec.get("selector"))]
    return row


def _daemonset(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    node_sel = ",".join(f"{k}={v}" for k, v in sorted((tspec.get("nodeSelector") or {}).items()))
    row = [
        str(st.get(k, 0))
        for k in (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        )
    ] + [node_sel or NONE, _age(o, now)]
    if wide:
        row += [*_containers(o), _selector_text(spec.get("selector"))]
    return row


def _service(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec = o.get("spec") or {}
    ingress = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if not external:
        external = spec.get("externalName") or ",".join(spec.get("externalIPs") or [])
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else NONE
    ports = []
    for p in spec.get("ports") or []:
        node_port = f":{p['nodePort']}" if p.get("nodePort") else ""
        ports.append(f"{p.get('port')}{node_port}/{p.get('protocol', 'TCP')}")
    row = [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or NONE,
        external,
        ",".join(ports) or NONE,
        _age(o, now),
    ]
    if wide:
        sel = spec.get("selector") or {}
        row.append(",".join(f"{k}={v}" for k, v in sorted(sel.items())) or NONE)
    return row


def _namespace(o: dict[str, Any], now: int, wide: bool) -> Row:
    return [(o.get("status") or {}).get("phase", "Active"), _age(o, now)]


def _configmap(o: dict[str, Any], now: int, wide: bool) -> Row:
    return [str(len(o.get("data") or {}) + len(o.get("binaryData") or {})), _age(o, now)]


def _secret(o: dict[str, Any], now: int, wide: bool) -> Row:
    n = len(o.get("data") or {}) + len(o.get("stringData") or {})
    return [o.get("type", "Opaque"), str(n), _age(o, now)]


def _event(o: dict[str, Any], now: int, wide: bool) -> Row:
    inv = o.get("involvedObject") or {}
    last = (
        o.get("lastTimestamp")
        or o.get("eventTime")
        or (o.get("metadata") or {}).get("creationTimestamp")
    )
    return [
        _age(o, now, last),
        o.get("type", ""),
        o.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        o.get("message", ""),
    ]


def _hpa(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec = o.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    targets = []
    current = {
        (m.get("resource") or {}).get("name"): m
        for m in (o.get("status") or {}).get("currentMetrics") or []
    }
    for m in spec.get("metrics") or []:
        res = m.get("resource") or {}
        want = (res.get("target") or {}).get("averageUtilization")
        have = ((current.get(res.get("name")) or {}).get("resource") or {}).get("current") or {}
        got = have.get("averageUtilization")
        name = res.get("name", "")
        targets.append(f"{name}: {'<unknown>' if got is None else f'{got}%'}/{want}%")
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        ", ".join(targets) or NONE,
        str(spec.get("minReplicas", 1)),
        str(spec.get("maxReplicas", "")),
        str((o.get("status") or {}).get("currentReplicas", 0)),
        _age(o, now),
    ]


def _pdb(o: dict[str, Any], now: int, wide: bool) -> Row:
    spec = o.get("spec") or {}
    return [
        str(spec.get("minAvailable", "N/A")),
        str(spec.get("maxUnavailable", "N/A")),
        str((o.get("status") or {}).get("disruptionsAllowed", 0)),
        _age(o, now),
    ]


def _lease(o: dict[str, Any], now: int, wide: bool) -> Row:
    return [(o.get("spec") or {}).get("holderIdentity", ""), _age(o, now)]


def _default(o: dict[str, Any], now: int, wide: bool) -> Row:
    return [_age(o, now)]


Printer = Callable[[dict[str, Any], int, bool], Row]
# kind -> (headers, wide-only headers, row builder); NAME is always first.
PRINTERS: dict[str, tuple[list[str], list[str], Printer]] = {
    "Pod": (
        ["READY", "STATUS", "RESTARTS", "AGE"],
        ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        _pod,
    ),
    "Node": (
        ["STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        _node,
    ),
    "Deployment": (
        ["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _deployment,
    ),
    "ReplicaSet": (
        ["DESIRED", "CURRENT", "READY", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _replicaset,
    ),
    "DaemonSet": (
        ["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _daemonset,
    ),
    "Service": (["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"], _service),
    "Namespace": (["STATUS", "AGE"], [], _namespace),
    "ConfigMap": (["DATA", "AGE"], [], _configmap),
    "Secret": (["TYPE", "DATA", "AGE"], [], _secret),
    "HorizontalPodAutoscaler": (
        ["REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
        [],
        _hpa,
    ),
    "PodDisruptionBudget": (
        ["MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"],
        [],
        _pdb,
    ),
    "Lease": (["HOLDER", "AGE"], [], _lease),
}


def table(
    objs: list[dict[str, Any]],
    kind: str,
    now_ns: int,
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    namespace: str | None = None,
    prefix: bool = False,
) -> Table:
    """The table `kubectl get <kind>` prints for `objs`, as of Unix time `now_ns`.

    `prefix` writes names as `deployment.apps/web`, as kubectl does when several kinds are asked.
    """
    if kind == "Event":
        headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        rows = [_event(o, now_ns, wide) for o in objs]
    else:
        cols, wide_cols, fn = PRINTERS.get(kind, (["AGE"], [], _default))
        headers = ["NAME", *cols, *(wide_cols if wide else [])]
        info = KINDS.get(kind)
        rows = []
        for o in objs:
            name = (o.get("metadata") or {}).get("name", "")
            if prefix and info is not None:
                name = f"{info.type_name}/{name}"
            rows.append([name, *fn(o, now_ns, wide)])
    if all_namespaces and KINDS.get(kind) is not None and KINDS[kind].namespaced:
        headers = ["NAMESPACE", *headers]
        rows = [
            [(o.get("metadata") or {}).get("namespace", ""), *r]
            for o, r in zip(objs, rows, strict=True)
        ]
    if all_namespaces or not (KINDS.get(kind) and KINDS[kind].namespaced):
        empty = "No resources found"
    else:
        empty = f"No resources found in {namespace or 'default'} namespace."
    return Table(headers, rows, empty)
