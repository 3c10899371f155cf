"""Invariants of placements made with evaluate(), checked on random clusters, and the vectorized
paths checked against the node-by-node ones."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.scheduler import DEFAULT_PROFILE, Snapshot, evaluate
from kube_teach.scheduler.framework import (
    CycleState,
    PodInfo,
    find_nodes_that_pass_filters,
    run_pre_filter,
    run_pre_score,
    run_scores,
)

from .builders import container, node, pod

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


@st.composite
def clusters(draw, max_nodes=6):
    n = draw(st.integers(1, max_nodes))
    nodes = []
    for i in range(n):
        name = f"n{i}"
        nodes.append(
            node(
                name,
                labels={
                    HOST: name,
                    ZONE: f"z{draw(st.integers(0, 2))}",
                    "disk": draw(st.sampled_from(["ssd", "hdd"])),
                },
                allocatable={
                    "cpu": f"{draw(st.integers(1, 8)) * 500}m",
                    "memory": f"{draw(st.integers(1, 8))}Gi",
                    "pods": str(draw(st.integers(1, 8))),
                },
                taints=draw(
                    st.sampled_from(
                        [(), ({"key": "dedicated", "value": "db", "effect": "NoSchedule"},)]
                    )
                ),
            )
        )
    return nodes


requests = st.one_of(
    st.none(),
    st.fixed_dictionaries({"cpu": st.sampled_from(["100m", "250m", "500m", "1", "2"])}),
    st.fixed_dictionaries(
        {
            "cpu": st.sampled_from(["100m", "750m"]),
            "memory": st.sampled_from(["128Mi", "1Gi", "3Gi"]),
        }
    ),
)


def naive_request(spec):
    """The obviously correct request for pods without sidecars: max(sum, each init)."""
    from kube_teach.api.quantity import Quantity

    def of(c, name):
        q = ((c.get("resources") or {}).get("requests") or {}).get(name)
        return Quantity(q).as_fraction() if q is not None else 0

    out = {}
    for name in ("cpu", "memory"):
        total = sum(of(c, name) for c in spec["containers"])
        out[name] = max([total] + [of(c, name) for c in spec.get("initContainers") or []])
    return out


@settings(max_examples=30, deadline=None)
@given(
    nodes=clusters(),
    reqs=st.lists(st.tuples(requests, requests), min_size=1, max_size=20),
    seed=st.integers(0, 9),
)
def test_a_chosen_node_always_fits_its_allocatable(nodes, reqs, seed):
    snapshot, rng, start = Snapshot(nodes), random.Random(seed), 0
    for i, (main, init) in enumerate(reqs):
        p = pod(
            f"p{i}",
            containers=[container(main)],
            init_containers=[container(init, name="init")] if init else (),
        )
        ev = evaluate(p, snapshot, rng=rng, start_index=start)
        start = ev.next_start_index
        if ev.selected:
            snapshot.add_pod(p, ev.selected)
    for ni in snapshot.node_infos:
        alloc = nodes[ni.index]["status"]["allocatable"]
        from kube_teach.api.quantity import Quantity

        used = {"cpu": 0, "memory": 0}
        for pi in ni.pods:
            for k, v in naive_request(pi.spec).items():
                used[k] += v
        assert used["cpu"] <= Quantity(alloc["cpu"]).as_fraction()
        assert used["memory"] <= Quantity(alloc["memory"]).as_fraction()
        assert len(ni.pods) <= int(alloc["pods"])
        if ni.taints:
            assert not ni.pods  # nothing tolerates the dedicated taint


@settings(max_examples=25, deadline=None)
@given(
    nodes=clusters(),
    key=st.sampled_from([ZONE, HOST]),
    max_skew=st.integers(1, 2),
    count=st.integers(1, 25),
    seed=st.integers(0, 9),
)
def test_do_not_schedule_never_exceeds_max_skew(nodes, key, max_skew, count, seed):
    for n in nodes:
        n["spec"].pop("taints", None)
    constraint = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
                  "labelSelector": {"matchLabels": {"app": "web"}}}  # fmt: skip
    snapshot, rng, start = Snapshot(nodes), random.Random(seed), 0
    for i in range(count):
        p = pod(
            f"web-{i}",
            labels={"app": "web"},
            requests={"cpu": "100m"},
            topologySpreadConstraints=[constraint],
        )
        ev = evaluate(p, snapshot, rng=rng, start_index=start)
        start = ev.next_start_index
        if ev.selected:
            snapshot.add_pod(p, ev.selected)
        per_domain = {}
        for ni in snapshot.node_infos:
            per_domain[ni.labels[key]] = per_domain.get(ni.labels[key], 0) + len(ni.pods)
        assert max(per_domain.values()) - min(per_domain.values()) <= max_skew


@settings(max_examples=25, deadline=None)
@given(
    nodes=clusters(),
    plan=st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([None, HOST, ZONE])),
        min_size=1,
        max_size=18,
    ),
    seed=st.integers(0, 9),
)
def test_required_anti_affinity_is_never_violated(nodes, plan, seed):
    for n in nodes:
        n["spec"].pop("taints", None)
    snapshot, rng, start = Snapshot(nodes), random.Random(seed), 0
    placed = []
    for i, (app, anti_key) in enumerate(plan):
        spec = {}
        if anti_key:
            spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": anti_key}]}}  # fmt: skip
        p = pod(f"p{i}", labels={"app": app}, requests={"cpu": "100m"}, **spec)
        ev = evaluate(p, snapshot, rng=rng, start_index=start)
        start = ev.next_start_index
        if ev.selected:
            snapshot.add_pod(p, ev.selected)
            placed.append((p, ev.selected, app, anti_key))
    labels = {ni.name: ni.labels for ni in snapshot.node_infos}
    for p, where, app, anti_key in placed:
        if not anti_key:
            continue
        for q, other, q_app, _ in placed:
            if q is not p and q_app == app:
                assert labels[where][anti_key] != labels[other][anti_key]


@st.composite
def random_pod(draw):
    spec = {}
    if draw(st.booleans()):
        spec["nodeSelector"] = {"disk": draw(st.sampled_from(["ssd", "hdd"]))}
    if draw(st.booleans()):
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    kinds = draw(
        st.sets(st.sampled_from(["anti", "affinity", "spread", "soft-spread", "preferred"]))
    )
    app = {"matchLabels": {"app": draw(st.sampled_from(["a", "b"]))}}
    affinity = {}
    if "anti" in kinds:
        affinity["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": app, "topologyKey": draw(st.sampled_from([HOST, ZONE]))}]}  # fmt: skip
    if "affinity" in kinds:
        affinity["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": app, "topologyKey": ZONE}]}  # fmt: skip
    if "preferred" in kinds:
        affinity.setdefault("podAffinity", {})["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 10, "podAffinityTerm": {"labelSelector": app, "topologyKey": HOST}}]  # fmt: skip
    if affinity:
        spec["affinity"] = affinity
    constraints = []
    if "spread" in kinds:
        constraints.append(
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": app,
            }
        )
    if "soft-spread" in kinds:
        constraints.append(
            {
                "maxSkew": 2,
                "topologyKey": HOST,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": app,
            }
        )
    if constraints:
        spec["topologySpreadConstraints"] = constraints
    ports = [{"containerPort": 80, "hostPort": 8080}] if draw(st.booleans()) else ()
    return pod("incoming", labels={"app": draw(st.sampled_from(["a", "b"]))},
               containers=[container(draw(requests), ports=ports)], **spec)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    nodes=clusters(),
    existing=st.lists(random_pod(), max_size=8),
    incoming=random_pod(),
    seed=st.integers(0, 99),
)
def test_vectorized_paths_agree_with_node_by_node_paths(nodes, existing, incoming, seed):
    rnd = random.Random(seed)
    pods = []
    for i, p in enumerate(existing):
        p["metadata"]["name"] = p["metadata"]["uid"] = f"e{i}"
        p["spec"]["nodeName"] = rnd.choice(nodes)["metadata"]["name"]
        pods.append(p)
    snapshot = Snapshot(nodes, pods)
    pi = PodInfo(incoming)
    state = CycleState(snapshot, random.Random(0), DEFAULT_PROFILE)
    _, status, _ = run_pre_filter(DEFAULT_PROFILE, state, pi, snapshot.node_infos)
    if not status.is_success():
        return
    start = rnd.randrange(len(nodes))
    fast = find_nodes_that_pass_filters(
        DEFAULT_PROFILE, state, pi, snapshot.node_infos, start, 100, whole_snapshot=True
    )
    slow = find_nodes_that_pass_filters(
        DEFAULT_PROFILE, state, pi, list(snapshot.node_infos), start, 100
    )
    assert [ni.name for ni in fast[0]] == [ni.name for ni in slow[0]]
    assert fast[1] == slow[1] and fast[2] == slow[2]
    feasible = list(fast[0])
    if not feasible:
        return
    assert run_pre_score(DEFAULT_PROFILE, state, pi, feasible).is_success()
    scores, _ = run_scores(DEFAULT_PROFILE, state, pi, feasible)
    for ps in scores:
        plugin = next(p for p in DEFAULT_PROFILE.plugins["score"] if p.name == ps.plugin)
        assert list(ps.raw) == [plugin.score(state, pi, ni) for ni in feasible], ps.plugin
