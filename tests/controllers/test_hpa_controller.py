"""The horizontal-pod-autoscaler-controller in a ControllerManager against a real API server: a
fake metrics API, a fake kubelet that starts every pod, and upstream's texts in status and events."""

from __future__ import annotations

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.controllers.hpa_controller import MetricsError
from kube_teach.controllers.replica_calculator import PodMetric

from .test_hosts import EPOCH, World

PODS, DEPLOYS, HPAS = KINDS["Pod"], KINDS["Deployment"], KINDS["HorizontalPodAutoscaler"]
STARTED = "2024-12-31T23:50:00Z"  # long before t=0: past the 5-minute cpu initialization period


class FakeMetrics:
    """metrics-server over the test's store: every running pod of the selector uses `cpu`
    millicores, or `total` millicores shared evenly by them (a load balanced over the pods)."""

    def __init__(self, world: World, cpu: int = 0, total: int | None = None) -> None:
        self.world, self.cpu, self.total = world, cpu, total
        self.calls = 0
        self.fail: str | None = None

    def get_resource_metric(self, resource, namespace, selector, container=""):
        self.calls += 1
        if self.fail:
            raise MetricsError(self.fail)
        wanted = selector["matchLabels"]
        pods = [p for p in self.world.store.list(PODS, namespace)
                if all(p.labels.get(k) == v for k, v in wanted.items())
                and p.status.get("phase") == "Running"]  # fmt: skip
        now = EPOCH / 1e9 + self.world.clock.now
        each = self.cpu if self.total is None else self.total // max(len(pods), 1)
        return {p.name: PodMetric(each, now, 15.0) for p in pods}, now


class HPAWorld(World):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.clock.every(1, self.kubelet)

    def kubelet(self) -> None:
        """Start every pending pod at once: Running and Ready since long ago."""
        for pod in self.store.list(PODS, "default"):
            if pod.status.get("phase") != "Running" and not pod.metadata.get("deletionTimestamp"):
                pod["status"] = {"phase": "Running", "startTime": STARTED, "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": STARTED}]}  # fmt: skip
                self.store.update(pod, subresource="status")

    def replicas(self) -> int:
        return self.store.get(DEPLOYS, "web", "default")["spec"]["replicas"]

    def hpa(self):
        return self.store.get(HPAS, "web", "default")

    def condition(self, kind: str) -> tuple[str, str, str]:
        (c,) = [c for c in self.hpa()["status"]["conditions"] if c["type"] == kind]
        return c["status"], c["reason"], c["message"]


def deployment(replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                         {"name": "web", "image": "nginx:1.27",
                          "resources": {"requests": {"cpu": "100m"}}}]}}}}  # fmt: skip


def hpa(target: int = 50, min_replicas: int = 1, max_replicas: int = 10, **spec) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": target}}}], **spec}}  # fmt: skip


def world(cpu: int = 0, total: int | None = None, replicas: int = 1, **hpa_spec):
    w = HPAWorld()
    metrics = FakeMetrics(w, cpu, total)
    w.kcm.metrics_client = metrics
    w.store.create(deployment(replicas))
    w.run(5)
    w.store.create(hpa(**hpa_spec))
    return w, metrics


def messages(w: World, reason: str) -> list[str]:
    return [e["message"] for e in w.events(reason)]


def test_a_busy_deployment_is_scaled_up_at_the_first_sync_with_upstreams_event_and_status():
    w, metrics = world(cpu=200)  # 200 % of the 100m request against a 50 % target
    w.run(14)
    assert metrics.calls == 0 and w.replicas() == 1  # new HPAs wait one sync period
    w.run(2)
    assert w.replicas() == 4  # ceil(4.0 × 1) = 4, and the legacy limit max(2 × 1, 4) = 4
    assert messages(w, "SuccessfulRescale") == [
        "New size: 4; reason: cpu resource utilization (percentage of request) above target"
    ]
    status = w.hpa()["status"]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (1, 4)
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageValue": "200m", "averageUtilization": 200}}}]  # fmt: skip
    assert status["lastScaleTime"] == "2025-01-01T00:00:20Z"
    assert w.condition("AbleToScale") == (
        "True",
        "SucceededRescale",
        "the HPA controller was able to update the target scale to 4",
    )
    assert w.condition("ScalingActive") == (
        "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count "
        "from cpu resource utilization (percentage of request)")  # fmt: skip
    assert w.condition("ScalingLimited") == (
        "False",
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )


def test_without_behavior_each_sync_at_most_doubles_and_the_next_one_comes_15_s_later():
    w, _ = world(cpu=1000, max_replicas=20)  # 1000 % asks for 20 × the replicas
    w.run(1)
    sizes = []
    for _ in range(4):
        w.run(15)
        sizes.append(w.replicas())
    assert sizes == [4, 8, 16, 20]
    assert w.condition("ScalingLimited")[:2] == ("True", "TooManyReplicas")
    assert [m.split(";")[0] for m in messages(w, "SuccessfulRescale")] == [
        "New size: 4", "New size: 8", "New size: 16", "New size: 20"]  # fmt: skip


def test_within_the_tolerance_nothing_changes():
    w, _ = world(cpu=54, replicas=2)  # 54 % of a 50 % target: ratio 1.08, inside 0.1
    w.run(61)
    assert w.replicas() == 2 and messages(w, "SuccessfulRescale") == []
    assert w.condition("AbleToScale") == (
        "True",
        "ReadyForNewScale",
        "recommended size matches current size",
    )
    assert w.hpa()["status"]["desiredReplicas"] == 2


def test_scale_down_waits_for_the_5_minute_stabilization_window():
    w, metrics = world(total=400, replicas=4)  # 100m a pod: 100 % of request, target 50 %
    w.run(16)
    assert w.replicas() == 8
    metrics.total = 80  # 10m a pod now: 10 % → 2 replicas wanted
    w.run(15 * 19)  # recommendations of 8 are still within 300 s
    assert w.replicas() == 8
    assert w.condition("AbleToScale")[1] == "ScaleDownStabilized"
    w.run(30)
    assert w.replicas() == 2
    assert messages(w, "SuccessfulRescale")[-1] == "New size: 2; reason: All metrics below target"


def test_a_behavior_limits_scale_up_to_its_policy():
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    w, _ = world(cpu=1000, behavior=behavior)
    w.run(16)
    assert w.replicas() == 2
    assert w.condition("ScalingLimited")[:2] == ("True", "ScaleUpLimit")
    w.run(45)  # still inside the 60 s period of the first step
    assert w.replicas() == 2
    w.run(16)
    assert w.replicas() == 3


def test_without_a_metrics_api_the_hpa_says_so_and_keeps_the_replicas():
    w, _ = world()
    w.kcm.metrics_client = None
    w.run(16)
    assert w.replicas() == 1
    cause = ("unable to get metrics for resource cpu: unable to fetch metrics from resource "
             "metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")  # fmt: skip
    assert messages(w, "FailedGetResourceMetric") == [f"failed to get cpu utilization: {cause}"]
    assert messages(w, "FailedComputeMetricsReplicas") == [
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric "
        f"value: failed to get cpu utilization: {cause}"]  # fmt: skip
    assert w.condition("ScalingActive") == (
        "False", "FailedGetResourceMetric",
        f"the HPA was unable to compute the replica count: failed to get cpu utilization: {cause}")  # fmt: skip
    assert w.hpa()["status"]["currentReplicas"] == 1


def test_a_failing_metrics_client_is_reported_not_raised():
    w, metrics = world(cpu=200)
    metrics.fail = "connection refused"
    w.run(16)
    assert w.replicas() == 1
    assert messages(w, "FailedGetResourceMetric") == [
        "failed to get cpu utilization: unable to get metrics for resource cpu: connection refused"
    ]


class Broken:
    def __init__(self, answer):
        self.answer = answer

    def get_resource_metric(self, resource, namespace, selector, container=""):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        pytest.param(RuntimeError("boom"), "RuntimeError: boom", id="a client that crashes"),
        pytest.param(None, "TypeError: cannot unpack non-iterable NoneType object", id="no answer"),
        pytest.param(({"web-x": "lots"}, 0.0), "ValueError: invalid literal for int()",
                     id="a value that is not a number"),
    ],
)  # fmt: skip
def test_a_misbehaving_metrics_client_is_reported_and_the_controller_goes_on(answer, says):
    w, _ = world(cpu=200)
    w.kcm.metrics_client = Broken(answer)
    w.run(16)
    (message,) = messages(w, "FailedGetResourceMetric")
    assert message.startswith(
        "failed to get cpu utilization: unable to get metrics for resource cpu: "
    )
    assert says in message
    w.kcm.metrics_client = FakeMetrics(w, cpu=200)  # metrics-server is back
    w.run(15)
    assert w.replicas() == 4


def test_an_average_value_target_compares_raw_usage():
    w, _ = world(cpu=200)
    hpa_obj = w.hpa()
    hpa_obj["spec"]["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "AverageValue", "averageValue": "100m"}}}]  # fmt: skip
    w.store.update(hpa_obj)
    w.run(16)
    assert w.replicas() == 2  # 200m a pod against 100m: twice the pods
    assert messages(w, "SuccessfulRescale") == ["New size: 2; reason: cpu resource above target"]
    assert w.hpa()["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "200m"}}}
    ]


def test_the_manager_hands_its_metrics_client_to_the_hpa_controller():
    w = HPAWorld(metrics_client="placeholder")
    w.run(1)
    assert w.kcm.controllers["horizontal-pod-autoscaler-controller"].metrics_client == "placeholder"
    w.kcm.metrics_client = None
    assert w.kcm.controllers["horizontal-pod-autoscaler-controller"].metrics_client is None


def test_a_container_without_a_cpu_request_stops_the_hpa_in_upstreams_words():
    w = HPAWorld()
    w.kcm.metrics_client = FakeMetrics(w, cpu=50)
    deploy = deployment()
    del deploy["spec"]["template"]["spec"]["containers"][0]["resources"]
    w.store.create(deploy)
    w.run(5)
    w.store.create(hpa())
    w.run(16)
    (pod,) = w.pods()
    assert w.condition("ScalingActive") == (
        "False", "FailedGetResourceMetric", "the HPA was unable to compute the replica count: "
        f"failed to get cpu utilization: missing request for cpu in container web of Pod {pod.name}")  # fmt: skip


def test_a_missing_target_is_a_failed_get_scale():
    w = HPAWorld()
    w.kcm.metrics_client = FakeMetrics(w, cpu=50)
    w.store.create(hpa())
    w.run(16)
    assert messages(w, "FailedGetScale") == ['deployments.apps "web" not found']
    assert w.condition("AbleToScale") == (
        "False", "FailedGetScale",
        "the HPA controller was unable to get the target's current scale: "
        'deployments.apps "web" not found')  # fmt: skip


@pytest.mark.parametrize(
    ("replicas", "want", "reason"),
    [
        pytest.param(12, 10, "Current number of replicas above Spec.MaxReplicas", id="above max"),
        pytest.param(1, 2, "Current number of replicas below Spec.MinReplicas", id="below min"),
    ],
)
def test_a_target_outside_min_and_max_is_brought_back_without_metrics(replicas, want, reason):
    w, metrics = world(cpu=50, replicas=replicas, min_replicas=2)
    w.run(16)
    assert w.replicas() == want and metrics.calls == 0
    assert messages(w, "SuccessfulRescale") == [f"New size: {want}; reason: {reason}"]


def test_a_target_at_zero_replicas_disables_scaling():
    w, _ = world(cpu=500, replicas=0)
    w.run(16)
    assert w.replicas() == 0
    assert w.condition("ScalingActive") == (
        "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")  # fmt: skip


def test_in_a_whole_cluster_the_hpa_follows_a_shared_load():
    """SharedLoadMetrics over a Cluster: 1200m over 250m requests at 50 % needs 10 pods."""
    from kube_teach import Cluster
    from kube_teach.controllers.hpa_controller_metrics import SharedLoadMetrics

    c = Cluster(nodes=3, seed=3)
    epoch = c.store.epoch_ns / 1e9
    deploy = deployment(3)
    deploy["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "250m"
    c.apply(deploy)
    c.run(60)
    c.controller_manager.metrics_client = SharedLoadMetrics(
        1200,
        list_pods=lambda ns, labels: c.list("pods", ns, selector=labels),
        now=lambda: epoch + c.now,
    )
    c.apply(hpa())
    c.run(16)
    assert c.get("deployment", "web")["spec"]["replicas"] == 6  # 160 %: 10 wanted, 2 × 3 allowed
    c.run(15)
    assert c.get("deployment", "web")["spec"]["replicas"] == 10
    c.controller_manager.metrics_client.load = 200
    c.run(285)  # proposals of 10 are still inside the 5-minute window
    assert c.get("deployment", "web")["spec"]["replicas"] == 10
    c.run(30)
    assert c.get("deployment", "web")["spec"]["replicas"] == 2  # 20m a pod: 8 % of 250m
