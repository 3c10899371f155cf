"""The HorizontalPodAutoscaler controller as a host around the pure `hpa` and `replica_calculator`.

Semantics: pkg/controller/podautoscaler/horizontal.go (every HPA key processed once per
--horizontal-pod-autoscaler-sync-period, reconcileAutoscaler, computeReplicasForMetrics, the
scale read and write, setStatus / updateStatusIfNeeded and the events it records) and
metrics/interfaces.go (MetricsClient.GetResourceMetric). Resource and ContainerResource
metrics are served; other metric types are reported as invalid metrics.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from ..api.kinds import KINDS
from ..api.quantity import Quantity
from ..api.rest import object_path
from ._util import format_time, labels, meta, name, selector_matches, spec
from .base import Call, Controller, ControllerContext, Outcome, Sync, error_text, key_of
from .hpa import (
    DOWNSCALE_STABILIZATION_WINDOW,
    SYNC_PERIOD,
    ScaleEvent,
    TimestampedRecommendation,
    desired_replicas,
    set_condition,
    store_scale_event,
)
from .replica_calculator import (
    DEFAULT_TOLERANCE,
    PodMetric,
    ReplicaCalculationError,
    plain_metric_replicas,
    replica_calculation,
)

HPAS, PODS = KINDS["HorizontalPodAutoscaler"], KINDS["Pod"]
#: Kinds whose scale subresource the controller can use: (group, kind) → KindInfo.
SCALABLE = {(KINDS[k].group, k): KINDS[k] for k in ("Deployment", "ReplicaSet", "StatefulSet")}
NO_METRICS_API = (
    "unable to fetch metrics from resource metrics API: the server could not find the "
    "requested resource (get pods.metrics.k8s.io)"
)


class MetricsError(Exception):
    """A metrics client could not answer; the message is what the metrics API said."""


class MetricsClient(Protocol):
    """Upstream's MetricsClient, resource metrics only (what metrics-server serves).

    `get_resource_metric` returns each selected pod's usage of `resource` in milli-units
    (summed over its containers, or `container` alone when named; a pod missing a container's
    sample is left out), each as a PodMetric with its timestamp (seconds since the Unix epoch)
    and window, plus the timestamp of the answer. It raises MetricsError when it cannot answer.
    """

    def get_resource_metric(
        self,
        resource: str,
        namespace: str,
        selector: Mapping[str, Any],
        container: str = "",
    ) -> tuple[dict[str, PodMetric], float]: ...


def _milli_text(milli: int) -> str:
    """resource.NewMilliQuantity(m, DecimalSI).String(): `500m`, `1500m`, `1`."""
    return str(Quantity(f"{milli}m"))


class MetricFailure(Exception):
    """One metric could not be computed: `reason` is the condition reason upstream uses."""

    def __init__(self, reason: str, message: str, full: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.full = full or message  # the text FailedComputeMetricsReplicas quotes


class HorizontalController(Controller):
    """Every 15 s, for each HPA: read the target's scale, ask the metrics client, compute the
    replicas each metric proposes, stabilize and limit them (hpa.desired_replicas), write
    spec.replicas of the target if it changes, and PUT the HPA status when it changed.

    The stabilization history and the scale events live in this process's memory, as upstream:
    a restarted controller manager forgets them. `metrics_client` is set by the manager.
    """

    name = "horizontal-pod-autoscaler-controller"
    workers = 5  # --concurrent-horizontal-pod-autoscaler-syncs
    sync_period = SYNC_PERIOD
    downscale_stabilization_window = DOWNSCALE_STABILIZATION_WINDOW
    tolerance = DEFAULT_TOLERANCE

    def __init__(self, ctx: ControllerContext, metrics_client: MetricsClient | None = None) -> None:
        super().__init__(ctx)
        self.metrics_client = metrics_client
        self.hpas = self.informer(HPAS)
        self.pods = self.informer(PODS)
        self.recommendations: dict[str, list[TimestampedRecommendation]] = {}
        self.scale_up_events: dict[str, list[ScaleEvent]] = {}
        self.scale_down_events: dict[str, list[ScaleEvent]] = {}
        self.hpas.add_handlers(
            on_add=self._enqueue,
            on_update=lambda old, new: self._enqueue(new),
            on_delete=self._deleted,
        )

    def _enqueue(self, hpa: Mapping[str, Any]) -> None:
        # upstream adds every key with the resync delay, so a new HPA is first seen 15 s later
        self.enqueue_after(key_of(hpa), self.sync_period)

    def _deleted(self, hpa: Mapping[str, Any]) -> None:
        self._forget(key_of(hpa))

    def _forget(self, key: str) -> None:
        for memory in (self.recommendations, self.scale_up_events, self.scale_down_events):
            memory.pop(key, None)

    # -- one sync ------------------------------------------------------------------------------
    def sync(self, key: str) -> Sync:
        cached = self.hpas.get(key)
        if cached is None:
            self._forget(key)
            return None
        hpa = copy.deepcopy(dict(cached))
        original = copy.deepcopy(hpa.get("status") or {})
        error = yield from self._reconcile(key, hpa)
        yield from self._update_status_if_needed(hpa, original)
        return Outcome(error=error, requeue_after=self.sync_period)

    def _reconcile(self, key: str, hpa: dict[str, Any]) -> Sync:
        """reconcileAutoscaler; returns the error text, or None."""
        now = self.now()
        ns = meta(hpa).get("namespace") or "default"
        ref = spec(hpa).get("scaleTargetRef") or {}
        reference = f"{ref.get('kind', '')}/{ref.get('name', '')}"
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        info = SCALABLE.get((group, str(ref.get("kind") or "")))
        hpa_status = hpa.setdefault("status", {})
        if info is None:
            err = f'no matches for kind "{ref.get("kind", "")}" in group "{group}"'
            return self._failed_get_scale(hpa, reference, err, now)
        (resp,) = yield [Call("GET", object_path(info, str(ref.get("name") or ""), ns))]
        if not resp.ok:
            return self._failed_get_scale(hpa, reference, error_text(resp), now)
        target = dict(resp.body)
        hpa_status["conditions"] = set_condition(
            hpa_status.get("conditions") or [], "AbleToScale", "True", "SucceededGetScale",
            "the HPA controller was able to get the target's current scale", now,
        )  # fmt: skip
        current = spec(target).get("replicas")
        current = 1 if current is None else int(current)
        min_replicas = spec(hpa).get("minReplicas")
        min_replicas = 1 if min_replicas is None else int(min_replicas)
        max_replicas = int(spec(hpa).get("maxReplicas") or 0)
        metric_statuses = list(hpa_status.get("currentMetrics") or [])
        proposal, metric_name = 0, ""
        if current != 0 and min_replicas <= current <= max_replicas:
            selector = spec(target).get("selector")
            if not selector:
                msg = "selector is required"
                self.recorder.event(hpa, "Warning", "SelectorRequired", msg)
                hpa_status["conditions"] = set_condition(
                    hpa_status["conditions"], "ScalingActive", "False", "InvalidSelector",
                    "the HPA target's scale is missing a selector", now,
                )  # fmt: skip
                self._set_status(hpa, current, metric_statuses, rescaled=False)
                return f"failed to compute desired number of replicas for {reference}: {msg}"
            pods = [
                p for p in self.pods.list()
                if meta(p).get("namespace") == ns and selector_matches(selector, labels(p))
            ]  # fmt: skip
            result = self._compute_replicas_for_metrics(hpa, current, selector, pods, now)
            if isinstance(result, str):
                self._set_status(hpa, current, metric_statuses, rescaled=False)
                self.recorder.event(hpa, "Warning", "FailedComputeMetricsReplicas", result)
                return (
                    f"failed to compute desired number of replicas based on listed metrics "
                    f"for {reference}: {result}"
                )
            proposal, metric_name, metric_statuses = result
        decision = desired_replicas(
            hpa, current, proposal, now,
            metric_name=metric_name or "cpu resource utilization (percentage of request)",
            recommendations=self.recommendations.get(key, ()),
            scale_up_events=self.scale_up_events.get(key, ()),
            scale_down_events=self.scale_down_events.get(key, ()),
            downscale_stabilization_window=self.downscale_stabilization_window,
        )  # fmt: skip
        self.recommendations[key] = decision.recommendations
        hpa_status["conditions"] = decision.conditions
        if decision.rescale:
            body = copy.deepcopy(target)
            body["spec"]["replicas"] = decision.replicas
            (resp,) = yield [Call("PUT", object_path(info, name(target), ns), body)]
            if not resp.ok:
                err = error_text(resp)
                self.recorder.event(hpa, "Warning", "FailedRescale",
                                    f"New size: {decision.replicas}; reason: {decision.reason}; "
                                    f"error: {err}")  # fmt: skip
                hpa_status["conditions"] = set_condition(
                    hpa_status["conditions"], "AbleToScale", "False", "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {err}", now,
                )  # fmt: skip
                self._set_status(hpa, current, metric_statuses, rescaled=False)
                return f"failed to rescale {reference}: {err}"
            hpa_status["conditions"] = set_condition(
                hpa_status["conditions"], "AbleToScale", "True", "SucceededRescale",
                f"the HPA controller was able to update the target scale to {decision.replicas}",
                now,
            )  # fmt: skip
            self.recorder.event(hpa, "Normal", "SuccessfulRescale",
                                f"New size: {decision.replicas}; reason: {decision.reason}")  # fmt: skip
            up, down = store_scale_event(
                spec(hpa).get("behavior"), self.scale_up_events.get(key, ()),
                self.scale_down_events.get(key, ()), current, decision.replicas, now,
            )  # fmt: skip
            self.scale_up_events[key], self.scale_down_events[key] = up, down
            self.trace.emit(self.name, "rescale", hpa=key, target=reference,
                            old=current, new=decision.replicas, reason=decision.reason)  # fmt: skip
        self._set_status(
            hpa, current, metric_statuses, rescaled=decision.rescale,
            desired=decision.replicas if decision.rescale else current, now=now,
        )  # fmt: skip
        return None

    def _failed_get_scale(self, hpa: dict, reference: str, err: str, now: float) -> str:
        self.recorder.event(hpa, "Warning", "FailedGetScale", err)
        hpa["status"]["conditions"] = set_condition(
            hpa["status"].get("conditions") or [], "AbleToScale", "False", "FailedGetScale",
            f"the HPA controller was unable to get the target's current scale: {err}", now,
        )  # fmt: skip
        return f"failed to query scale subresource for {reference}: {err}"

    @staticmethod
    def _set_status(
        hpa: dict[str, Any],
        current: int,
        metric_statuses: list[dict],
        *,
        rescaled: bool,
        desired: int | None = None,
        now: float = 0.0,
    ) -> None:
        """setStatus: a failed sync keeps the desired replicas and metrics it had."""
        old = hpa.get("status") or {}
        new: dict[str, Any] = {"currentReplicas": current}
        new["desiredReplicas"] = (
            int(old.get("desiredReplicas") or 0) if desired is None else desired
        )
        if old.get("lastScaleTime"):
            new["lastScaleTime"] = old["lastScaleTime"]
        if rescaled:
            new["lastScaleTime"] = format_time(now)
        if metric_statuses:
            new["currentMetrics"] = metric_statuses
        new["conditions"] = old.get("conditions") or []
        hpa["status"] = new

    def _update_status_if_needed(self, hpa: dict[str, Any], original: Mapping[str, Any]) -> Sync:
        if hpa.get("status") == original:
            return None
        path = object_path(HPAS, name(hpa), meta(hpa).get("namespace"), "status")
        (resp,) = yield [Call("PUT", path, hpa)]
        if not resp.ok:
            self.recorder.event(hpa, "Warning", "FailedUpdateStatus", error_text(resp))
        return None

    # -- metrics -------------------------------------------------------------------------------
    def _compute_replicas_for_metrics(
        self,
        hpa: dict[str, Any],
        current: int,
        selector: Mapping[str, Any],
        pods: list[Mapping[str, Any]],
        now: float,
    ) -> tuple[int, str, list[dict]] | str:
        """(largest proposal, its metric's name, metric statuses), or the error text."""
        metric_specs = list(spec(hpa).get("metrics") or ())
        if not metric_specs and spec(hpa).get("targetCPUUtilizationPercentage") is not None:
            target = int(spec(hpa)["targetCPUUtilizationPercentage"])
            metric_specs = [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": target}}}]  # fmt: skip
        if not metric_specs:  # autoscaling/v2 defaulting: 80 % of the cpu request
            metric_specs = [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 80}}}]  # fmt: skip
        replicas, metric, statuses = 0, "", []
        invalid: list[MetricFailure] = []
        ns = meta(hpa).get("namespace") or "default"
        for metric_spec in metric_specs:
            try:
                proposal, proposal_name, metric_status = self._one_metric(
                    metric_spec, ns, current, selector, pods, now
                )
            except (AttributeError, TypeError, ValueError, KeyError) as err:  # malformed source
                kind = metric_spec.get("type") if isinstance(metric_spec, Mapping) else ""
                failure = MetricFailure(
                    f"FailedGet{kind or ''}Metric",
                    f"invalid metric source: {err}",
                )
                self.recorder.event(hpa, "Warning", failure.reason, str(failure))
                invalid.append(failure)
                continue
            except MetricFailure as failure:
                self.recorder.event(hpa, "Warning", failure.reason, str(failure))
                invalid.append(failure)
                continue
            statuses.append(metric_status)
            if not metric or proposal > replicas:
                replicas, metric = proposal, proposal_name
        conditions = hpa["status"].get("conditions") or []
        if invalid and (len(invalid) >= len(metric_specs) or replicas < current):
            first = invalid[0]
            hpa["status"]["conditions"] = set_condition(
                conditions, "ScalingActive", "False", first.reason,
                f"the HPA was unable to compute the replica count: {first}", now,
            )  # fmt: skip
            return (
                f"invalid metrics ({len(invalid)} invalid out of {len(metric_specs)}), "
                f"first error is: {first.full}"
            )
        return replicas, metric, statuses

    def _one_metric(
        self,
        metric_spec: Mapping[str, Any],
        namespace: str,
        current: int,
        selector: Mapping[str, Any],
        pods: list[Mapping[str, Any]],
        now: float,
    ) -> tuple[int, str, dict]:
        kind = metric_spec.get("type")
        if kind not in ("Resource", "ContainerResource"):
            raise MetricFailure(
                f"FailedGet{kind}Metric",
                f"unknown metric source type {kind!r} (this simulation serves Resource metrics)",
            )
        source = metric_spec.get("resource" if kind == "Resource" else "containerResource") or {}
        resource = str(source.get("name") or "")
        container = str(source.get("container") or "") if kind == "ContainerResource" else ""
        target = source.get("target") or {}
        reason = f"FailedGet{kind}Metric"
        try:
            samples, timestamp = self._fetch(resource, namespace, selector, container)
        except MetricsError as err:
            what = "utilization" if target.get("averageUtilization") is not None else "usage"
            text = f"unable to get metrics for resource {resource}: {err}"
            raise _wrapped(reason, resource, text, what) from None
        if target.get("averageUtilization") is not None:
            try:
                calc = replica_calculation(
                    current, int(target["averageUtilization"]), pods, samples, now=now,
                    resource=resource, container=container, tolerance=self.tolerance,
                    timestamp=timestamp,
                )  # fmt: skip
            except ReplicaCalculationError as err:
                raise _wrapped(reason, resource, str(err), "utilization") from None
            current_value = {"averageValue": _milli_text(calc.raw_utilization),
                             "averageUtilization": calc.utilization}  # fmt: skip
            proposal = calc.replicas
            metric_name = f"{resource} resource utilization (percentage of request)"
        elif target.get("averageValue") is not None:
            milli = Quantity(target["averageValue"]).milli_value()
            try:
                proposal, usage = plain_metric_replicas(
                    current, milli, pods, samples, now=now, resource=resource,
                    tolerance=self.tolerance,
                )  # fmt: skip
            except ReplicaCalculationError as err:
                raise _wrapped(reason, resource, str(err), "usage") from None
            current_value = {"averageValue": _milli_text(usage)}
            metric_name = f"{resource} resource"
        else:
            raise MetricFailure(
                reason,
                "invalid resource metric source: neither a utilization target nor a value "
                "target was set",
            )
        body: dict[str, Any] = {"name": resource, "current": current_value}
        if container:
            body["container"] = container
        key = "resource" if kind == "Resource" else "containerResource"
        return proposal, metric_name, {"type": kind, key: body}

    def _fetch(
        self, resource: str, namespace: str, selector: Mapping[str, Any], container: str
    ) -> tuple[dict[str, PodMetric], float | None]:
        if self.metrics_client is None:
            raise MetricsError(NO_METRICS_API)
        try:
            samples, timestamp = self.metrics_client.get_resource_metric(
                resource, namespace, selector, container
            )
            answer = {
                str(pod_name): m if isinstance(m, PodMetric) else PodMetric(int(m))
                for pod_name, m in dict(samples).items()
            }
            return answer, None if timestamp is None else float(timestamp)
        except MetricsError:
            raise
        except Exception as err:  # a learner's client: report it as the metrics API would
            raise MetricsError(f"{type(err).__name__}: {err}") from err


def _wrapped(reason: str, resource: str, err: str, what: str) -> MetricFailure:
    """The errors upstream nests: `failed to get cpu utilization: <err>` for the condition and
    event, `failed to get cpu resource metric value: ...` for FailedComputeMetricsReplicas."""
    message = f"failed to get {resource} {what}: {err}"
    return MetricFailure(
        reason, message, f"failed to get {resource} resource metric value: {message}"
    )


__all__ = [
    "SCALABLE",
    "HorizontalController",
    "MetricsClient",
    "MetricsError",
]
