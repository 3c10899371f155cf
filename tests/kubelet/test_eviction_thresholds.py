"""Eviction thresholds: parsing, observations, met / grace / conditions, against helpers_test.go."""

import pytest

from kube_teach.api.quantity import Quantity
from kube_teach.kubelet.eviction import (
    DEFAULT_EVICTION_HARD,
    DISK_PRESSURE,
    MEMORY_PRESSURE,
    PID_PRESSURE,
    SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE,
    SIGNAL_CONTAINERFS_AVAILABLE,
    SIGNAL_CONTAINERFS_INODES_FREE,
    SIGNAL_IMAGEFS_AVAILABLE,
    SIGNAL_IMAGEFS_INODES_FREE,
    SIGNAL_MEMORY_AVAILABLE,
    SIGNAL_NODEFS_AVAILABLE,
    SIGNAL_NODEFS_INODES_FREE,
    SIGNAL_PID_AVAILABLE,
    EvictionConfigError,
    SignalObservation,
    Threshold,
    ThresholdValue,
    _f32,
    eviction_hard_with_defaults,
    make_signal_observations,
    merge_thresholds,
    node_conditions,
    node_conditions_last_observed_at,
    node_conditions_observed_since,
    parse_percentage,
    parse_threshold_config,
    sort_by_eviction_priority,
    taints_for_conditions,
    threshold_quantity,
    threshold_values_equal,
    thresholds_first_observed_at,
    thresholds_met,
    thresholds_met_grace_period,
    thresholds_updated_stats,
    update_container_fs_thresholds,
)

S = 1_000_000_000  # ns per second


def q(text):
    return ThresholdValue(quantity=Quantity(text))


def pct(value):
    return ThresholdValue(percentage=_f32(value))


def t(signal, value, grace=0, min_reclaim=None):
    return Threshold(signal, value, grace_period_ns=grace * S, min_reclaim=min_reclaim)


def same(a, b):
    """Upstream's thresholdEqual: grace, operator, signal, value and minimum reclaim."""

    def mr(x):
        return x.min_reclaim or ThresholdValue(quantity=Quantity(0))

    return (
        a.grace_period_ns == b.grace_period_ns
        and a.operator == b.operator
        and a.signal == b.signal
        and threshold_values_equal(mr(a), mr(b))
        and threshold_values_equal(a.value, b.value)
    )


def same_set(got, want):
    return len(got) == len(want) and all(any(same(g, w) for w in want) for g in got)


MEM, NODEFS, IMAGEFS = SIGNAL_MEMORY_AVAILABLE, SIGNAL_NODEFS_AVAILABLE, SIGNAL_IMAGEFS_AVAILABLE
NODE_INODES, IMAGE_INODES = SIGNAL_NODEFS_INODES_FREE, SIGNAL_IMAGEFS_INODES_FREE

# -- TestParseThresholdConfig ---------------------------------------------------------------------
PARSE_CASES = [
    ("no values", [], {}, {}, {}, {}, []),
    (
        "all memory eviction values",
        ["pods"],
        {MEM: "150Mi"},
        {MEM: "300Mi"},
        {MEM: "30s"},
        {MEM: "0"},
        [
            t(SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE, q("150Mi"), min_reclaim=q("0")),
            t(MEM, q("150Mi"), min_reclaim=q("0")),
            t(MEM, q("300Mi"), 30, q("0")),
        ],
    ),
    (
        "all memory eviction values in percentages",
        [],
        {MEM: "10%"},
        {MEM: "30%"},
        {MEM: "30s"},
        {MEM: "5%"},
        [t(MEM, pct(0.1), min_reclaim=pct(0.05)), t(MEM, pct(0.3), 30, pct(0.05))],
    ),
    (
        "disk eviction values",
        [],
        {IMAGEFS: "150Mi", NODEFS: "100Mi"},
        {IMAGEFS: "300Mi", NODEFS: "200Mi"},
        {IMAGEFS: "30s", NODEFS: "30s"},
        {IMAGEFS: "2Gi", NODEFS: "1Gi"},
        [
            t(IMAGEFS, q("150Mi"), min_reclaim=q("2Gi")),
            t(NODEFS, q("100Mi"), min_reclaim=q("1Gi")),
            t(IMAGEFS, q("300Mi"), 30, q("2Gi")),
            t(NODEFS, q("200Mi"), 30, q("1Gi")),
        ],
    ),
    (
        "disk eviction values in percentages",
        [],
        {IMAGEFS: "15%", NODEFS: "10.5%"},
        {IMAGEFS: "30%", NODEFS: "20.5%"},
        {IMAGEFS: "30s", NODEFS: "30s"},
        {IMAGEFS: "10%", NODEFS: "5%"},
        [
            t(IMAGEFS, pct(0.15), min_reclaim=pct(0.1)),
            t(NODEFS, pct(0.105), min_reclaim=pct(0.05)),
            t(IMAGEFS, pct(0.3), 30, pct(0.1)),
            t(NODEFS, pct(0.205), 30, pct(0.05)),
        ],
    ),
    (
        "inode eviction values",
        [],
        {IMAGE_INODES: "150Mi", NODE_INODES: "100Mi"},
        {IMAGE_INODES: "300Mi", NODE_INODES: "200Mi"},
        {IMAGE_INODES: "30s", NODE_INODES: "30s"},
        {IMAGE_INODES: "2Gi", NODE_INODES: "1Gi"},
        [
            t(IMAGE_INODES, q("150Mi"), min_reclaim=q("2Gi")),
            t(NODE_INODES, q("100Mi"), min_reclaim=q("1Gi")),
            t(IMAGE_INODES, q("300Mi"), 30, q("2Gi")),
            t(NODE_INODES, q("200Mi"), 30, q("1Gi")),
        ],
    ),
    ("disable via 0%", [], {MEM: "0%"}, {MEM: "0%"}, {}, {}, []),
    ("disable via 100%", [], {MEM: "100%"}, {MEM: "100%"}, {}, {}, []),
]


@pytest.mark.parametrize(
    ("alloc", "hard", "soft", "grace", "reclaim", "want"),
    [pytest.param(*c[1:], id=c[0]) for c in PARSE_CASES],
)
def test_parse_threshold_config(alloc, hard, soft, grace, reclaim, want):
    got = parse_threshold_config(hard, soft, grace, reclaim, alloc)
    assert same_set(got, want), got


@pytest.mark.parametrize(
    ("hard", "soft", "grace", "reclaim", "message"),
    [
        pytest.param({"mem.available": "150Mi"}, {}, {}, {}, "unsupported eviction signal mem.available",
                     id="invalid-signal"),
        pytest.param({MEM: "-150Mi"}, {}, {}, {}, "eviction threshold memory.available must be positive: -150Mi",
                     id="hard-signal-negative"),
        pytest.param({MEM: "-15%"}, {}, {}, {},
                     "eviction percentage threshold memory.available must be >= 0%: -15%",
                     id="hard-signal-negative-percentage"),
        pytest.param({MEM: "150%"}, {}, {}, {},
                     "eviction percentage threshold memory.available must be <= 100%: 150%",
                     id="hard-signal-percentage-greater-than-100%"),
        pytest.param({}, {MEM: "-150Mi"}, {}, {}, "eviction threshold memory.available must be positive: -150Mi",
                     id="soft-signal-negative"),
        pytest.param({MEM: "150Mi", "invalid.foo": "150Mi"}, {}, {}, {}, "unsupported eviction signal invalid.foo",
                     id="valid-and-invalid-signal"),
        pytest.param({}, {MEM: "150Mi"}, {}, {},
                     "grace period must be specified for the soft eviction threshold memory.available",
                     id="soft-no-grace-period"),
        pytest.param({}, {MEM: "150Mi"}, {MEM: "-30s"}, {},
                     "invalid eviction grace period specified: -30s, must be a positive value",
                     id="soft-negative-grace-period"),
        pytest.param({}, {}, {}, {MEM: "-300Mi"}, "negative eviction minimum reclaim specified for memory.available",
                     id="negative-reclaim"),
        pytest.param({}, {}, {}, {MEM: "0%"},
                     "eviction percentage minimum reclaim memory.available must be positive: 0%",
                     id="a zero percent minimum reclaim"),
        pytest.param({MEM: "0"}, {}, {}, {}, "eviction threshold memory.available must be positive: 0",
                     id="a zero quantity threshold"),
        pytest.param({MEM: "1ki"}, {}, {}, {}, "unable to parse quantity's suffix", id="a bad quantity"),
        pytest.param({}, {MEM: "1Gi"}, {MEM: "90"}, {}, 'time: missing unit in duration "90"',
                     id="a grace period without unit"),
    ],
)  # fmt: skip
def test_parse_threshold_config_errors(hard, soft, grace, reclaim, message):
    with pytest.raises(EvictionConfigError) as err:
        parse_threshold_config(hard, soft, grace, reclaim)
    assert str(err.value) == message


def test_flag_syntax_and_order():
    got = parse_threshold_config(
        "memory.available<100Mi, nodefs.available<10%",
        "memory.available<500Mi",
        "memory.available=1m30s",
        "memory.available=200Mi",
    )
    assert [(x.signal, str(x.value), x.grace_period) for x in got] == [
        (MEM, "100Mi", 0),
        (NODEFS, "10%", 0),
        (MEM, "500Mi", 90),
    ]
    assert got[0].min_reclaim == q("200Mi") and got[0].hard and not got[2].hard
    with pytest.raises(EvictionConfigError, match="malformed pair, expect string<string"):
        parse_threshold_config("memory.available=100Mi")


def test_seed_kubelet_configuration():
    got = parse_threshold_config(
        {"memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%"},
        {"memory.available": "500Mi", "nodefs.available": "15%"},
        {"memory.available": "1m30s", "nodefs.available": "2m"},
    )
    assert [(x.signal, x.grace_period) for x in got] == [
        (MEM, 0), (NODEFS, 0), (NODE_INODES, 0), (MEM, 90), (NODEFS, 120),
    ]  # fmt: skip


def test_defaults():
    assert eviction_hard_with_defaults(None) == {
        "memory.available": "100Mi",
        "nodefs.available": "10%",
        "nodefs.inodesFree": "5%",
        "imagefs.available": "15%",
    }
    # Setting evictionHard at all replaces the defaults, unless merging is asked for (1.33+).
    assert eviction_hard_with_defaults({MEM: "1Gi"}) == {MEM: "1Gi"}
    merged = eviction_hard_with_defaults({MEM: "1Gi"}, merge_defaults=True)
    assert merged == {**DEFAULT_EVICTION_HARD, MEM: "1Gi"}


# -- TestParsePercentage, TestCompareThresholdValue, GetThresholdQuantity -----------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [("25.5%", _f32(0.255)), ("10%", _f32(0.1)), ("10%%", _f32(0.1)), ("1e1%", _f32(0.1))],
)
def test_parse_percentage(text, value):
    assert parse_percentage(text) == value


@pytest.mark.parametrize("text", ["blah", "foo%", "12%345", " 5%", "1_0%"])
def test_parse_percentage_errors(text):
    with pytest.raises(EvictionConfigError, match="strconv.ParseFloat: parsing"):
        parse_percentage(text)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (ThresholdValue(quantity=Quantity(123)), ThresholdValue(quantity=Quantity(123)), True),
        (ThresholdValue(quantity=Quantity(123)), ThresholdValue(quantity=Quantity(456)), False),
        (ThresholdValue(quantity=Quantity(123)), pct(0.1), False),
        (pct(0.1), pct(0.1), True),
        (pct(0.2), pct(0.1), False),
        (q("1Gi"), q("1024Mi"), True),
    ],
)
def test_compare_threshold_value(a, b, equal):
    assert threshold_values_equal(a, b) == equal == threshold_values_equal(b, a)


def test_threshold_quantity_uses_float32_percentages():
    assert threshold_quantity(pct(0.05), "10Gi").value() == 536870920  # not 536870912
    assert str(threshold_quantity(pct(0.1), "1000Mi")) == "104857601"  # float32 0.1 > 0.1
    assert threshold_quantity(q("100Mi"), None) == Quantity("100Mi")


# -- TestAddAllocatableThresholds ------------------------------------------------------------------
def test_allocatable_thresholds_copy_only_hard_memory_thresholds():
    got = parse_threshold_config({MEM: "150Mi", NODEFS: "10%"}, {MEM: "1Gi"}, {MEM: "10s"},
                                 allocatable_config=["pods"])  # fmt: skip
    assert [(x.signal, str(x.value), x.grace_period) for x in got] == [
        (MEM, "150Mi", 0), (NODEFS, "10%", 0), (MEM, "1Gi", 10),
        (SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE, "150Mi", 0),
    ]  # fmt: skip


# -- TestMakeSignalObservations --------------------------------------------------------------------
def test_make_signal_observations():
    gi, mi = 1024**3, 1024**2
    summary = {
        "node": {
            "memory": {"availableBytes": gi, "workingSetBytes": gi},
            "runtime": {
                "imageFs": {"availableBytes": mi, "capacityBytes": 2 * mi,
                            "inodesFree": 1024, "inodes": 1024 * 1024},
                "containerFs": {"availableBytes": 2 * mi, "capacityBytes": 8 * mi,
                                "inodesFree": 2048, "inodes": 2048},
            },
            "rlimit": {"maxpid": 255816, "curproc": 1000},
            "fs": {"availableBytes": 1024, "capacityBytes": 2048, "inodesFree": 1024,
                   "inodes": 1024 * 1024},
            "systemContainers": [
                {"name": "pods", "memory": {"availableBytes": gi, "workingSetBytes": gi}}
            ],
        },
        "pods": [],
    }  # fmt: skip
    obs = make_signal_observations(summary)
    want = {
        MEM: (gi, 2 * gi),
        SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE: (gi, 2 * gi),
        NODEFS: (1024, 2048),
        NODE_INODES: (1024, 1024 * 1024),
        IMAGEFS: (mi, 2 * mi),
        IMAGE_INODES: (1024, 1024 * 1024),
        SIGNAL_CONTAINERFS_AVAILABLE: (2 * mi, 8 * mi),
        SIGNAL_CONTAINERFS_INODES_FREE: (2048, 2048),
        SIGNAL_PID_AVAILABLE: (255816 - 1000, 255816),
    }
    assert {k: (v.available.value(), v.capacity.value()) for k, v in obs.items()} == want
    assert str(obs[MEM].available) == "1Gi"  # BinarySI, as upstream's NewQuantity


# -- TestThresholdsMet, TestPercentageThresholdsMet -------------------------------------------------
HARD = t(MEM, q("1Gi"), min_reclaim=q("500Mi"))


@pytest.mark.parametrize(
    ("enforce", "available", "met"),
    [
        pytest.param(False, "500Mi", True, id="threshold-met-memory"),
        pytest.param(False, "2Gi", False, id="threshold-not-met"),
        pytest.param(True, "1.05Gi", True, id="threshold-met-with-min-reclaim"),
        pytest.param(True, "2Gi", False, id="threshold-not-met-with-min-reclaim"),
        pytest.param(False, "1Gi", False, id="available equal to the threshold is not below it"),
    ],
)
def test_thresholds_met(enforce, available, met):
    got = thresholds_met([HARD], {MEM: SignalObservation(Quantity(available))}, enforce)
    assert got == ([HARD] if met else [])


PCT = [t(MEM, pct(0.2), min_reclaim=pct(0.05)), t(NODEFS, pct(0.3))]


@pytest.mark.parametrize(
    ("enforce", "observed", "want"),
    [
        pytest.param(False, {MEM: ("100Mi", "1000Mi"), NODEFS: ("100Gi", "1000Gi")}, PCT, id="BothMet"),
        pytest.param(False, {MEM: ("300Mi", "1000Mi"), NODEFS: ("400Gi", "1000Gi")}, [], id="NoneMet"),
        pytest.param(False, {MEM: ("300Mi", "1000Mi"), NODEFS: ("100Gi", "1000Gi")}, PCT[1:], id="DiskMet"),
        pytest.param(False, {MEM: ("100Mi", "1000Mi"), NODEFS: ("400Gi", "1000Gi")}, PCT[:1], id="MemoryMet"),
        pytest.param(True, {MEM: ("225Mi", "1000Mi")}, PCT[:1], id="MemoryMetWithMinReclaim"),
        pytest.param(True, {MEM: ("300Mi", "1000Mi")}, [], id="MemoryNotMetWithMinReclaim"),
    ],
)  # fmt: skip
def test_percentage_thresholds_met(enforce, observed, want):
    obs = {k: SignalObservation(Quantity(a), Quantity(c)) for k, (a, c) in observed.items()}
    assert thresholds_met(PCT, obs, enforce) == want


def test_an_unobserved_signal_is_never_met():
    assert thresholds_met([t(SIGNAL_PID_AVAILABLE, q("100"))], {}) == []


# -- TestThresholdsUpdatedStats ----------------------------------------------------------------------
UPDATED = Threshold(MEM, ThresholdValue())


@pytest.mark.parametrize(
    ("now", "last", "updated"),
    [
        pytest.param(None, None, True, id="no-time"),
        pytest.param(0, None, True, id="no-last-observation"),
        pytest.param(0, 60, False, id="time-machine"),
        pytest.param(0, 0, False, id="same-observation"),
        pytest.param(60, 0, True, id="new-observation"),
    ],
)
def test_thresholds_updated_stats(now, last, updated):
    def obs(seconds):
        return SignalObservation(Quantity(0), time=None if seconds is None else seconds * S)

    last_obs = {} if last is None else {MEM: obs(last)}
    got = thresholds_updated_stats([UPDATED], {MEM: obs(now)}, last_obs)
    assert got == ([UPDATED] if updated else [])


# -- first observed, grace periods, node conditions --------------------------------------------------
def test_thresholds_first_observed_at():
    hard = t(MEM, q("1Gi"))
    assert thresholds_first_observed_at([], {}, 100 * S) == {}
    assert thresholds_first_observed_at([hard], {}, 100 * S) == {hard: 100 * S}
    assert thresholds_first_observed_at([hard], {hard: 40 * S}, 100 * S) == {hard: 40 * S}


@pytest.mark.parametrize(
    ("threshold", "observed_at", "met"),
    [
        pytest.param(t(MEM, q("1Gi")), 100, True, id="hard-threshold-met"),
        pytest.param(t(MEM, q("2Gi"), grace=60), 100, False, id="soft-threshold-not-met"),
        pytest.param(t(MEM, q("2Gi"), grace=60), -20, True, id="soft-threshold-met"),
        pytest.param(t(MEM, q("2Gi"), grace=60), 40, True, id="met exactly at the grace period"),
    ],
)
def test_thresholds_met_grace_period(threshold, observed_at, met):
    got = thresholds_met_grace_period({threshold: observed_at * S}, 100 * S)
    assert got == ([threshold] if met else [])


@pytest.mark.parametrize(
    ("signals", "want"),
    [
        ([], []),
        ([MEM], [MEMORY_PRESSURE]),
        ([SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE, MEM], [MEMORY_PRESSURE]),
        ([NODEFS, IMAGE_INODES, SIGNAL_CONTAINERFS_AVAILABLE], [DISK_PRESSURE]),
        ([SIGNAL_PID_AVAILABLE, MEM, NODEFS], [PID_PRESSURE, MEMORY_PRESSURE, DISK_PRESSURE]),
    ],
)
def test_node_conditions(signals, want):
    assert node_conditions([Threshold(s, ThresholdValue()) for s in signals]) == want


def test_node_conditions_last_observed_at():
    assert node_conditions_last_observed_at([MEMORY_PRESSURE], {}, 100) == {MEMORY_PRESSURE: 100}
    assert node_conditions_last_observed_at([MEMORY_PRESSURE], {MEMORY_PRESSURE: 40}, 100) == {
        MEMORY_PRESSURE: 100
    }
    assert node_conditions_last_observed_at([], {MEMORY_PRESSURE: 40}, 100) == {MEMORY_PRESSURE: 40}


def test_node_conditions_observed_since():
    observed = {MEMORY_PRESSURE: 40 * S}
    assert node_conditions_observed_since(observed, 120 * S, 100 * S) == [MEMORY_PRESSURE]
    assert node_conditions_observed_since(observed, 30 * S, 100 * S) == []


def test_pressure_conditions_become_noschedule_taints():
    assert taints_for_conditions([MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE]) == [
        {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "effect": "NoSchedule"},
    ]


# -- TestSortByEvictionPriority, merge ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("signals", "want"),
    [
        ([], []),
        ([NODEFS, SIGNAL_PID_AVAILABLE, MEM], [MEM, NODEFS, SIGNAL_PID_AVAILABLE]),
        ([NODEFS, SIGNAL_PID_AVAILABLE, SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE],
         [SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE, NODEFS, SIGNAL_PID_AVAILABLE]),
    ],
)  # fmt: skip
def test_sort_by_eviction_priority(signals, want):
    got = sort_by_eviction_priority([Threshold(s, ThresholdValue()) for s in signals])
    assert [x.signal for x in got] == want


def test_merge_thresholds_drops_duplicates_by_value():
    a, b = t(MEM, q("1Gi")), t(MEM, q("1024Mi"), min_reclaim=q("1Gi"))
    assert merge_thresholds([a], [b, t(NODEFS, q("1Gi"))]) == [a, t(NODEFS, q("1Gi"))]


# -- TestAddContainerFsThresholds ------------------------------------------------------------------
DISK_LIST = [
    t(NODEFS, q("100Mi"), min_reclaim=q("1Gi")),
    t(NODEFS, q("200Mi"), 1, q("1Gi")),
    t(NODE_INODES, q("200Mi"), 1, q("2Gi")),
    t(NODE_INODES, q("100Mi"), min_reclaim=q("1Gi")),
    t(IMAGEFS, q("150Mi"), min_reclaim=q("1.5Gi")),
    t(IMAGEFS, q("300Mi"), 1, q("3Gi")),
    t(IMAGE_INODES, q("150Mi"), 1, q("2Gi")),
    t(IMAGE_INODES, q("300Mi"), min_reclaim=q("2Gi")),
]


@pytest.mark.parametrize(
    ("image_fs", "split", "want"),
    [
        pytest.param(False, False, {
            (SIGNAL_CONTAINERFS_AVAILABLE, True): ("100Mi", "1Gi"),
            (SIGNAL_CONTAINERFS_AVAILABLE, False): ("200Mi", "1Gi"),
            (SIGNAL_CONTAINERFS_INODES_FREE, True): ("100Mi", "1Gi"),
            (SIGNAL_CONTAINERFS_INODES_FREE, False): ("200Mi", "2Gi"),
        }, id="single filesystem: containerfs follows nodefs"),
        pytest.param(True, False, {
            (SIGNAL_CONTAINERFS_AVAILABLE, True): ("150Mi", "1536Mi"),
            (SIGNAL_CONTAINERFS_AVAILABLE, False): ("300Mi", "3Gi"),
            (SIGNAL_CONTAINERFS_INODES_FREE, True): ("300Mi", "2Gi"),
            (SIGNAL_CONTAINERFS_INODES_FREE, False): ("150Mi", "2Gi"),
        }, id="image filesystem: containerfs follows imagefs"),
    ],
)  # fmt: skip
def test_update_container_fs_thresholds(image_fs, split, want):
    got = update_container_fs_thresholds(DISK_LIST, image_fs, split)
    found = {
        (x.signal, x.hard): (str(x.value), str(x.min_reclaim))
        for x in got
        if x.signal in (SIGNAL_CONTAINERFS_AVAILABLE, SIGNAL_CONTAINERFS_INODES_FREE)
    }
    assert found == want
