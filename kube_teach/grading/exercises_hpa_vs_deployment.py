"""Chapter 11's scenario and exercises: `kubectl apply` and the HPA fight over `spec.replicas`.

The manifests are the article's (a Deployment with `replicas: 3`, an autoscaling/v2 HPA at 50 %
CPU, 1 to 10 replicas). The load is the library's SharedLoadMetrics: a CPU load that a Service
spreads over the Ready pods, served to the HPA as the resource metrics API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.objects import ManifestError, load
from ..api.validation import validate
from ..controllers.hpa_controller_metrics import SharedLoadMetrics
from .check import register
from .exercises import _call, _graded

APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 3
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: app
        image: web-app:v1
        resources:
          requests:
            cpu: 250m
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: app-hpa
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: app
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
"""

#: Record who writes Deployments (and their scale), at Metadata level; nothing else.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources:
  - group: apps
    resources: [deployments, deployments/scale]
  verbs: [create, update, patch]
- level: None
"""


def shared_load(cluster: Any, millicores: float) -> SharedLoadMetrics:
    """Serve the HPA a steady `millicores` of CPU spread over the Ready pods of the selector
    (plus a few millicores each at rest), in place of the cluster's metrics-server."""
    epoch = cluster.store.epoch_ns / 1e9
    metrics = SharedLoadMetrics(
        millicores,
        list_pods=lambda ns, labels: cluster.list("pods", ns, selector=labels),
        now=lambda: epoch + cluster.now,
        start=epoch + cluster.now,
    )
    cluster.controller_manager.metrics_client = metrics
    return metrics


# -- exercise 1: what client-side apply does to spec.replicas ----------------------------------
_MISSING = object()


def replicas_after_apply(last_applied: int | None, manifest: int | None, live: int) -> int:
    """spec.replicas after a client-side `kubectl apply` (three-way merge), then defaulting:
    the manifest's value if it has one; else, if the last applied configuration had one, the
    field is deleted and the API server defaults it to 1; else the live value stays."""
    if manifest is not None:
        return manifest
    if last_applied is not None:
        return 1
    return live


_APPLY_CASES: list[tuple[int | None, int | None, int, str]] = [
    (3, 3, 7, "the pipeline re-applies replicas: 3 while the HPA had set 7"),
    (None, 3, 7, "a manifest that names replicas always sets it"),
    (3, None, 7, "the field was applied last time and is gone now: deleted, then defaulted"),
    (None, None, 7, "nobody ever applied the field: apply leaves the HPA's value"),
    (5, 8, 2, "the manifest's value wins over both others"),
    (None, None, 1, "the live value stays, whatever it is"),
    (10, None, 10, "deleting the field gives the default, not the old value"),
]


@register(
    "11-after-apply",
    hint="replace `raise NotImplementedError` in after_apply: the manifest's value if it has "
    "one; a field the last apply set and this one drops is deleted (then defaulted to 1); a "
    "field nobody applied keeps its live value.",
)
@_graded
def after_apply_exercise(after_apply: Any) -> str | None:
    """`after_apply(last_applied, manifest, live) -> int`, None meaning 'not in that object'."""
    if not callable(after_apply):
        return (
            f"pass the function itself: check('11-after-apply', after_apply), not {after_apply!r}."
        )
    for last, manifest, live, why in _APPLY_CASES:
        label = f"after_apply(last_applied={last}, manifest={manifest}, live={live})"
        got = _call(after_apply, label, last, manifest, live)
        want = replicas_after_apply(last, manifest, live)
        if not isinstance(got, int) or isinstance(got, bool):
            return f"{label} returned {got!r}; return the number of replicas."
        if got != want:
            return f"{label} returned {got}, but apply gives {want}: {why}."
    return None


# -- exercise 2: the manifest the HPA can live with --------------------------------------------
def _problem_with_manifest(text: Any) -> str | None:
    if isinstance(text, Mapping):
        objs = [dict(text)]
    elif isinstance(text, str):
        try:
            objs = [dict(o) for o in load(text)]
        except (ManifestError, ValueError) as err:
            return f"that is not a manifest kube-teach can read: {err}"
    else:
        return f"answer with the Deployment's YAML text (or a dict), not {type(text).__name__}."
    if len(objs) != 1 or objs[0].get("kind") != "Deployment":
        return "answer with exactly one object: the Deployment `app`."
    obj = objs[0]
    if (obj.get("metadata") or {}).get("name") != "app":
        return "the HPA's scaleTargetRef names the Deployment `app`: keep that name."
    checked = {**obj, "metadata": {"namespace": "default", **(obj.get("metadata") or {})}}
    errors = validate(checked)
    if errors:
        return f"the API server would refuse it: {errors[0]}"
    spec = obj.get("spec") or {}
    if "replicas" in spec:
        return "spec.replicas is still there: every apply would set it back to that number."
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    cpu = [((c.get("resources") or {}).get("requests") or {}).get("cpu") for c in containers]
    if not containers or not all(cpu):
        return (
            "keep the CPU request: the HPA's utilization is usage as a percentage of the request, "
            "and without one it cannot compute it."
        )
    return None


@register(
    "11-fixed-manifest",
    hint="the chapter's APP manifest without its `replicas: 3` line.",
)
@_graded
def fixed_manifest_exercise(text: Any) -> str | None:
    """The article's Deployment, fixed for an HPA: valid, named app, no spec.replicas, and
    every container still requests CPU."""
    return _problem_with_manifest(text)


__all__ = ["APP", "AUDIT_POLICY", "HPA", "replicas_after_apply", "shared_load"]
