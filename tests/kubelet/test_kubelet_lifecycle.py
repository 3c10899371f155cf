"""A pod's life on the kubelet host: init containers and sidecars, image pulls that fail and back
off, OOM kills and crash loops timed in simulated time, and graceful termination ending in the
kubelet's DELETE with gracePeriodSeconds=0."""

import pytest

from kube_teach.kubelet.kuberuntime import pre_stop_seconds, stop_timeline, termination_grace_period
from kube_teach.kubelet.runtime import Workload, image_exists, pull_error
from kube_teach.kubelet.status import pod_status_reason

from .world import World, make_pod

BUSYBOX = "busybox:1.36"


def statuses_over(w, seconds, step=0.25):
    """The STATUS column each time it changes, with the time it changed."""
    seen = []
    for _ in range(int(seconds / step)):
        w.clock.run(step)
        reason = pod_status_reason(w.pod("web"))
        if not seen or seen[-1][1] != reason:
            seen.append((round(w.clock.now, 2), reason))
    return seen


# -- init containers and sidecars -----------------------------------------------------------------
def test_init_containers_run_one_after_another_before_the_app():
    w = World()
    init = [{"name": "migrate", "image": BUSYBOX}, {"name": "seed", "image": BUSYBOX}]
    workload = {"migrate": {"exitAfter": 3}, "seed": {"exitAfter": 2}, "app": {}}
    w.create(make_pod(init=init, workload=workload))
    seen = statuses_over(w, 20)
    assert [r for _, r in seen] == ["Init:0/2", "Init:1/2", "PodInitializing", "Running"]
    starts = {e.fields["container"]: e.t for e in w.traced("container-started")}
    exits = {e.fields["container"]: e.t for e in w.traced("container-exited")}
    assert starts["seed"] - exits["migrate"] == pytest.approx(0.1)  # image cached, start latency
    assert starts["app"] > exits["seed"]
    status = w.pod("web")["status"]
    assert [s["name"] for s in status["initContainerStatuses"]] == ["migrate", "seed"]
    assert all(
        s["state"]["terminated"]["reason"] == "Completed" for s in status["initContainerStatuses"]
    )
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert initialized["status"] == "True"


def test_while_initializing_the_pod_is_pending_with_incomplete_init_containers():
    w = World()
    w.create(
        make_pod(init=[{"name": "wait-db", "image": BUSYBOX}], workload={"wait-db": {}, "app": {}})
    )
    w.clock.run(10)
    pod = w.pod("web")
    assert pod["status"]["phase"] == "Pending"
    initialized = next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")
    assert (initialized["status"], initialized["reason"], initialized["message"]) == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [wait-db]",
    )
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert pod_status_reason(pod) == "Init:0/1"


def test_a_sidecar_starts_before_the_app_and_keeps_running():
    w = World()
    init = [{"name": "proxy", "image": "envoyproxy/envoy:v1.31", "restartPolicy": "Always"}]
    w.create(make_pod(init=init))
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running", timeout=60)
    w.clock.run(30)
    starts = [e.fields["container"] for e in w.traced("container-started")]
    assert starts == ["proxy", "app"]
    [proxy] = w.pod("web")["status"]["initContainerStatuses"]
    assert "running" in proxy["state"] and proxy["ready"] and proxy["started"]
    assert pod_status_reason(w.pod("web")) == "Running"


@pytest.mark.parametrize(("policy", "phase", "reason"), [
    pytest.param("Never", "Failed", "Init:Error", id="under Never a failed init container fails the pod"),
    pytest.param("Always", "Pending", "Init:CrashLoopBackOff",
                 id="under Always it is restarted with back-off and the pod stays Pending"),
])  # fmt: skip
def test_a_failing_init_container(policy, phase, reason):
    w = World()
    init = [{"name": "migrate", "image": BUSYBOX}]
    w.create(
        make_pod(
            init=init,
            policy=policy,
            workload={"migrate": {"exitAfter": 1, "exitCode": 1}, "app": {}},
        )
    )
    w.clock.run(20)
    pod = w.pod("web")
    assert pod["status"]["phase"] == phase
    assert pod_status_reason(pod) == reason
    assert not [e for e in w.traced("container-started") if e.fields["container"] == "app"]


# -- image pulls --------------------------------------------------------------------------------
def test_a_missing_tag_gives_err_image_pull_then_image_pull_back_off_doubling_to_300s():
    w = World()
    w.create(make_pod(image="nginx:1.99"))
    w.clock.run(0.5)
    waiting = w.pod("web")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "ErrImagePull", "message": pull_error("nginx:1.99")}
    w.clock.run(700)
    failures = [e.t for e in w.traced("image-pull-failed")]
    gaps = [round(b - a, 1) for a, b in zip(failures, failures[1:], strict=False)]
    # each retry waits out the back-off (10 s doubling, capped at 300 s) plus the 200 ms
    # manifest lookup that fails; the pod worker checks again every 10 s
    assert gaps == [10.2, 20.2, 40.2, 80.2, 160.2, 300.2]
    waiting = w.pod("web")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff"
    assert (
        waiting["message"]
        == f'Back-off pulling image "nginx:1.99": ErrImagePull: {pull_error("nginx:1.99")}'
    )
    failed = [e["message"] for e in w.events("Failed")]
    assert failed[:2] == [
        f'Failed to pull image "nginx:1.99": {pull_error("nginx:1.99")}',
        "Error: ErrImagePull",
    ]
    assert "Error: ImagePullBackOff" in failed
    assert w.events("BackOff")[0]["message"] == 'Back-off pulling image "nginx:1.99"'


@pytest.mark.parametrize(("image", "exists"), [
    ("nginx:1.27", True), ("nginx", True), ("docker.io/library/nginx:1.25-alpine", True),
    ("nginx:1.99", False), ("nginx:lates", False), ("busybox:9", False),
    ("example.com/team/app:v7", True),  # a registry the model does not know: assumed present
])  # fmt: skip
def test_the_registry_model(image, exists):
    assert image_exists(image) is exists


def test_pull_error_text_is_containerds():
    assert pull_error("nginx:1.99") == (
        'rpc error: code = NotFound desc = failed to pull and unpack image '
        '"docker.io/library/nginx:1.99": failed to resolve reference '
        '"docker.io/library/nginx:1.99": docker.io/library/nginx:1.99: not found')  # fmt: skip


# -- OOM kills and the crash loop ---------------------------------------------------------------
def test_an_oom_killed_container_restarts_after_10_20_40_seconds():
    w = World()
    leak = {"kind": "leak", "memory": "20Mi", "leakPerSecond": "40Mi"}
    w.create(make_pod(workload=leak, resources={"limits": {"memory": "100Mi"}}))
    w.run_until(lambda: len(w.traced("container-started")) >= 5, timeout=300)
    starts = [e.t for e in w.traced("container-started")]
    kills = [e.t for e in w.traced("container-oomkilled")]
    assert [round(k - s, 3) for s, k in zip(starts, kills, strict=False)] == [
        2.0
    ] * 4  # 80Mi / 40Mi/s
    waits = [round(s - k, 1) for k, s in zip(kills, starts[1:], strict=False)]
    assert waits == [0.1, 10.1, 20.1, 40.1]  # immediate, then 10 s doubling (+ start latency)
    assert all(e.fields["exitCode"] == 137 for e in w.traced("container-oomkilled"))
    w.clock.run(2.5)
    cs = w.pod("web").status["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"].startswith(
        "back-off 1m20s restarting failed container=app"
    )


def test_the_back_off_resets_after_a_container_ran_for_10_minutes():
    w = World()
    leak = {"kind": "leak", "memory": "20Mi", "leakPerSecond": "1Mi"}  # OOM after 700 s
    w.create(make_pod(workload=leak, resources={"limits": {"memory": "720Mi"}}))
    w.run_until(lambda: len(w.traced("container-started")) >= 4, timeout=3000)
    starts = [e.t for e in w.traced("container-started")]
    kills = [e.t for e in w.traced("container-oomkilled")]
    waits = [round(s - k, 1) for k, s in zip(kills, starts[1:], strict=False)]
    assert waits == [0.1, 0.1, 0.1]  # each run outlived 2 x 5 min: no back-off carried over


# -- graceful termination -----------------------------------------------------------------------
@pytest.mark.parametrize(("grace", "pre_stop", "shutdown", "want"), [
    pytest.param(30, 0, 0, (0, 0, 143), id="exits on SIGTERM at once: 143"),
    pytest.param(30, 0, 5, (0, 5, 143), id="takes 5 s to shut down within 30: 143 after 5 s"),
    pytest.param(30, 0, 60, (0, 30, 137), id="ignores SIGTERM: SIGKILL at the deadline, 137"),
    pytest.param(30, 10, 5, (10, 15, 143), id="preStop 10 s, then SIGTERM"),
    pytest.param(30, 45, 0, (30, 30, 143), id="preStop cut at the grace period, SIGTERM after"),
    pytest.param(30, 29, 10, (29, 31, 137), id="after preStop at least 2 s remain before SIGKILL"),
    pytest.param(0, 5, 10, (0, 2, 137), id="grace 0 skips preStop; still 2 s to SIGKILL"),
])  # fmt: skip
def test_stop_timeline(grace, pre_stop, shutdown, want):
    assert stop_timeline(grace, pre_stop, shutdown) == want


def test_grace_period_and_pre_stop_sources():
    pod = {"metadata": {}, "spec": {}}
    assert termination_grace_period(pod) == 30
    assert termination_grace_period({"spec": {"terminationGracePeriodSeconds": 60}}) == 60
    deleting = {
        "metadata": {"deletionGracePeriodSeconds": 5},
        "spec": {"terminationGracePeriodSeconds": 60},
    }
    assert termination_grace_period(deleting) == 5
    assert termination_grace_period(deleting, override=1) == 1
    sleep = {"lifecycle": {"preStop": {"sleep": {"seconds": 7}}}}
    assert pre_stop_seconds(sleep, Workload()) == 7
    hook = {"lifecycle": {"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}}}
    assert pre_stop_seconds(hook, Workload(pre_stop_seconds=3)) == 3
    assert pre_stop_seconds({}, Workload(pre_stop_seconds=3)) == 0


def deletion_requests(w):
    sent = []
    client = w.kubelet.client
    original = client.request

    def spy(method, path, body=None, callback=None):
        if method == "DELETE":
            sent.append((w.clock.now, path, body))
        return original(method, path, body, callback)

    client.request = spy
    return sent


@pytest.mark.parametrize(("workload", "extra", "code", "after"), [
    pytest.param({"shutdownSeconds": 3}, {}, 143, 3.0, id="SIGTERM handled in 3 s"),
    pytest.param({"shutdownSeconds": 120}, {}, 137, 30.0, id="SIGKILL after the default 30 s"),
    pytest.param({"shutdownSeconds": 1}, {"lifecycle": {"preStop": {"sleep": {"seconds": 5}}}},
                 143, 6.0, id="a 5 s preStop sleep comes first"),
])  # fmt: skip
def test_a_deleted_pod_is_stopped_gracefully_then_deleted_with_grace_0(
    workload, extra, code, after
):
    w = World()
    w.create(make_pod(workload=workload, **extra))
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running")
    uid = w.pod("web").metadata["uid"]
    sent = deletion_requests(w)
    t0 = w.clock.now
    w.mark_deleted("web")
    w.run_until(lambda: bool(w.traced("pod-terminated")), timeout=60)
    [killed] = w.traced("container-killed")
    assert killed.fields["exitCode"] == code
    assert killed.t - t0 == pytest.approx(after, abs=0.01)  # the informer's watch lag
    w.run_until(lambda: w.pod("web").status.get("phase") != "Running", timeout=5)
    final = w.pod("web").status  # written before the DELETE is sent
    w.run_until(lambda: not w.exists("web"), timeout=5)
    [(t, path, body)] = sent
    assert path == "/api/v1/namespaces/default/pods/web?gracePeriodSeconds=0"
    assert body == {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                    "preconditions": {"uid": uid}}  # fmt: skip
    assert t >= killed.t
    assert final["phase"] == "Failed"  # a terminal phase for a deleted pod: a non-zero exit
    terminated = final["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (code, "Error")
    assert [e["message"] for e in w.events("Killing")] == ["Stopping container app"]


def test_a_pod_whose_containers_exit_0_on_sigterm_ends_succeeded():
    w = World()
    w.create(make_pod(workload={"exitAfter": 2}, policy="Never"))
    w.run_until(lambda: w.pod("web").status.get("phase") == "Succeeded", timeout=30)
    w.mark_deleted("web")
    w.run_until(lambda: not w.exists("web"), timeout=10)
    assert not w.traced("container-killed")  # nothing was running any more


def _printed(init=(), apps=(), phase="Running", deleting=False, initialized=None, sidecar=False):
    spec = {"initContainers": [{"name": f"i{n}", **({"restartPolicy": "Always"} if sidecar else {})}
                               for n in range(len(init))],
            "containers": [{"name": f"c{n}"} for n in range(len(apps))]}  # fmt: skip
    status = {"phase": phase,
              "initContainerStatuses": [{"name": f"i{n}", **s} for n, s in enumerate(init)],
              "containerStatuses": [{"name": f"c{n}", **s} for n, s in enumerate(apps)]}  # fmt: skip
    if initialized is not None:
        status["conditions"] = [{"type": "Initialized", "status": initialized}]
    meta = {"deletionTimestamp": "2025-01-01T00:00:00Z"} if deleting else {}
    return {"metadata": meta, "spec": spec, "status": status}


DONE = {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
RUNNING = {"state": {"running": {}}, "ready": True}
WAITING = {"state": {"waiting": {"reason": "PodInitializing"}}}


@pytest.mark.parametrize(("pod", "want"), [
    pytest.param(_printed([DONE, WAITING], [WAITING], "Pending"), "Init:1/2", id="second of two inits"),
    pytest.param(_printed([{"state": {"terminated": {"exitCode": 1, "reason": "Error"}}}], [WAITING], "Failed"),
                 "Init:Error", id="a failed init container"),
    pytest.param(_printed([{"state": {"terminated": {"exitCode": 2}}}], [WAITING], "Pending"),
                 "Init:ExitCode:2", id="no reason: the exit code"),
    pytest.param(_printed([{"state": {"waiting": {"reason": "ImagePullBackOff"}}}], [WAITING], "Pending"),
                 "Init:ImagePullBackOff", id="an init container's waiting reason"),
    pytest.param(_printed([{"state": {"running": {}}, "started": True}], [RUNNING], sidecar=True),
                 "Running", id="a started sidecar is not initializing"),
    pytest.param(_printed([], [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}, RUNNING]),
                 "CrashLoopBackOff", id="a waiting reason wins over Running"),
    pytest.param(_printed([], [RUNNING, DONE]), "NotReady",
                 id="Completed next to a running container, pod not Ready: NotReady"),
    pytest.param(_printed([], [RUNNING], deleting=True), "Terminating", id="deletionTimestamp: Terminating"),
    pytest.param(_printed([], [DONE], "Succeeded", deleting=True), "Completed",
                 id="a terminal pod being deleted keeps its reason"),
])  # fmt: skip
def test_pod_status_reason(pod, want):
    assert pod_status_reason(pod) == want
