"""QoS classes and oom_score_adj against upstream's cases.

Cases come from pkg/apis/core/v1/helper/qos/qos_test.go (TestComputePodQOS) and
pkg/kubelet/qos/policy_test.go (TestGetContainerOOMScoreAdjust), memory capacity 8e9 bytes
("standardMemoryAmount") unless said otherwise.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.defaults import apply_defaults
from kube_teach.kubelet.qos import (
    BEST_EFFORT,
    BURSTABLE,
    GUARANTEED,
    aggregate_container_requests,
    get_pod_qos,
    is_critical_pod,
    is_node_critical_pod,
    oom_score_adj,
    pod_request,
    qos_class,
)

STANDARD_MEMORY = 8_000_000_000


def rl(cpu="", memory="", **extra):
    out = {}
    if cpu:
        out["cpu"] = cpu
    if memory:
        out["memory"] = memory
    out.update({k.replace("_", "-"): v for k, v in extra.items()})
    return out


def ctr(name, requests=None, limits=None, **fields):
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "busybox", "resources": resources, **fields}


def pod(containers, init=(), resources=None, **spec):
    body = {"containers": list(containers), **spec}
    if init:
        body["initContainers"] = list(init)
    if resources is not None:
        body["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": body}


# -- TestComputePodQOS ---------------------------------------------------------------------------
G = ctr("guaranteed", rl("100m", "100Mi"), rl("100m", "100Mi"))
BE = ctr("best-effort")


@pytest.mark.parametrize(
    ("the_pod", "want"),
    [
        pytest.param(pod([G]), GUARANTEED, id="guaranteed"),
        pytest.param(pod([G, G]), GUARANTEED, id="guaranteed-guaranteed"),
        pytest.param(pod([BE, BE]), BEST_EFFORT, id="best-effort-best-effort"),
        pytest.param(pod([BE]), BEST_EFFORT, id="best-effort"),
        pytest.param(pod([BE, ctr("b", rl("1"), rl("2"))]), BURSTABLE, id="best-effort-burstable"),
        pytest.param(
            pod([BE, ctr("g", rl("10m", "100Mi"), rl("10m", "100Mi"))]),
            BURSTABLE,
            id="best-effort-guaranteed",
        ),
        pytest.param(
            pod([ctr("b", rl(memory="100Mi"), rl(memory="100Mi"))]),
            BURSTABLE,
            id="burstable-cpu-guaranteed-memory",
        ),
        pytest.param(pod([ctr("b", rl("100m", "100Mi"))]), BURSTABLE, id="burstable-no-limits"),
        pytest.param(
            pod([ctr("b", rl("1", "100Mi"), rl("2", "100Mi")), G]),
            BURSTABLE,
            id="burstable-guaranteed",
        ),
        pytest.param(
            pod(
                [
                    ctr("b", rl("100m", "100Mi"), rl("200m", "200Mi")),
                    ctr("u", rl("100m", "100Mi")),
                ]
            ),
            BURSTABLE,
            id="burstable-unbounded-but-requests-match-limits",
        ),
        pytest.param(
            pod([ctr("b", rl("10m", "100Mi"), rl("100m", "200Mi"))]), BURSTABLE, id="burstable-1"
        ),
        pytest.param(
            pod([ctr("b", rl("0", "0"), rl("100m", "200Mi"))]), BURSTABLE, id="burstable-2"
        ),
        pytest.param(
            pod(
                [
                    ctr(
                        "be",
                        rl("0", "0", hugepages_2Mi="1Gi"),
                        rl("0", "0", hugepages_2Mi="1Gi"),
                    )
                ]
            ),
            BEST_EFFORT,
            id="best-effort-hugepages",
        ),
        pytest.param(
            pod([BE], init=[ctr("b", rl("10m", "100Mi"), rl("100m", "200Mi"))]),
            BURSTABLE,
            id="init-container",
        ),
        pytest.param(
            pod([BE], resources={"requests": rl("10m", "100Mi"), "limits": rl("10m", "100Mi")}),
            GUARANTEED,
            id="guaranteed-with-pod-level-resources",
        ),
        pytest.param(
            pod(
                [ctr("b", rl("3m", "10Mi"), rl("5m", "20Mi"))],
                resources={"requests": rl("10m", "100Mi"), "limits": rl("10m", "100Mi")},
            ),
            GUARANTEED,
            id="guaranteed-with-pod-and-container-level-resources",
        ),
        pytest.param(
            pod([BE], resources={"requests": rl("10m", "10Mi"), "limits": rl("20m", "50Mi")}),
            BURSTABLE,
            id="burstable-with-pod-level-resources",
        ),
        pytest.param(
            pod(
                [ctr("b", rl("5m", "10Mi"), rl("5m", "10Mi"))],
                resources={"requests": rl("10m", "10Mi"), "limits": rl("20m", "50Mi")},
            ),
            BURSTABLE,
            id="burstable-with-pod-and-container-level-resources",
        ),
        pytest.param(
            pod([ctr("b", rl("5m", "10Mi"))], resources={"requests": rl("10m", "10Mi")}),
            BURSTABLE,
            id="burstable-with-pod-and-container-level-requests",
        ),
        pytest.param(
            pod(
                [ctr("b", rl("5m", "10Mi")), ctr("g", rl("5m", "10Mi"), rl("5m", "10Mi"))],
                resources={"requests": rl("10m", "10Mi"), "limits": rl("5m")},
            ),
            BURSTABLE,
            id="burstable-with-pod-and-container-level-resources-2",
        ),
    ],
)
def test_compute_pod_qos(the_pod, want):
    assert qos_class(the_pod) == want


def test_pod_level_resources_are_ignored_with_the_gate_off():
    p = pod([BE], resources={"requests": rl("10m", "100Mi"), "limits": rl("10m", "100Mi")})
    assert qos_class(p, pod_level_resources=False) == BEST_EFFORT


def test_limits_only_pod_is_guaranteed_once_defaulted():
    raw = pod([ctr("app", limits=rl("500m", "256Mi"))])
    assert qos_class(raw) == BURSTABLE
    assert qos_class(apply_defaults(raw)) == GUARANTEED


def test_status_qos_class_wins_in_get_pod_qos():
    p = {**pod([BE]), "status": {"qosClass": "Guaranteed"}}
    assert get_pod_qos(p) == GUARANTEED
    assert qos_class(p) == BEST_EFFORT


def test_the_seeds_three_examples():
    assert qos_class(pod([ctr("a", rl("1000m", "1Gi"), rl("1000m", "1Gi"))])) == GUARANTEED
    assert qos_class(pod([ctr("a", rl("500m", "500Mi"), rl("2000m", "2Gi"))])) == BURSTABLE
    assert qos_class(pod([ctr("a")])) == BEST_EFFORT


quantities = st.sampled_from(["", "0", "100m", "250m", "1", "64Mi", "128Mi", "1Gi"])


@st.composite
def containers(draw):
    cpu_req, mem_req, cpu_lim, mem_lim = (draw(quantities) for _ in range(4))
    return ctr("c", rl(cpu_req, mem_req), rl(cpu_lim, mem_lim))


@given(st.lists(containers(), min_size=1, max_size=4))
def test_guaranteed_iff_every_container_has_equal_nonzero_cpu_and_memory(cs):
    from kube_teach.api.quantity import Quantity

    def nonzero(v):
        return v not in ("", "0")

    def equal(c, name):
        req = c["resources"].get("requests", {}).get(name, "0")
        lim = c["resources"].get("limits", {}).get(name, "0")
        return nonzero(lim) and Quantity(req) == Quantity(lim)

    expected = all(equal(c, "cpu") and equal(c, "memory") for c in cs)
    assert (qos_class(pod(cs)) == GUARANTEED) == expected


@given(st.lists(containers(), min_size=1, max_size=4))
def test_best_effort_iff_no_cpu_or_memory_anywhere(cs):
    def empty(c):
        values = [*c["resources"].get("requests", {}).values()]
        values += [*c["resources"].get("limits", {}).values()]
        return all(v in ("", "0") for v in values)

    assert (qos_class(pod(cs)) == BEST_EFFORT) == all(empty(c) for c in cs)


# -- TestGetContainerOOMScoreAdjust -------------------------------------------------------------
DEFAULT_MEM_REQUEST = str(STANDARD_MEMORY // 8)
DEFAULT_MEM_LIMIT = str(1000 + STANDARD_MEMORY // 8)
DEFAULT_POD_MEM_REQUEST = str(STANDARD_MEMORY // 4)
DEFAULT_POD_MEM_LIMIT = str(1000 + STANDARD_MEMORY // 4)
ALWAYS = {"restartPolicy": "Always"}


def sample(name, request=DEFAULT_MEM_REQUEST, limit=DEFAULT_MEM_LIMIT, **fields):
    return ctr(name, rl(memory=request), rl(memory=limit), **fields)


def pod_level(requests_memory, limits_memory):
    return {
        "requests": rl("5m", requests_memory),
        "limits": rl("5m", limits_memory),
    }


OOM_CASES = [
    (
        "cpu-limit",
        pod([ctr("cpu-limit", limits=rl("10"))]),
        4_000_000_000,
        {"cpu-limit": (999, 999)},
    ),
    (
        "memory-limit-cpu-request",
        pod([ctr("memory-limit-cpu-request", rl("0"), rl(memory="10G"))]),
        8_000_000_000,
        {"memory-limit-cpu-request": (999, 999)},
    ),
    (
        "zero-memory-limit",
        pod([ctr("zero-memory-limit", limits=rl(memory="0"))]),
        7_230_457_451,
        {"zero-memory-limit": (1000, 1000)},
    ),
    (
        "no-request-limit",
        pod([ctr("no-request-limit")]),
        4_000_000_000,
        {"no-request-limit": (1000, 1000)},
    ),
    (
        "equal-request-limit-cpu-memory",
        pod([ctr("e", rl("5m", "10G"), rl("5m", "10G"))]),
        123_456_789,
        {"e": (-997, -997)},
    ),
    (
        "cpu-unlimited-memory-limited-with-requests",
        pod([ctr("c", rl("5m", str(STANDARD_MEMORY // 2)), rl(memory="10G"))]),
        STANDARD_MEMORY,
        {"c": (495, 505)},
    ),
    (
        "request-no-limit",
        pod([ctr("r", rl("5m", str(STANDARD_MEMORY - 1)))]),
        STANDARD_MEMORY,
        {"r": (3, 3)},
    ),
    (
        "cluster-critical",
        pod(
            [ctr("cluster-critical")],
            priorityClassName="system-cluster-critical",
            priority=2_000_000_000,
        ),
        4_000_000_000,
        {"cluster-critical": (1000, 1000)},
    ),
    (
        "node-critical",
        pod(
            [ctr("node-critical")], priorityClassName="system-node-critical", priority=2_000_001_000
        ),
        4_000_000_000,
        {"node-critical": (-997, -997)},
    ),
    (
        "burstable-unique-container-pod",
        pod([sample("burstable-unique-container")]),
        STANDARD_MEMORY,
        {"burstable-unique-container": (875, 880)},
    ),
    (
        "burstable-mixed-unique-main-container-pod",
        pod([sample("main-1")], init=[sample("init-container")]),
        STANDARD_MEMORY,
        {"init-container": (875, 880), "main-1": (875, 880)},
    ),
    (
        "burstable-mixed-multi-container-small-sidecar-pod",
        pod(
            [sample("main-1")],
            init=[
                sample("init-container"),
                sample("sidecar-small-container", str(STANDARD_MEMORY // 20), **ALWAYS),
            ],
        ),
        STANDARD_MEMORY,
        {"init-container": (875, 880), "sidecar-small-container": (875, 875), "main-1": (875, 875)},
    ),
    (
        "burstable-mixed-multi-container-same-request-pod",
        pod(
            [sample("main-1")],
            init=[sample("init-container"), sample("sidecar-container", **ALWAYS)],
        ),
        STANDARD_MEMORY,
        {"init-container": (875, 880), "sidecar-container": (875, 875), "main-1": (875, 875)},
    ),
    (
        "burstable-mixed-multi-container-big-sidecar-container-pod",
        pod(
            [sample("main-1")],
            init=[
                sample("init-container"),
                sample("sidecar-big-container", str(STANDARD_MEMORY // 2), **ALWAYS),
            ],
        ),
        STANDARD_MEMORY,
        {"init-container": (875, 880), "sidecar-big-container": (500, 500), "main-1": (875, 875)},
    ),
    (
        "guaranteed-pod-resources-no-container-resources",
        pod(
            [ctr("no-request-limit-1"), ctr("no-request-limit-2")],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_REQUEST),
        ),
        4_000_000_000,
        {"no-request-limit-1": (-997, -997), "no-request-limit-2": (-997, -997)},
    ),
    (
        "guaranteed-pod-resources-unequal-container-requests",
        pod(
            [
                ctr(
                    "burstable-container",
                    rl("3m", DEFAULT_MEM_REQUEST),
                    rl("5m", DEFAULT_MEM_LIMIT),
                ),
                ctr("best-effort-container"),
            ],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_REQUEST),
        ),
        4_000_000_000,
        {"burstable-container": (-997, -997), "best-effort-container": (-997, -997)},
    ),
    (
        "burstable-pod-resources-no-container-resources",
        pod(
            [ctr("no-request-limit-1"), ctr("no-request-limit-2")],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_LIMIT),
        ),
        4_000_000_000,
        {"no-request-limit-1": (750, 750), "no-request-limit-2": (750, 750)},
    ),
    (
        "burstable-pod-resources-equal-container-requests",
        pod(
            [
                ctr("g1", rl("5m", DEFAULT_MEM_REQUEST), rl("5m", DEFAULT_MEM_REQUEST)),
                ctr("g2", rl("5m", DEFAULT_MEM_REQUEST), rl("5m", DEFAULT_MEM_REQUEST)),
            ],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_LIMIT),
        ),
        4_000_000_000,
        {"g1": (750, 750), "g2": (750, 750)},
    ),
    (
        "burstable-pod-resources-unequal-container-requests",
        pod(
            [
                ctr(
                    "burstable-container",
                    rl("3m", DEFAULT_MEM_REQUEST),
                    rl("5m", DEFAULT_MEM_REQUEST),
                ),
                ctr("best-effort-container"),
            ],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_LIMIT),
        ),
        4_000_000_000,
        {"burstable-container": (625, 625), "best-effort-container": (875, 875)},
    ),
    (
        "burstable-pod-resources-no-container-resources-with-sidecar",
        pod(
            [ctr("no-request-limit")],
            init=[ctr("no-request-limit-sidecar", **ALWAYS)],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_LIMIT),
        ),
        4_000_000_000,
        {"no-request-limit": (750, 750), "no-request-limit-sidecar": (750, 750)},
    ),
    (
        "burstable-pod-resources-equal-container-requests-with-sidecar",
        pod(
            [
                ctr(
                    "burstable-container",
                    rl("5m", DEFAULT_MEM_REQUEST),
                    rl("5m", DEFAULT_MEM_LIMIT),
                )
            ],
            init=[
                ctr(
                    "burstable-sidecar",
                    rl("5m", DEFAULT_MEM_REQUEST),
                    rl("5m", DEFAULT_MEM_LIMIT),
                    **ALWAYS,
                )
            ],
            resources=pod_level(DEFAULT_POD_MEM_REQUEST, DEFAULT_POD_MEM_LIMIT),
        ),
        4_000_000_000,
        {"burstable-container": (750, 750), "burstable-sidecar": (750, 750)},
    ),
    (
        "burstable-pod-resources-unequal-container-requests-with-sidecar",
        pod(
            [
                ctr(
                    "burstable-container-1", rl("5m", "1000000000"), rl("5m", DEFAULT_POD_MEM_LIMIT)
                ),
                ctr(
                    "burstable-container-2", rl("5m", "500000000"), rl("5m", DEFAULT_POD_MEM_LIMIT)
                ),
            ],
            init=[
                ctr(
                    "burstable-sidecar",
                    rl("5m", "200000000"),
                    rl("5m", DEFAULT_POD_MEM_LIMIT),
                    **ALWAYS,
                )
            ],
            resources=pod_level("2000000000", DEFAULT_POD_MEM_LIMIT),
        ),
        4_000_000_000,
        {
            "burstable-container-1": (725, 725),
            "burstable-container-2": (850, 850),
            "burstable-sidecar": (850, 850),
        },
    ),
]


@pytest.mark.parametrize(
    ("the_pod", "capacity", "want"), [pytest.param(*c[1:], id=c[0]) for c in OOM_CASES]
)
def test_get_container_oom_score_adjust(the_pod, capacity, want):
    got = {
        c["name"]: oom_score_adj(the_pod, c, capacity)
        for c in [*the_pod["spec"].get("initContainers", []), *the_pod["spec"]["containers"]]
    }
    for name, (low, high) in want.items():
        assert low <= got[name] <= high, (name, got[name])


def test_oom_score_adj_takes_a_container_name_and_a_quantity():
    p = pod([ctr("app", rl(memory="1Gi"))])
    assert oom_score_adj(p, "app", "8Gi") == 1000 - 1000 * 2**30 // (8 * 2**30)  # 875


@pytest.mark.parametrize(
    ("request_bytes", "want"),
    [
        pytest.param(1, 999, id="a tiny request would give 1000, held at 999 below BestEffort"),
        pytest.param(STANDARD_MEMORY, 3, id="a request of the whole node is raised to 3"),
        pytest.param(STANDARD_MEMORY // 10, 900, id="a tenth of the node gives 900"),
    ],
)
def test_burstable_clamp(request_bytes, want):
    p = pod([ctr("c", rl(memory=str(request_bytes)), rl(memory=str(STANDARD_MEMORY * 2)))])
    assert oom_score_adj(p, "c", STANDARD_MEMORY) == want


@given(st.integers(1, 2 * STANDARD_MEMORY))
def test_burstable_scores_stay_within_3_and_999(request):
    p = pod([ctr("c", rl(memory=str(request)))])
    assert 3 <= oom_score_adj(p, "c", STANDARD_MEMORY) <= 999


# -- critical pods and request sums ---------------------------------------------------------------
def test_critical_pods():
    static = {
        **pod([BE]),
        "metadata": {"name": "s", "annotations": {"kubernetes.io/config.source": "file"}},
    }
    api = {
        **pod([BE]),
        "metadata": {"name": "a", "annotations": {"kubernetes.io/config.source": "api"}},
    }
    mirror = {
        **pod([BE]),
        "metadata": {"name": "m", "annotations": {"kubernetes.io/config.mirror": "x"}},
    }
    assert is_critical_pod(static) and is_critical_pod(mirror)
    assert not is_critical_pod(api)
    assert is_critical_pod(pod([BE], priority=2_000_000_000))
    assert not is_critical_pod(pod([BE], priority=1_999_999_999))
    assert not is_node_critical_pod(
        pod([BE], priority=2_000_000_000, priorityClassName="system-cluster-critical")
    )
    assert is_node_critical_pod(
        pod([BE], priority=2_000_001_000, priorityClassName="system-node-critical")
    )


def test_aggregate_requests_take_the_init_peak_and_sum_sidecars():
    p = pod(
        [ctr("a", rl("100m", "100Mi")), ctr("b", rl("100m", "100Mi"))],
        init=[
            ctr("sidecar", rl("50m", "50Mi"), **ALWAYS),
            ctr("init", rl("1", "64Mi")),
        ],
    )
    total = aggregate_container_requests(p)
    assert total["cpu"] == "1050m"  # the init container runs beside the sidecar started before it
    assert total["memory"] == "250Mi"  # a + b + sidecar


def test_pod_request_adds_overhead_only_to_a_non_zero_total():
    with_overhead = pod([ctr("a", rl(memory="100Mi"))], overhead=rl("10m", "10Mi"))
    assert pod_request(with_overhead, "memory") == "110Mi"
    assert pod_request(pod([BE], overhead=rl(memory="10Mi")), "memory") == 0
