"""The Deployment controller's steps, after rolling_test.go, sync_test.go and recreate_test.go,
plus the seed article's rollout traced sync by sync."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.controllers import deployment as dc
from kube_teach.controllers import deployment_util as du

from .builders import T0, deployment, pod, rs


def scaled(writes):
    return {w.name: w.new_replicas for w in writes if w.old_replicas != w.new_replicas}


# -- rolling_test.go ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("d_replicas", "surge", "old", "new", "want"),
    [
        pytest.param(10, 0, 10, 0, None, id="should not scale up"),
        pytest.param(10, 2, 10, 0, 2, id="scale up within surge"),
        pytest.param(10, 2, 5, 0, 7, id="scale up into the room old replicas left"),
        pytest.param(10, 2, 10, 2, None, id="surge already used"),
        pytest.param(10, 2, 2, 11, 10, id="should scale down to the desired count"),
    ],
)
def test_reconcile_new_replica_set(d_replicas, surge, old, new, want):
    new_rs, old_rs = rs("foo-v2", new), rs("foo-v1", old)
    d = deployment(replicas=d_replicas, max_surge=surge, max_unavailable=0)
    writes = dc.reconcile_new_replica_set(d, [new_rs, old_rs], new_rs)
    assert scaled(writes) == ({} if want is None else {"foo-v2": want})


@pytest.mark.parametrize(
    ("d_replicas", "unavailable", "old", "new", "old_ready", "new_ready", "want"),
    [
        pytest.param(
            10, 0, 10, 0, 10, 0, 9, id="maxUnavailable 0 still lets one go when surge is 0"
        ),
        pytest.param(10, 2, 10, 0, 10, 0, 8, id="scale down by maxUnavailable"),
        pytest.param(
            10,
            2,
            10,
            0,
            8,
            0,
            8,
            id="expect unhealthy replicas from old replica sets been cleaned up",
        ),
        pytest.param(
            10, 2, 10, 0, 9, 0, 8, id="1 unhealthy replica cleaned up and 1 ready pod scaled down"
        ),
        pytest.param(
            10,
            2,
            8,
            2,
            8,
            0,
            None,
            id="the unavailable pods from the newRS would not make us scale down old RSs",
        ),
    ],
)
def test_reconcile_old_replica_sets(d_replicas, unavailable, old, new, old_ready, new_ready, want):
    new_rs = rs("foo-new", new, available=new_ready)
    old_rs = rs("foo-old", old, available=old_ready)
    d = deployment(replicas=d_replicas, max_surge=0, max_unavailable=unavailable)
    writes = dc.reconcile_old_replica_sets(d, [old_rs, new_rs], [old_rs], new_rs)
    if want is None:
        assert writes == []
    else:
        assert writes and writes[-1].new_replicas == want


@pytest.mark.parametrize(
    ("old", "ready", "max_cleanup", "want"),
    [
        pytest.param(10, 8, 1, 1, id="cleanup is capped"),
        pytest.param(10, 8, 3, 2, id="only the unhealthy replicas go"),
        pytest.param(10, 8, 0, 0, id="no budget, no cleanup"),
        pytest.param(10, 10, 3, 0, id="nothing unhealthy"),
    ],
)
def test_cleanup_unhealthy_replicas(old, ready, max_cleanup, want):
    d = deployment(replicas=10, max_surge=2, max_unavailable=2)
    _, count = dc.cleanup_unhealthy_replicas(d, [rs("foo-v2", old, available=ready)], max_cleanup)
    assert count == want


@pytest.mark.parametrize(
    ("d_replicas", "unavailable", "ready", "old", "want"),
    [
        pytest.param(10, 0, 10, 10, 9, id="maxUnavailable 0 resolves to 1 and allows one"),
        pytest.param(10, 2, 10, 10, 8, id="scale down by maxUnavailable"),
        pytest.param(10, 2, 8, 10, None, id="availability already at the minimum"),
        pytest.param(10, 2, 10, 0, None, id="an empty old replica set cannot shrink"),
        pytest.param(10, 2, 1, 10, None, id="too few available pods"),
    ],
)
def test_scale_down_old_replica_sets_for_rolling_update(d_replicas, unavailable, ready, old, want):
    old_rs = rs("foo-v2", old, available=ready)
    d = deployment(replicas=d_replicas, max_surge=0, max_unavailable=unavailable)
    writes, count = dc.scale_down_old_replica_sets_for_rolling_update(d, [old_rs], [old_rs])
    assert scaled(writes) == ({} if want is None else {"foo-v2": want})
    assert count == (0 if want is None else old - want)


# -- sync_test.go TestScale ---------------------------------------------------------------------
NEW, OLD, OLDER = 300, 200, 100


@pytest.mark.parametrize(
    ("d_replicas", "before", "surge", "before_surge", "new", "olds", "want", "desired_override"),
    [
        pytest.param(
            12,
            10,
            0,
            0,
            ("foo-v1", 10, NEW),
            [],
            {"foo-v1": 12},
            {},
            id="normal scaling event: 10 -> 12",
        ),
        pytest.param(
            5,
            10,
            0,
            0,
            ("foo-v1", 10, NEW),
            [],
            {"foo-v1": 5},
            {},
            id="normal scaling event: 10 -> 5",
        ),
        pytest.param(
            10,
            5,
            0,
            0,
            ("foo-v2", 2, NEW),
            [("foo-v1", 3, OLD)],
            {"foo-v2": 4, "foo-v1": 6},
            {},
            id="proportional scaling: 5 -> 10",
        ),
        pytest.param(
            3,
            5,
            0,
            0,
            ("foo-v2", 2, NEW),
            [("foo-v1", 3, OLD)],
            {"foo-v2": 1, "foo-v1": 2},
            {},
            id="proportional scaling: 5 -> 3",
        ),
        pytest.param(
            4,
            9,
            0,
            0,
            ("foo-v2", 8, NEW),
            [("foo-v1", 1, OLD)],
            {"foo-v2": 4, "foo-v1": 0},
            {},
            id="proportional scaling: 9 -> 4",
        ),
        pytest.param(
            10,
            7,
            0,
            0,
            ("foo-v3", 2, NEW),
            [("foo-v2", 3, OLD), ("foo-v1", 2, OLDER)],
            {"foo-v3": 3, "foo-v2": 4, "foo-v1": 3},
            {},
            id="proportional scaling: 7 -> 10",
        ),
        pytest.param(
            8,
            13,
            0,
            0,
            ("foo-v3", 2, NEW),
            [("foo-v2", 8, OLD), ("foo-v1", 3, OLDER)],
            {"foo-v3": 1, "foo-v2": 5, "foo-v1": 2},
            {},
            id="proportional scaling: 13 -> 8",
        ),
        pytest.param(
            4,
            3,
            0,
            0,
            ("foo-v3", 1, NEW),
            [("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)],
            {"foo-v3": 2, "foo-v2": 1, "foo-v1": 1},
            {},
            id="leftover distribution: 3 -> 4 scales up the new replica set",
        ),
        pytest.param(
            2,
            3,
            0,
            0,
            ("foo-v3", 1, NEW),
            [("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)],
            {"foo-v3": 1, "foo-v2": 1, "foo-v1": 0},
            {},
            id="leftover distribution: 3 -> 2 scales down the older replica set",
        ),
        pytest.param(
            5,
            4,
            0,
            0,
            None,
            [("foo-v2", 2, OLD), ("foo-v1", 2, OLDER)],
            {"foo-v2": 3, "foo-v1": 2},
            {},
            id="proportional scaling (no new rs): 4 -> 5",
        ),
        pytest.param(
            0,
            6,
            0,
            0,
            ("foo-v3", 3, NEW),
            [("foo-v2", 2, OLD), ("foo-v1", 1, OLDER)],
            {"foo-v3": 0, "foo-v2": 0, "foo-v1": 0},
            {},
            id="proportional scaling: 6 -> 0",
        ),
        pytest.param(
            6,
            6,
            0,
            0,
            ("foo-v3", 0, NEW),
            [("foo-v2", 0, OLD), ("foo-v1", 0, OLDER)],
            {"foo-v3": 6, "foo-v2": 0, "foo-v1": 0},
            {},
            id="proportional scaling: 0 -> 6",
        ),
        pytest.param(
            5,
            5,
            0,
            0,
            ("foo-v3", 2, NEW),
            [("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)],
            {"foo-v3": 2, "foo-v2": 2, "foo-v1": 1},
            {"foo-v2": 3},
            id="failed rs update is retried from its own annotation",
        ),
        pytest.param(
            20,
            10,
            2,
            2,
            ("foo-v2", 6, NEW),
            [("foo-v1", 6, OLD)],
            {"foo-v2": 11, "foo-v1": 11},
            {},
            id="deployment with surge pods",
        ),
        pytest.param(
            50,
            10,
            6,
            3,
            ("foo-v2", 5, NEW),
            [("foo-v1", 8, OLD)],
            {"foo-v2": 22, "foo-v1": 34},
            {},
            id="change both surge and size",
        ),
    ],
)
def test_scale(d_replicas, before, surge, before_surge, new, olds, want, desired_override):
    def make(spec):
        name, replicas, created = spec
        r = rs(name, replicas, created=created, available=0)
        desired = desired_override.get(name, before)
        du.set_replicas_annotations(r, desired, desired + before_surge)
        return r

    d = deployment(replicas=d_replicas, max_surge=surge, max_unavailable=0)
    new_rs = make(new) if new else None
    old_rss = [make(o) for o in olds]
    writes = dc.scale_replica_sets(d, new_rs, old_rss)
    got = {r["metadata"]["name"]: r["spec"]["replicas"] for r in [new_rs, *old_rss] if r}
    got.update({w.name: w.new_replicas for w in writes})
    assert got == want


def test_saturated_but_broken_new_replica_set_does_not_affect_old_pods():
    d = deployment(replicas=2, max_surge=1, max_unavailable=1)
    new_rs = rs("foo", 2, created=NEW, available=0)
    old_rs = rs("foo-v1", 1, created=OLD, available=0)
    for r in (new_rs, old_rs):
        du.set_replicas_annotations(r, 2, 3)
    assert scaled(dc.scale_replica_sets(d, new_rs, [old_rs])) == {}


# -- recreate_test.go ---------------------------------------------------------------------------
def _pods(*phases, owner="uid-1"):
    return [pod(f"p{i}", phase=p, owner_uid=owner) for i, p in enumerate(phases)]


@pytest.mark.parametrize(
    ("old", "pods", "want"),
    [
        pytest.param([], [], False, id="no old RSs"),
        pytest.param(
            [rs("rs-1", 0, status_replicas=1)],
            [],
            True,
            id="old RSs without pods but with non-zero status replicas",
        ),
        pytest.param(
            [rs("rs-1", 0, status_replicas=0)],
            [],
            False,
            id="old RSs without pods or non-zero status replicas",
        ),
        pytest.param(
            [rs("rs-1", 0, status_replicas=0)],
            _pods("Failed", "Succeeded"),
            False,
            id="pods in terminal state are present",
        ),
        pytest.param(
            [rs("rs-1", 0, status_replicas=0)],
            _pods("Unknown"),
            True,
            id="pod in unknown phase present",
        ),
        pytest.param(
            [rs("rs-1", 0, status_replicas=0)], _pods("Pending"), True, id="pending pod present"
        ),
        pytest.param(
            [rs("rs-1", 0, status_replicas=0)], _pods("Running"), True, id="running pod present"
        ),
        pytest.param(
            [rs("rs-1", 0, status_replicas=0)],
            {"uid-1": _pods("Failed", "Succeeded"), "uid-2": [], "uid-3": _pods("Pending")},
            True,
            id="terminal and pending pods as a pod map",
        ),
    ],
)
def test_old_pods_running(old, pods, want):
    assert dc.old_pods_running(None, old, pods) is want


# -- whole syncs and traces ---------------------------------------------------------------------
def _trace(result):
    out = []
    for w in result.writes:
        if w.verb == "create":
            out.append(
                f"create {w.name.rsplit('-', 1)[0]}:{_image(w.replica_set)} {w.new_replicas}"
            )
        elif w.verb == "delete":
            out.append(f"delete {_image(w.replica_set)}")
        elif w.old_replicas != w.new_replicas:
            out.append(f"{_image(w.replica_set)} {w.old_replicas}->{w.new_replicas}")
    return out


def _image(r):
    return r["spec"]["template"]["spec"]["containers"][0]["image"]


class Rollout:
    """The timing model of reference note 0.3: after every change the controller resyncs until
    it has nothing to write; a ReplicaSet's pods appear and vanish at once, and new pods
    become available only when the test says so, one at a time."""

    def __init__(self, d, pods=()):
        self.d, self.rss, self.pods, self.now = d, [], list(pods), T0

    def settle(self, max_syncs=20):
        syncs = []
        for _ in range(max_syncs):
            result = dc.sync_deployment(self.d, self.rss, self.pods, self.now)
            self.d, self.rss = result.deployment, result.replica_sets
            for r in self.rss:
                r["metadata"].setdefault(
                    "uid", r["metadata"]["name"] + "-uid"
                )  # as the API server would
                status = r.setdefault("status", {})
                status["replicas"] = r["spec"]["replicas"]
                status["availableReplicas"] = min(
                    status.get("availableReplicas", 0), r["spec"]["replicas"]
                )
            if not result.writes:
                return syncs
            syncs.append(_trace(result))
            self.now += 1
        raise AssertionError(f"no fixpoint after {max_syncs} syncs: {syncs}")

    def all_available(self):
        for r in self.rss:
            r["status"]["availableReplicas"] = r["spec"]["replicas"]
        return self.settle()

    def one_more_available(self, image):
        r = next(r for r in self.rss if _image(r) == image)
        r["status"]["availableReplicas"] += 1
        self.now += 1
        return self.settle()

    def update(self, image):
        d = copy.deepcopy(self.d)
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        d["metadata"]["generation"] += 1
        self.d = d
        return self.settle()

    def counts(self):
        return {
            _image(r): (r["spec"]["replicas"], r["status"]["availableReplicas"]) for r in self.rss
        }


def _steady(replicas, surge, unavailable, strategy="RollingUpdate"):
    ro = Rollout(deployment("web-app", replicas, surge, unavailable, image="v1", strategy=strategy))
    assert ro.settle() == [[f"create web-app:v1 {replicas}"]]
    assert ro.all_available() == []
    return ro


def test_seed_rollout_three_replicas_surge_one_unavailable_one():
    ro = _steady(3, 1, 1)
    # Steps 1-4 of the seed: one sync creates v2 with 1 replica and scales v1 down, the next
    # scales v2 up again (total 3 < 4); nothing else happens before a new pod is ready.
    assert ro.update("v2") == [["create web-app:v2 1", "v1 3->2"], ["v2 1->2"]]
    assert ro.counts() == {"v1": (2, 2), "v2": (2, 0)}
    assert ro.one_more_available("v2") == [["v1 2->1"], ["v2 2->3"]]  # steps 5 and 6
    assert ro.counts() == {"v1": (1, 1), "v2": (3, 1)}
    assert ro.one_more_available("v2") == [["v1 1->0"]]  # step 7
    assert ro.one_more_available("v2") == []  # step 8: complete
    assert ro.counts() == {"v1": (0, 0), "v2": (3, 3)}
    message, done = dc.rollout_status(ro.d)
    assert (message, done) == ('deployment "web-app" successfully rolled out\n', True)
    progressing = next(c for c in ro.d["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert ro.d["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"


def test_rollout_with_max_unavailable_zero_waits_for_each_new_pod():
    ro = _steady(3, 1, 0)
    assert ro.update("v2") == [["create web-app:v2 1"]]
    assert ro.one_more_available("v2") == [["v1 3->2"], ["v2 1->2"]]
    assert ro.one_more_available("v2") == [["v1 2->1"], ["v2 2->3"]]
    assert ro.one_more_available("v2") == [["v1 1->0"]]
    assert ro.counts() == {"v1": (0, 0), "v2": (3, 3)}


def test_rollout_with_max_surge_zero_removes_before_adding():
    ro = _steady(3, 0, 1)
    assert ro.update("v2") == [["create web-app:v2 0", "v1 3->2"], ["v2 0->1"]]
    assert ro.one_more_available("v2") == [["v1 2->1"], ["v2 1->2"]]
    assert ro.one_more_available("v2") == [["v1 1->0"], ["v2 2->3"]]
    assert ro.one_more_available("v2") == []
    assert ro.counts() == {"v1": (0, 0), "v2": (3, 3)}


def test_rollout_of_ten_replicas_with_the_default_25_percent():
    ro = _steady(10, "25%", "25%")
    assert ro.update("v2") == [["create web-app:v2 3", "v1 10->8"], ["v2 3->5"]]
    assert ro.counts() == {"v1": (8, 8), "v2": (5, 0)}
    for _ in range(10):
        ro.one_more_available("v2")
        totals = ro.counts()
        assert sum(s for s, _ in totals.values()) <= 13
        assert sum(a for _, a in totals.values()) >= 8
    assert ro.counts() == {"v1": (0, 0), "v2": (10, 10)}


def test_recreate_scales_old_to_zero_then_creates_the_new_at_full_size():
    ro = _steady(3, 0, 0, strategy="Recreate")
    assert ro.update("v2") == [["v1 3->0"], ["create web-app:v2 3"]]


def test_recreate_waits_while_an_old_pod_still_runs():
    ro = _steady(3, 0, 0, strategy="Recreate")
    old_uid = ro.rss[0]["metadata"]["uid"]
    ro.pods = [pod("old-0", owner_uid=old_uid, phase="Running")]
    assert ro.update("v2") == [["v1 3->0"]]
    ro.pods = [pod("old-0", owner_uid=old_uid, phase="Succeeded")]
    assert ro.settle() == [["create web-app:v2 3"]]


def test_rollout_status_messages_during_the_seed_rollout():
    ro = _steady(3, 1, 1)
    ro.update("v2")
    prefix = 'Waiting for deployment "web-app" rollout to finish: '
    messages = [dc.rollout_status(ro.d)]
    for _ in range(3):
        ro.one_more_available("v2")
        messages.append(dc.rollout_status(ro.d))
    assert messages == [
        (f"{prefix}2 out of 3 new replicas have been updated...\n", False),
        (f"{prefix}1 old replicas are pending termination...\n", False),
        (f"{prefix}2 of 3 updated replicas are available...\n", False),
        ('deployment "web-app" successfully rolled out\n', True),
    ]


@pytest.mark.parametrize(
    ("generation", "spec_replicas", "status", "want"),
    [
        pytest.param(
            0,
            1,
            (1, 1, 0, 1),
            (
                'Waiting for deployment "foo" rollout to finish: 0 out of 1 new replicas have been updated...\n',
                False,
            ),
            id="updated replicas behind",
        ),
        pytest.param(
            1,
            1,
            (1, 2, 1, 2),
            (
                'Waiting for deployment "foo" rollout to finish: 1 old replicas are pending termination...\n',
                False,
            ),
            id="old replicas pending termination",
        ),
        pytest.param(
            1,
            2,
            (1, 2, 2, 1),
            (
                'Waiting for deployment "foo" rollout to finish: 1 of 2 updated replicas are available...\n',
                False,
            ),
            id="updated replicas not all available",
        ),
        pytest.param(
            1, 2, (1, 2, 2, 2), ('deployment "foo" successfully rolled out\n', True), id="done"
        ),
        pytest.param(
            2,
            2,
            (1, 2, 2, 2),
            ("Waiting for deployment spec update to be observed...\n", False),
            id="spec not yet observed",
        ),
        pytest.param(
            1,
            1,
            (1, 2, 1, 1),
            (
                'Waiting for deployment "foo" rollout to finish: 1 old replicas are pending termination...\n',
                False,
            ),
            id="old replicas pending while new ones are available",
        ),
    ],
)
def test_rollout_status(generation, spec_replicas, status, want):
    observed, replicas, updated, available = status
    d = {
        "metadata": {"name": "foo", "generation": generation},
        "spec": {"replicas": spec_replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }
    assert dc.rollout_status(d) == want


def test_rollout_status_reports_a_missed_deadline():
    d = {
        "metadata": {"name": "foo", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
        },
    }
    with pytest.raises(
        dc.RolloutStatusError, match='deployment "foo" exceeded its progress deadline'
    ):
        dc.rollout_status(d)


def test_a_stuck_rollout_times_out_after_the_progress_deadline():
    ro = _steady(3, 1, 1)
    ro.update("v2")
    ro.now += 601
    result = dc.sync_deployment(ro.d, ro.rss, [], ro.now)
    progressing = next(
        c for c in result.deployment["status"]["conditions"] if c["type"] == "Progressing"
    )
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")


def test_a_quiet_rollout_is_requeued_for_its_deadline():
    ro = _steady(3, 1, 1)
    ro.update("v2")
    ro.now += 100
    result = dc.sync_deployment(ro.d, ro.rss, [], ro.now)
    assert not result.writes
    assert 490 < result.requeue_after < 510


def test_paused_deployment_only_scales():
    ro = _steady(3, 1, 1)
    d = copy.deepcopy(ro.d)
    d["spec"]["paused"] = True
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    d["spec"]["replicas"] = 5
    result = dc.sync_deployment(d, ro.rss, [], ro.now)
    assert _trace(result) == ["v1 3->5"]
    progressing = next(
        c for c in result.deployment["status"]["conditions"] if c["type"] == "Progressing"
    )
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


def test_old_history_beyond_the_limit_is_deleted_once_complete():
    ro = Rollout(deployment("web-app", 1, 1, 0, image="v1", revision_history_limit=1))
    ro.settle()
    ro.all_available()
    for image in ("v2", "v3"):
        ro.update(image)
        while ro.counts()[image][1] < 1:
            ro.one_more_available(image)
    ro.now += 1
    result = dc.sync_deployment(ro.d, ro.rss, [], ro.now)
    assert _trace(result) == ["delete v1"]


# -- properties ---------------------------------------------------------------------------------
intorstr = st.one_of(st.integers(0, 4), st.integers(0, 100).map(lambda p: f"{p}%"))


@st.composite
def rollout_states(draw):
    replicas = draw(st.integers(0, 12))
    surge, unavailable = draw(intorstr), draw(intorstr)
    d = deployment("web", replicas, surge, unavailable, image="new")
    old = []
    for i in range(draw(st.integers(0, 3))):
        size = draw(st.integers(0, 12))
        r = rs(f"web-old{i}", size, created=i, available=draw(st.integers(0, size)))
        r["spec"]["template"] = deployment("web", image=f"old{i}")["spec"]["template"]
        old.append(r)
    rss = list(old)
    if draw(st.booleans()):
        size = draw(st.integers(0, 12))
        new = rs("web-new", size, created=10, available=draw(st.integers(0, size)))
        new["spec"]["template"] = copy.deepcopy(d["spec"]["template"])
        rss.append(new)
    return d, rss


def _available_after(before, after):
    """Available pods once the writes land, if every RS loses its unavailable pods first."""
    total = 0
    for name, r in before.items():
        spec, avail = r["spec"]["replicas"], r["status"]["availableReplicas"]
        new_spec = after.get(name, spec)
        removed = max(spec - new_spec, 0)
        total += avail - max(0, removed - (spec - avail))
    return total


@settings(max_examples=300, deadline=None)
@given(rollout_states())
def test_a_rolling_step_respects_surge_and_availability(state):
    d, rss = state
    surge, unavailable = du.max_surge(d), du.max_unavailable(d)
    replicas = d["spec"]["replicas"]
    result = dc.rollout_rolling(d, rss, T0)
    before = {r["metadata"]["name"]: r for r in rss}
    after = {r["metadata"]["name"]: r["spec"]["replicas"] for r in result.replica_sets}
    total_before = sum(r["spec"]["replicas"] for r in rss)
    assert sum(after.values()) <= max(total_before, replicas + surge)
    available_before = sum(r["status"]["availableReplicas"] for r in rss)
    assert _available_after(before, after) >= min(available_before, replicas - unavailable)
    assert all(v >= 0 for v in after.values())
    # Only one direction per sync: the new RS grew, or old ones shrank, never both.
    grew = any(w.new_replicas > w.old_replicas for w in result.writes if w.verb == "update")
    shrank_old = any(
        w.new_replicas < w.old_replicas
        for w in result.writes
        if w.verb == "update" and w.name != "web-new"
    )
    assert not (grew and shrank_old)


def test_rollout_status_checks_the_revision_when_asked():
    d = {
        "metadata": {"name": "foo", "generation": 1, "annotations": {du.REVISION_ANNOTATION: "2"}},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "availableReplicas": 1,
        },
    }
    assert dc.rollout_status(d, revision=2)[1] is True
    with pytest.raises(
        dc.RolloutStatusError,
        match=r"desired revision \(3\) is different from the running revision \(2\)",
    ):
        dc.rollout_status(d, revision=3)
