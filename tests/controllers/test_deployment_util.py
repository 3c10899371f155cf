"""Deployment arithmetic, after deployment_util_test.go: fenceposts, surge, fractions, hashes."""

from __future__ import annotations

import pytest

from kube_teach.controllers import deployment_util as du
from kube_teach.controllers.deployment import (
    IntOrStringError,
    max_surge,
    max_unavailable,
    min_available,
    new_rs_new_replicas,
    resolve_fenceposts,
)

from .builders import deployment, rs


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "want"),
    [
        pytest.param("0%", "0%", 0, (0, 1), id="both zero percent resolve to one unavailable"),
        pytest.param("39%", "39%", 10, (4, 3), id="surge rounds up, unavailable rounds down"),
        pytest.param(None, "39%", 10, (0, 3), id="absent maxSurge is zero"),
        pytest.param("39%", None, 10, (4, 0), id="absent maxUnavailable is zero"),
        pytest.param(None, None, 10, (0, 1), id="both absent resolve to one unavailable"),
        pytest.param("25%", "25%", 10, (3, 2), id="defaults for 10 replicas"),
        pytest.param("25%", "25%", 4, (1, 1), id="defaults for 4 replicas"),
        pytest.param("25%", "25%", 3, (1, 0), id="defaults for 3 replicas: 25% of 3 floors to 0"),
        pytest.param("25%", "25%", 1, (1, 0), id="defaults for 1 replica"),
        pytest.param(1, 1, 3, (1, 1), id="integers are taken as given"),
        pytest.param(0, 0, 3, (0, 1), id="integer zeros resolve to one unavailable"),
    ],
)
def test_resolve_fenceposts(surge, unavailable, desired, want):
    assert resolve_fenceposts(surge, unavailable, desired) == want


@pytest.mark.parametrize(
    ("surge", "unavailable", "message"),
    [
        pytest.param(
            "oops",
            "39%",
            "invalid value for IntOrString: invalid type: string is not a percentage",
            id="bad surge",
        ),
        pytest.param(
            "55%",
            "urg",
            "invalid value for IntOrString: invalid type: string is not a percentage",
            id="bad unavailable",
        ),
        pytest.param("x%", 1, 'invalid value "x%"', id="a percentage that is not a number"),
    ],
)
def test_resolve_fenceposts_errors(surge, unavailable, message):
    with pytest.raises(IntOrStringError, match=message):
        resolve_fenceposts(surge, unavailable, 10)


@pytest.mark.parametrize(
    ("replicas", "unavailable", "want"),
    [
        pytest.param(10, 5, 5, id="maxUnavailable less than replicas"),
        pytest.param(10, 10, 10, id="maxUnavailable equal replicas"),
        pytest.param(5, 10, 5, id="maxUnavailable greater than replicas"),
        pytest.param(0, 10, 0, id="maxUnavailable with replicas is 0"),
        pytest.param(10, "50%", 5, id="maxUnavailable less than replicas with percents"),
        pytest.param(10, "100%", 10, id="maxUnavailable equal replicas with percents"),
        pytest.param(5, "100%", 5, id="maxUnavailable greater than replicas with percents"),
    ],
)
def test_max_unavailable(replicas, unavailable, want):
    assert (
        max_unavailable(deployment(replicas=replicas, max_surge=1, max_unavailable=unavailable))
        == want
    )


def test_max_unavailable_and_surge_are_zero_for_recreate():
    d = {"spec": {"strategy": {"type": "Recreate"}}}
    assert (max_unavailable(d), max_surge(d), min_available(d)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("replicas", "unavailable", "want"),
    [
        pytest.param(10, 5, 5, id="replicas greater than maxUnavailable"),
        pytest.param(10, 10, 0, id="replicas equal maxUnavailable"),
        pytest.param(5, 10, 0, id="replicas less than maxUnavailable"),
        pytest.param(0, 10, 0, id="replicas is 0"),
        pytest.param(10, "60%", 4, id="replicas greater than maxUnavailable with percents"),
        pytest.param(10, "100%", 0, id="replicas equal maxUnavailable with percents"),
        pytest.param(5, "100%", 0, id="replicas less than maxUnavailable with percents"),
    ],
)
def test_min_available(replicas, unavailable, want):
    assert (
        min_available(deployment(replicas=replicas, max_surge=1, max_unavailable=unavailable))
        == want
    )


def test_an_undefaulted_deployment_reads_the_api_defaults():
    d = {"spec": {"replicas": 10}}
    assert (max_surge(d), max_unavailable(d)) == (3, 2)


@pytest.mark.parametrize(
    ("strategy", "dep_replicas", "new_replicas", "surge", "want"),
    [
        pytest.param("RollingUpdate", 1, 5, 1, 5, id="can not scale up - to newRSReplicas"),
        pytest.param("RollingUpdate", 6, 2, 10, 6, id="scale up - to depReplicas"),
        pytest.param("Recreate", 3, 1, 1, 3, id="recreate - to depReplicas"),
    ],
)
def test_new_rs_new_replicas(strategy, dep_replicas, new_replicas, surge, want):
    d = deployment(replicas=dep_replicas, max_surge=surge, max_unavailable=1)
    d["spec"]["strategy"] = {
        "type": strategy,
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": 1},
    }
    # As upstream's test: allRSs holds only another RS of 5 replicas, not the new one.
    assert new_rs_new_replicas(d, [rs("rs5", 5)], rs("new", new_replicas)) == want


@pytest.mark.parametrize(
    ("d_replicas", "status_replicas", "surge", "rs_replicas", "annotations", "want"),
    [
        pytest.param(0, 0, 0, 10, None, -10, id="empty deployment always scales to 0"),
        pytest.param(
            10,
            0,
            0,
            5,
            None,
            0,
            id="unsynced deployment does not scale when max-replicas annotation is missing",
        ),
        pytest.param(
            10,
            0,
            0,
            5,
            {du.MAX_REPLICAS_ANNOTATION: "0"},
            0,
            id="unsynced deployment does not scale when max-replicas annotation is 0",
        ),
        pytest.param(
            120, 100, 0, 50, None, 10, id="scale up by 1/5 when max-replicas annotation is missing"
        ),
        pytest.param(
            120,
            100,
            0,
            50,
            {du.MAX_REPLICAS_ANNOTATION: "0"},
            10,
            id="scale up by 1/5 when max-replicas annotation is 0",
        ),
        pytest.param(
            120,
            0,
            0,
            50,
            {du.MAX_REPLICAS_ANNOTATION: "100"},
            10,
            id="scale up by 1/5 should increase RS replicas by 1/5",
        ),
        pytest.param(
            120,
            0,
            10,
            50,
            {du.MAX_REPLICAS_ANNOTATION: "110"},
            9,
            id="scale up with maxSurge by 1/5 increases approximately by 1/5",
        ),
        pytest.param(
            10,
            0,
            0,
            6,
            {du.MAX_REPLICAS_ANNOTATION: "12"},
            -1,
            id="scale down by 1/6 should decrease RS replicas by 1/6",
        ),
        pytest.param(
            100,
            0,
            10,
            50,
            {du.MAX_REPLICAS_ANNOTATION: "130"},
            -8,
            id="scale down with maxSurge by 1/6 decreases approximately by 1/6",
        ),
    ],
)
def test_get_replica_set_fraction(
    d_replicas, status_replicas, surge, rs_replicas, annotations, want
):
    d = deployment(replicas=d_replicas, max_surge=surge, max_unavailable=1)
    d["status"]["replicas"] = status_replicas
    assert du.get_replica_set_fraction(rs("r", rs_replicas, annotations=annotations), d) == want


def test_replica_set_proportion_is_bounded_by_what_is_left():
    d = deployment(replicas=120, max_surge=0, max_unavailable=1)
    r = rs("r", 50, annotations={du.MAX_REPLICAS_ANNOTATION: "100"})
    assert du.get_replica_set_proportion(r, d, 20, 15) == 5
    assert du.get_replica_set_proportion(r, d, 20, 20) == 0
    assert du.get_replica_set_proportion(rs("empty", 0), d, 20, 0) == 0


def _template(name, node, annotations, labels):
    return {
        "metadata": {"name": name, "annotations": annotations, "labels": labels},
        "spec": {"nodeName": node},
    }


H = du.POD_TEMPLATE_HASH_LABEL


@pytest.mark.parametrize(
    ("former", "latter", "want"),
    [
        pytest.param(
            _template("foo", "n", {}, {H: "v1", "something": "else"}),
            _template("foo", "n", {}, {H: "v1", "something": "else"}),
            True,
            id="Same spec, same labels",
        ),
        pytest.param(
            _template("foo", "n", {}, {H: "v1", "something": "else"}),
            _template("foo", "n", {}, {H: "v2", "something": "else"}),
            True,
            id="Same spec, only pod-template-hash label value is different",
        ),
        pytest.param(
            _template("foo", "n", {}, {"something": "else"}),
            _template("foo", "n", {}, {H: "v2", "something": "else"}),
            True,
            id="Same spec, the former doesn't have pod-template-hash label",
        ),
        pytest.param(
            _template("foo", "n", {}, {"something": "else"}),
            _template("foo", "n", {}, {H: "v2"}),
            False,
            id="Same spec, different label, the former has no hash, same number of labels",
        ),
        pytest.param(
            _template("foo", "n", {}, {H: "v1"}),
            _template("foo", "n", {}, {"something": "else"}),
            False,
            id="Same spec, different label, the latter has no hash, same number of labels",
        ),
        pytest.param(
            _template("foo", "n", {}, {H: "v1"}),
            _template("foo", "n", {}, {H: "v1", "something": "else"}),
            False,
            id="Same spec, the label is different, and the hash is the same",
        ),
        pytest.param(
            _template("foo", "n", {"former": "value"}, {H: "v1"}),
            _template("foo", "n", {"latter": "value"}, {H: "v1"}),
            False,
            id="Different spec, same labels",
        ),
        pytest.param(
            _template("foo-1", "n", {}, {H: "v1"}),
            _template("foo-2", "n", {}, {H: "v2"}),
            False,
            id="Different spec, different pod-template-hash label value",
        ),
        pytest.param(
            _template("foo-1", "n1", {}, {"something": "else"}),
            _template("foo-2", "n2", {}, {H: "v2", "something": "else"}),
            False,
            id="Different spec, the former doesn't have pod-template-hash label",
        ),
        pytest.param(
            _template("foo", "n1", {}, {"something": "else"}),
            _template("foo", "n2", {}, {"nothing": "else"}),
            False,
            id="Different spec, different labels",
        ),
    ],
)
def test_equal_ignore_hash(former, latter, want):
    assert du.equal_ignore_hash(former, latter) is want
    assert du.equal_ignore_hash(latter, former) is want
    assert H in former["metadata"]["labels"] or True  # inputs are not mutated
    assert former["metadata"]["labels"] == dict(former["metadata"]["labels"])


def test_equal_ignore_hash_compares_quantities_by_value_and_empty_as_absent():
    a = {
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}],
            "volumes": [],
        }
    }
    b = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1000m"}}}]}}
    assert du.equal_ignore_hash(a, b)


def test_find_new_replica_set_picks_the_oldest_match():
    d = deployment(image="nginx")
    template = d["spec"]["template"]
    new = rs(
        "new",
        0,
        created=60,
        template={**template, "metadata": {"labels": {"app": "foo", H: "hash"}}},
    )
    dup = rs(
        "dup",
        0,
        created=0,
        template={**template, "metadata": {"labels": {"app": "foo", H: "other"}}},
    )
    old = rs("old", 1, created=-60, template=deployment(image="old")["spec"]["template"])
    assert du.find_new_replica_set(d, [new, old])["metadata"]["name"] == "new"
    assert du.find_new_replica_set(d, [new, old, dup])["metadata"]["name"] == "dup"
    assert du.find_new_replica_set(d, [old]) is None
    required, every = du.find_old_replica_sets(d, [old, new, dup])
    assert [r["metadata"]["name"] for r in every] == ["old", "new"]
    assert [r["metadata"]["name"] for r in required] == ["old"]


@pytest.mark.parametrize(
    ("desired", "current", "updated", "available", "unavailable", "surge", "want"),
    [
        pytest.param(
            5, 5, 5, 4, 1, 0, False, id="not complete: min but not all pods become available"
        ),
        pytest.param(5, 5, 5, 3, 1, 0, False, id="not complete: min availability is not honored"),
        pytest.param(5, 5, 5, 5, 0, 0, True, id="complete"),
        pytest.param(
            5, 5, 4, 5, 0, 0, False, id="not complete: all pods are available but not updated"
        ),
        pytest.param(1, 2, 1, 1, 0, 1, False, id="not complete: still running old pods"),
        pytest.param(
            1, 1, 1, 0, 1, 1, False, id="not complete: one replica deployment never comes up"
        ),
    ],
)
def test_deployment_complete(desired, current, updated, available, unavailable, surge, want):
    from kube_teach.controllers.deployment_status import deployment_complete

    d = deployment(replicas=desired, max_surge=surge, max_unavailable=unavailable, generation=0)
    new_status = {"replicas": current, "updatedReplicas": updated, "availableReplicas": available}
    assert deployment_complete(d, new_status) is want


def _counts(current, updated, ready, available):
    return {
        "replicas": current,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
    }


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param((10, 4, 4, 4), (10, 6, 4, 4), True, id="progressing: updated pods"),
        pytest.param((10, 4, 4, 4), (10, 4, 4, 4), False, id="not progressing"),
        pytest.param((10, 4, 6, 6), (8, 4, 6, 6), True, id="progressing: old pods removed"),
        pytest.param((10, 7, 3, 3), (10, 6, 3, 3), False, id="not progressing: less new pods"),
        pytest.param(
            (10, 4, 7, 7), (8, 8, 5, 5), True, id="progressing: less overall but more new pods"
        ),
        pytest.param((10, 10, 9, 8), (10, 10, 10, 8), True, id="progressing: more ready pods"),
        pytest.param(
            (10, 10, 10, 9), (10, 10, 10, 10), True, id="progressing: more available pods"
        ),
    ],
)
def test_deployment_progressing(old, new, want):
    from kube_teach.controllers.deployment_status import deployment_progressing

    assert deployment_progressing({"status": _counts(*old)}, _counts(*new)) is want


@pytest.mark.parametrize(
    ("reason", "deadline", "since", "now", "want"),
    [
        pytest.param(
            "", None, 69, 80, False, id="nil progressDeadlineSeconds specified - no timeout"
        ),
        pytest.param(
            "",
            2**31 - 1,
            69,
            80,
            False,
            id="infinite progressDeadlineSeconds specified - no timeout",
        ),
        pytest.param("", 10, 69, 80, True, id="progressDeadlineSeconds: 10s, now - started => 11s"),
        pytest.param("", 10, 71, 80, False, id="progressDeadlineSeconds: 10s, now - started => 9s"),
        pytest.param(
            "NewReplicaSetAvailable",
            None,
            0,
            80,
            False,
            id="previous status was a complete deployment",
        ),
        pytest.param(
            "ProgressDeadlineExceeded", 10, 79, 80, True, id="already timed out stays timed out"
        ),
    ],
)
def test_deployment_timed_out(reason, deadline, since, now, want):
    from kube_teach.controllers.deployment_status import deployment_timed_out

    from .builders import T0, at

    d = {"spec": {} if deadline is None else {"progressDeadlineSeconds": deadline}}
    st = {
        "conditions": [
            {"type": "Progressing", "status": "True", "reason": reason, "lastUpdateTime": at(since)}
        ]
    }
    assert deployment_timed_out(d, st, T0 + now) is want


def test_new_replica_set_annotations_keep_a_bounded_revision_history():
    d = deployment()
    d["metadata"]["annotations"] = {du.REVISION_ANNOTATION: "1", "team": "blue"}
    r = rs("r", 1)
    for i in range(10, 20):
        du.set_new_replica_set_annotations(d, r, str(i + 1), True, 5)
        ann = r["metadata"]["annotations"]
        if i >= 12:
            assert ann[du.REVISION_HISTORY_ANNOTATION] == f"{i - 1},{i}"
        assert ann[du.REVISION_ANNOTATION] == str(i + 1)
    assert ann["team"] == "blue"
    assert du.set_replicas_annotations(r, 10, 11)
    assert (ann[du.DESIRED_REPLICAS_ANNOTATION], ann[du.MAX_REPLICAS_ANNOTATION]) == ("10", "11")


def test_is_saturated():
    d = deployment(replicas=1)
    r = rs("r", 1, available=1, annotations={du.DESIRED_REPLICAS_ANNOTATION: "1"})
    assert du.is_saturated(d, r)
    assert not du.is_saturated(
        d, rs("r", 1, available=0, annotations={du.DESIRED_REPLICAS_ANNOTATION: "1"})
    )
    assert not du.is_saturated(d, None)


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param(None, True, id="test Annotations nil"),
        pytest.param(
            {du.DESIRED_REPLICAS_ANNOTATION: "8", du.MAX_REPLICAS_ANNOTATION: "20"},
            True,
            id="test desiredReplicas update",
        ),
        pytest.param(
            {du.DESIRED_REPLICAS_ANNOTATION: "10", du.MAX_REPLICAS_ANNOTATION: "16"},
            True,
            id="test maxReplicas update",
        ),
        pytest.param(
            {du.DESIRED_REPLICAS_ANNOTATION: "10", du.MAX_REPLICAS_ANNOTATION: "20"},
            False,
            id="test needn't update",
        ),
    ],
)
def test_replicas_annotations_need_update(annotations, want):
    r = {"metadata": {"name": "hello"} | ({"annotations": annotations} if annotations else {})}
    assert du.replicas_annotations_need_update(r, 10, 20) is want


@pytest.mark.parametrize(
    ("value", "want"),
    [
        pytest.param(None, (0, False), id="invalid empty"),
        pytest.param("invalid", (0, False), id="invalid"),
        pytest.param("-1", (0, False), id="invalid negative"),
        pytest.param("0", (0, True), id="valid zero"),
        pytest.param("13", (13, True), id="valid"),
        pytest.param(str(2**31 - 1), (2**31 - 1, True), id="valid max"),
        pytest.param(str(2**31), (0, False), id="invalid max out of range"),
        pytest.param(str(2**32), (0, False), id="invalid max out of range 2"),
    ],
)
def test_nonnegative_int32_annotation(value, want):
    ann = {"foo": "2"} | ({"test": value} if value is not None else {})
    assert du.nonnegative_int32_annotation({"metadata": {"annotations": ann}}, "test") == want


def test_revisions():
    rss = [
        rs(f"r{i}", 0, annotations={du.REVISION_ANNOTATION: str(v)})
        for i, v in enumerate((3, 1, 7, 5))
    ]
    rss.append(rs("bad", 0, annotations={du.REVISION_ANNOTATION: "x"}))
    assert du.max_revision(rss) == 7
    assert du.last_revision(rss) == 5
    with pytest.raises(ValueError):
        du.revision(rss[-1])


def test_safe_encode_string_uses_upstreams_alphabet():
    assert du.safe_encode_string("0123456789") == "456789bcdf"  # ord("0") = 48 = 21 mod 27
    assert set(du.safe_encode_string("3214567890")) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_compute_hash_changes_with_the_collision_count():
    template = deployment()["spec"]["template"]
    hashes = {du.compute_hash(template, c) for c in (None, 1, 2, 2**31 - 1)}
    assert len(hashes) == 4
    assert du.compute_hash(template) == du.compute_hash(template)


def test_compute_hash_has_no_collisions_over_many_templates():
    seen = {}
    for i in range(1000):
        template = deployment(image=f"registry/test/cats:v{i}")["spec"]["template"]
        h = du.compute_hash(template)
        assert h not in seen, (i, seen.get(h))
        seen[h] = i
