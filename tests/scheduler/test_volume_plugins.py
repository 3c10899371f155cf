"""VolumeZone, VolumeBinding (bound claims), VolumeRestrictions and NodeVolumeLimits, with the
cases of upstream's plugin tests (volumezone, volumebinding, volumerestrictions,
nodevolumelimits/csi)."""

import pytest

from kube_teach.scheduler import evaluate
from kube_teach.scheduler.framework import Code, CycleState, PodInfo, Snapshot, Status
from kube_teach.scheduler.plugins.node_volume_limits import NodeVolumeLimits
from kube_teach.scheduler.plugins.volume_binding import VolumeBinding
from kube_teach.scheduler.plugins.volume_restrictions import VolumeRestrictions
from kube_teach.scheduler.plugins.volume_zone import VolumeZone

from .builders import node, pod, run_filter

UU, U = Code.UnschedulableAndUnresolvable, Code.Unschedulable
BETA_ZONE, BETA_REGION = (
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
)
ZONE, REGION = "topology.kubernetes.io/zone", "topology.kubernetes.io/region"
NO_ZONE = "node(s) had no available volume zone"


def pv(name, labels=None, *, affinity=None, csi=None):
    out = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {},
    }
    if affinity is not None:
        out["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": affinity}}
    if csi is not None:
        out["spec"]["csi"] = {"driver": csi[0], "volumeHandle": csi[1]}
    return out


def pvc(name, volume="", *, sc=None, bound=True, modes=("ReadWriteOnce",), **meta):
    out = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default", **meta},
        "spec": {"accessModes": list(modes)},
    }
    if volume:
        out["spec"]["volumeName"] = volume
        if bound:
            out["metadata"]["annotations"] = {"pv.kubernetes.io/bind-completed": "yes"}
    if sc is not None:
        out["spec"]["storageClassName"] = sc
    return out


def sc(name, mode="WaitForFirstConsumer", provisioner="ebs.csi.aws.com"):
    out = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
    }
    if mode is not None:
        out["volumeBindingMode"] = mode
    return out


def with_claims(*claims, name="p", **kw):
    vols = [
        {"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)
    ]
    return pod(name, volumes=vols, **kw)


# --- VolumeZone (volume_zone_test.go) ------------------------------------------------------------

ZONE_PVS = [
    pv("Vol_1", {BETA_ZONE: "us-west1-a"}),
    pv("Vol_2", {BETA_REGION: "us-west1", "uselessLabel": "none"}),
    pv("Vol_3", {BETA_REGION: "us-west1-c"}),
    pv("Vol_Stable_1", {ZONE: "us-west1-a"}),
    pv("Vol_Stable_2", {REGION: "us-west1", "uselessLabel": "none"}),
    pv("Vol_Multi", {BETA_ZONE: "us-west1-c__us-west1-a"}),
    pv("Vol_Plain"),
]
ZONE_PVCS = [
    pvc("PVC_1", "Vol_1"),
    pvc("PVC_2", "Vol_2"),
    pvc("PVC_3", "Vol_3"),
    pvc("PVC_4", "Vol_not_exist"),
    pvc("PVC_Stable_1", "Vol_Stable_1"),
    pvc("PVC_Stable_2", "Vol_Stable_2"),
    pvc("PVC_Multi", "Vol_Multi"),
    pvc("PVC_Plain", "Vol_Plain"),
    pvc("PVC_NoSC"),
    pvc("PVC_EmptySC", sc=""),
    pvc("PVC_WaitSC", sc="Class_Wait"),
    pvc("PVC_ImmediateSC", sc="Class_Immediate"),
    pvc("PVC_NonExistentSC", sc="Class_0"),
    pvc("PVC_UnsetSC", sc="Class_Unset"),
]
ZONE_SCS = [sc("Class_Wait"), sc("Class_Immediate", "Immediate"), sc("Class_Unset", None)]


@pytest.mark.parametrize(
    ("claim", "labels", "want"),
    [
        pytest.param(None, {BETA_ZONE: "us-west1-a"}, Status(Code.Skip), id="pod without volume"),
        pytest.param("PVC_1", {}, Status(), id="node without labels"),
        pytest.param(
            "PVC_1",
            {BETA_ZONE: "us-west1-a", "uselessLabel": "none"},
            Status(),
            id="beta zone label matched",
        ),
        pytest.param("PVC_2", {BETA_REGION: "us-west1"}, Status(), id="beta region label matched"),
        pytest.param(
            "PVC_2",
            {BETA_REGION: "no_us-west1"},
            Status(UU, NO_ZONE),
            id="beta region label doesn't match",
        ),
        pytest.param(
            "PVC_1",
            {BETA_ZONE: "no_us-west1-a"},
            Status(UU, NO_ZONE),
            id="beta zone label doesn't match",
        ),
        pytest.param("PVC_Stable_1", {ZONE: "us-west1-a"}, Status(), id="zone label matched"),
        pytest.param("PVC_Stable_2", {REGION: "us-west1"}, Status(), id="region label matched"),
        pytest.param(
            "PVC_Stable_2",
            {REGION: "no_us-west1"},
            Status(UU, NO_ZONE),
            id="region label doesn't match",
        ),
        pytest.param(
            "PVC_Stable_1",
            {ZONE: "no_us-west1-a"},
            Status(UU, NO_ZONE),
            id="zone label doesn't match",
        ),
        pytest.param(
            "PVC_1",
            {ZONE: "us-west1-a"},
            Status(),
            id="a PV's beta zone label matches the node's GA zone label",
        ),
        pytest.param(
            "PVC_1",
            {ZONE: "us-west1-b"},
            Status(UU, NO_ZONE),
            id="a PV's beta zone label does not match another GA zone",
        ),
        pytest.param(
            "PVC_Stable_1",
            {BETA_ZONE: "us-west1-a"},
            Status(UU, NO_ZONE),
            id="a PV's GA label does not fall back to the node's beta label",
        ),
        pytest.param("PVC_Multi", {BETA_ZONE: "us-west1-a"}, Status(), id="multi-zone PV matched"),
        pytest.param(
            "PVC_Multi",
            {BETA_ZONE: "us-west1-b"},
            Status(UU, NO_ZONE),
            id="multi-zone PV doesn't match",
        ),
        pytest.param(
            "PVC_Plain",
            {ZONE: "us-west1-a"},
            Status(Code.Skip),
            id="a PV without topology labels is skipped",
        ),
    ],
)
def test_volume_zone_filter(claim, labels, want):
    p = with_claims(claim) if claim else pod()
    pre, verdicts = run_filter(
        VolumeZone(), p, [node("n", labels=labels)], objects=ZONE_PVS + ZONE_PVCS + ZONE_SCS
    )
    got = pre if not pre.is_success() else verdicts["n"]
    assert (got.code, got.reasons) == (want.code, want.reasons)


@pytest.mark.parametrize(
    ("claim", "want"),
    [
        pytest.param(
            "PVC_NoSC",
            Status(UU, "PersistentVolumeClaim had no pv name and storageClass name"),
            id="PVC with no storage class",
        ),
        pytest.param(
            "PVC_EmptySC",
            Status(UU, "PersistentVolumeClaim had no pv name and storageClass name"),
            id="PVC with an empty storage class",
        ),
        pytest.param(
            "PVC_WaitSC", Status(Code.Skip), id="unbound PVC of a WaitForFirstConsumer class"
        ),
        pytest.param(
            "PVC_ImmediateSC",
            Status(UU, "PersistentVolume had no name"),
            id="unbound PVC of an Immediate class",
        ),
        pytest.param(
            "PVC_NonExistentSC",
            Status(UU, 'storageclass.storage.k8s.io "Class_0" not found'),
            id="PVC of a class that does not exist",
        ),
        pytest.param(
            "PVC_UnsetSC",
            Status(UU, 'VolumeBindingMode not set for StorageClass "Class_Unset"'),
            id="class without a binding mode",
        ),
        pytest.param(
            "PVC_X", Status(UU, 'persistentvolumeclaim "PVC_X" not found'), id="PVC not found"
        ),
        pytest.param(
            "PVC_4", Status(UU, 'persistentvolume "Vol_not_exist" not found'), id="PV not found"
        ),
        pytest.param(
            "", Status(UU, "PersistentVolumeClaim had no name"), id="claim without a name"
        ),
    ],
)
def test_volume_zone_pre_filter(claim, want):
    pre, _ = run_filter(
        VolumeZone(),
        with_claims(claim),
        [node("n", labels={ZONE: "a"})],
        objects=ZONE_PVS + ZONE_PVCS + ZONE_SCS,
    )
    assert (pre.code, pre.reasons) == (want.code, want.reasons)


def test_volume_zone_without_pre_filter_state_computes_it_in_filter():
    snapshot = Snapshot([node("n", labels={ZONE: "b"})], [], ZONE_PVS + ZONE_PVCS)
    state = CycleState(snapshot)
    status = VolumeZone().filter(state, PodInfo(with_claims("PVC_Stable_1")), snapshot["n"])
    assert status == Status(UU, NO_ZONE)


# --- VolumeBinding (volume_binding_test.go, bound claims) ---------------------------------------

FOO_BAR = [{"matchExpressions": [{"key": "foo", "operator": "In", "values": ["bar"]}]}]
BIND_OBJECTS = [
    pvc("pvc-a", "pv-a"),
    pvc("pvc-b", "pv-b"),
    pvc("pvc-gone", "pv-gone"),
    pvc("pvc-immediate", sc="immediate-sc"),
    pvc("pvc-wffc", sc="wait-sc"),
    pvc("pvc-prebound", "pv-a", bound=False),
    pvc("pvc-lost", "pv-x"),
    pvc("pvc-deleting", "pv-a"),
    pv("pv-a", affinity=FOO_BAR),
    pv("pv-b"),
    sc("wait-sc"),
    sc("immediate-sc", "Immediate"),
]
BIND_OBJECTS[6]["status"] = {"phase": "Lost"}
BIND_OBJECTS[7]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
NODE_CONFLICT = "node(s) had volume node affinity conflict"


@pytest.mark.parametrize(
    ("claims", "labels", "want"),
    [
        pytest.param((), {"foo": "bar"}, Status(Code.Skip), id="pod has not pvcs"),
        pytest.param(("pvc-a",), {"foo": "bar"}, Status(), id="all bound"),
        pytest.param(("pvc-b",), {}, Status(), id="bound to a PV without node affinity"),
        pytest.param(
            ("pvc-a", "pvc-b"),
            {"foo": "barbar"},
            Status(UU, NODE_CONFLICT),
            id="bound PV's node affinity does not match the node",
        ),
        pytest.param(
            ("pvc-x",),
            {},
            Status(UU, 'persistentvolumeclaim "pvc-x" not found'),
            id="PVC does not exist",
        ),
        pytest.param(
            ("pvc-a", "pvc-y"),
            {},
            Status(UU, 'persistentvolumeclaim "pvc-y" not found'),
            id="Part of PVCs do not exist",
        ),
        pytest.param(
            ("pvc-immediate",),
            {},
            Status(UU, "pod has unbound immediate PersistentVolumeClaims"),
            id="immediate claims not bound",
        ),
        pytest.param(
            ("pvc-prebound",),
            {"foo": "bar"},
            Status(UU, "pod has unbound immediate PersistentVolumeClaims"),
            id="a pre-bound claim without bind-completed counts as immediate",
        ),
        pytest.param(
            ("pvc-wffc",),
            {},
            Status(),
            id="unbound WaitForFirstConsumer claim passes (not modelled)",
        ),
        pytest.param(
            ("pvc-gone",),
            {},
            Status(UU, "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"),
            id="pv not found",
        ),
        pytest.param(
            ("pvc-lost",),
            {},
            Status(
                UU, 'persistentvolumeclaim "pvc-lost" bound to non-existent persistentvolume "pv-x"'
            ),
            id="claim lost",
        ),
        pytest.param(
            ("pvc-deleting",),
            {},
            Status(UU, 'persistentvolumeclaim "pvc-deleting" is being deleted'),
            id="claim being deleted",
        ),
    ],
)
def test_volume_binding(claims, labels, want):
    pre, verdicts = run_filter(
        VolumeBinding(), with_claims(*claims), [node("n", labels=labels)], objects=BIND_OBJECTS
    )
    got = pre if not pre.is_success() else verdicts["n"]
    assert (got.code, got.reasons) == (want.code, want.reasons)


def test_volume_binding_ephemeral_volume_waits_for_its_claim():
    p = pod("web", volumes=[{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}])
    pre, _ = run_filter(VolumeBinding(), p, [node("n")])
    assert pre == Status(
        UU,
        'waiting for ephemeral volume controller to create the persistentvolumeclaim "web-scratch"',
    )
    foreign = pvc("web-scratch", "pv-b", ownerReferences=[{"uid": "other", "controller": True}])
    pre, _ = run_filter(VolumeBinding(), p, [node("n")], objects=[foreign, pv("pv-b")])
    assert pre == Status(
        UU, "PVC default/web-scratch was not created for pod default/web (pod is not owner)"
    )
    own = pvc("web-scratch", "pv-b", ownerReferences=[{"uid": "default/web", "controller": True}])
    pre, verdicts = run_filter(VolumeBinding(), p, [node("n")], objects=[own, pv("pv-b")])
    assert pre.is_success() and verdicts["n"].is_success()


# --- VolumeRestrictions (volume_restrictions_test.go) -------------------------------------------


def gce(pd, ro=False):
    return {"name": "v", "gcePersistentDisk": {"pdName": pd, "readOnly": ro}}


def ebs(vid):
    return {"name": "v", "awsElasticBlockStore": {"volumeID": vid}}


def rbd(mons, pool, image, ro=False):
    return {"name": "v", "rbd": {"monitors": mons, "pool": pool, "image": image, "readOnly": ro}}


def iscsi(iqn, ro=False):
    return {
        "name": "v",
        "iscsi": {"targetPortal": "127.0.0.1:3260", "iqn": iqn, "lun": 0, "readOnly": ro},
    }


DISK_CONFLICT = Status(U, "node(s) had no available disk")


@pytest.mark.parametrize(
    ("new", "existing", "want"),
    [
        pytest.param([], [], Status(Code.Skip), id="nothing"),
        pytest.param([gce("foo")], [gce("foo")], DISK_CONFLICT, id="same GCE PD"),
        pytest.param([gce("foo")], [gce("bar")], Status(), id="different GCE PD"),
        pytest.param(
            [gce("foo", True)], [gce("foo", True)], Status(), id="same GCE PD, both read-only"
        ),
        pytest.param(
            [gce("foo", True)], [gce("foo")], DISK_CONFLICT, id="same GCE PD, one read-write"
        ),
        pytest.param([ebs("foo")], [ebs("foo")], DISK_CONFLICT, id="same EBS volume"),
        pytest.param([ebs("foo")], [ebs("bar")], Status(), id="different EBS volume"),
        pytest.param(
            [rbd(["a", "b"], "foo", "bar")],
            [rbd(["c", "a"], "foo", "bar")],
            DISK_CONFLICT,
            id="RBD: overlapping monitors, same pool and image",
        ),
        pytest.param(
            [rbd(["a", "b"], "foo", "bar")],
            [rbd(["c", "d"], "foo", "bar")],
            Status(),
            id="RBD: disjoint monitors",
        ),
        pytest.param(
            [rbd(["a"], "foo", "bar")], [rbd(["a"], "foo", "baz")], Status(), id="RBD: other image"
        ),
        pytest.param(
            [rbd(["a"], "foo", "bar", True)],
            [rbd(["a"], "foo", "bar", True)],
            Status(),
            id="RBD: both read-only",
        ),
        pytest.param(
            [iscsi("iqn.2016-12.server:storage.target01")],
            [iscsi("iqn.2016-12.server:storage.target01")],
            DISK_CONFLICT,
            id="same iSCSI IQN",
        ),
        pytest.param(
            [iscsi("iqn.2016-12.server:storage.target01")],
            [iscsi("iqn.2017-12.server:storage.target01")],
            Status(),
            id="different iSCSI IQN",
        ),
    ],
)
def test_volume_restrictions_disks(new, existing, want):
    pods = [pod("old", node_name="n", volumes=existing)] if existing else []
    pre, verdicts = run_filter(VolumeRestrictions(), pod(volumes=new), [node("n")], pods)
    got = pre if pre.is_skip() else verdicts["n"]
    assert got == want


RWOP = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)


def test_read_write_once_pod_claim_in_use_anywhere_rejects_every_node():
    objects = [pvc("claim-rwop", "pv-a", modes=("ReadWriteOncePod",)), pvc("claim-rwo", "pv-b")]
    user = with_claims("claim-rwop", name="user", node_name="n1")
    pre, verdicts = run_filter(
        VolumeRestrictions(), with_claims("claim-rwop"), [node("n1"), node("n2")], [user], objects
    )
    assert pre.is_success()
    assert verdicts == {"n1": Status(U, RWOP), "n2": Status(U, RWOP)}
    pre, verdicts = run_filter(
        VolumeRestrictions(),
        with_claims("claim-rwo"),
        [node("n1"), node("n2")],
        [with_claims("claim-rwo", name="u", node_name="n1")],
        objects,
    )
    assert verdicts == {"n1": Status(), "n2": Status()}
    pre, _ = run_filter(VolumeRestrictions(), with_claims("nope"), [node("n1")], [], objects)
    assert pre == Status(UU, 'persistentvolumeclaim "nope" not found')


def test_read_write_once_pod_preemption_removes_the_user():
    objects = [pvc("claim-rwop", "pv-a", modes=("ReadWriteOncePod",))]
    user = with_claims("claim-rwop", name="user", node_name="n1", priority=0)
    snapshot = Snapshot([node("n1")], [user], objects)
    state, incoming, plugin = (
        CycleState(snapshot),
        PodInfo(with_claims("claim-rwop")),
        VolumeRestrictions(),
    )
    plugin.pre_filter(state, incoming, snapshot.node_infos)
    victim = snapshot["n1"].pods[0]
    plugin.remove_pod(state, incoming, victim, snapshot["n1"])
    assert plugin.filter(state, incoming, snapshot["n1"]).is_success()
    plugin.add_pod(state, incoming, victim, snapshot["n1"])
    assert plugin.filter(state, incoming, snapshot["n1"]) == Status(U, RWOP)


# --- NodeVolumeLimits (csi_test.go) --------------------------------------------------------------

EBS = "ebs.csi.aws.com"


def csi_node(name, **limits):
    drivers = [
        {"name": d.replace("_", "."), "nodeID": name, "allocatable": {"count": c}}
        for d, c in limits.items()
    ]
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSINode",
        "metadata": {"name": name},
        "spec": {"drivers": drivers},
    }


LIMIT_OBJECTS = [
    *(pvc(f"csi-ebs.csi.aws.com-{i}", f"vol-{i}") for i in range(4)),
    *(pv(f"vol-{i}", csi=(EBS, f"handle-{i}")) for i in range(4)),
    pvc("csi-gce", "vol-gce"),
    pv("vol-gce", csi=("pd.csi.storage.gke.io", "gce-1")),
    pvc("unbound-ebs", sc="ebs-sc"),
    sc("ebs-sc", provisioner=EBS),
    pvc("intree", "vol-intree"),
    {**pv("vol-intree"), "spec": {"awsElasticBlockStore": {"volumeID": "x"}}},
]
EXCEEDS = Status(U, "node(s) exceed max volume count")


@pytest.mark.parametrize(
    ("new", "existing", "limit", "want"),
    [
        pytest.param(
            ["csi-ebs.csi.aws.com-0"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            4,
            Status(),
            id="fits when limit is more than volume count",
        ),
        pytest.param(
            ["csi-ebs.csi.aws.com-0"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            2,
            EXCEEDS,
            id="doesn't when node volume limit <= pods CSI volume",
        ),
        pytest.param(
            ["csi-ebs.csi.aws.com-1"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            2,
            Status(),
            id="the same volume attached for another pod is not counted twice",
        ),
        pytest.param(
            ["csi-gce"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            2,
            Status(),
            id="another driver has no limit",
        ),
        pytest.param(
            ["unbound-ebs"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            2,
            EXCEEDS,
            id="an unbound claim counts against its class's provisioner",
        ),
        pytest.param(
            ["csi-ebs.csi.aws.com-0"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            None,
            Status(),
            id="a node without CSINode has no limits",
        ),
        pytest.param(
            ["intree"],
            ["csi-ebs.csi.aws.com-1", "csi-ebs.csi.aws.com-2"],
            2,
            Status(),
            id="in-tree volumes are not counted (CSI migration not modelled)",
        ),
        pytest.param(
            ["missing"],
            [],
            2,
            Status(UU, 'looking up PVC default/missing: persistentvolumeclaim "missing" not found'),
            id="a missing claim of the new pod",
        ),
    ],
)
def test_node_volume_limits(new, existing, limit, want):
    objects = LIMIT_OBJECTS + ([csi_node("n", ebs_csi_aws_com=limit)] if limit is not None else [])
    pods = [with_claims(*existing, name="old", node_name="n")]
    pre, verdicts = run_filter(NodeVolumeLimits(), with_claims(*new), [node("n")], pods, objects)
    assert pre.is_success()
    assert verdicts["n"] == want


def test_node_volume_limits_skips_pods_without_claims():
    pre, _ = run_filter(
        NodeVolumeLimits(), pod(volumes=[{"name": "e", "emptyDir": {}}]), [node("n")]
    )
    assert pre.is_skip()


# --- through evaluate() --------------------------------------------------------------------------


def test_evaluate_keeps_a_pod_in_its_volume_zone_and_explains_the_rest():
    nodes = [
        node(
            f"n-{z}",
            labels={ZONE: f"us-east-1{z}", "kubernetes.io/hostname": f"n-{z}"},
            allocatable={"cpu": "4", "memory": "8Gi", "pods": "110"},
        )
        for z in "abc"
    ]
    nodes.append(
        node("n-x", labels={"foo": "bar"}, allocatable={"cpu": "4", "memory": "8Gi", "pods": "110"})
    )
    in_b = [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["us-east-1b"]}]}]
    # Labels only: VolumeZone decides; a node without zone labels passes it.
    ev = evaluate(
        with_claims("data"),
        nodes,
        pvcs=[pvc("data", "pv-b")],
        pvs=[pv("pv-b", {ZONE: "us-east-1b"})],
    )
    assert {n: r.reason for n, r in ev.filters.items() if not r.passed} == {
        "n-a": NO_ZONE,
        "n-c": NO_ZONE,
    }
    # Node affinity too: VolumeBinding runs first, so its reason is the one reported.
    pvs = [pv("pv-b", {ZONE: "us-east-1b"}, affinity=in_b)]
    ev = evaluate(with_claims("data"), nodes, pvcs=[pvc("data", "pv-b")], pvs=pvs)
    assert ev.selected == "n-b"
    assert {n: (r.plugin, r.reason) for n, r in ev.filters.items() if not r.passed} == {
        n: ("VolumeBinding", NODE_CONFLICT) for n in ("n-a", "n-c", "n-x")
    }
    ev = evaluate(
        with_claims("data"),
        nodes[:1],
        pvcs=[pvc("data", "pv-b")],
        pvs=[pv("pv-b", {ZONE: "us-east-1b"})],
    )
    assert ev.message == (
        "0/1 nodes are available: 1 node(s) had no available volume zone. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    ev = evaluate(with_claims("data"), nodes, pvs=pvs)
    assert ev.message.startswith('0/4 nodes are available: persistentvolumeclaim "data" not found.')


def test_evaluate_rejects_pvcs_with_a_prebuilt_snapshot():
    from kube_teach.scheduler import SchedulerError

    with pytest.raises(SchedulerError):
        evaluate(pod(), Snapshot([node("n")]), pvcs=[pvc("data", "pv")])
