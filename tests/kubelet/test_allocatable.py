"""Node allocatable against node_container_manager_linux_test.go and the seed's 16 GB node."""

import pytest

from kube_teach.api.quantity import Quantity
from kube_teach.kubelet.allocatable import (
    NodeAllocatableError,
    node_allocatable,
    node_allocatable_absolute,
    node_allocatable_reservation,
    validate_node_allocatable,
)
from kube_teach.kubelet.eviction import DEFAULT_EVICTION_HARD


def rl(cpu="", memory=""):
    return {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}


def hard_memory(value):
    return None if value is None else {"memory.available": value}


def milli(resources):
    return {k: Quantity(v).milli_value() for k, v in resources.items()}


# TestNodeAllocatableReservationForScheduling (cpu and memory cases)
@pytest.mark.parametrize(
    ("kube", "system", "capacity", "threshold", "want"),
    [
        pytest.param(rl("100m", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), None,
                     rl("150m", "150Mi"), id="reserved only"),
        pytest.param(rl("100m", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), "100Mi",
                     rl("150m", "250Mi"), id="plus a 100Mi hard threshold"),
        pytest.param(rl("100m", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), "5%",
                     rl("150m", "694157320"), id="plus 5% of 10Gi, computed in float32"),
        pytest.param({}, {}, rl("10", "10Gi"), None, {}, id="nothing reserved"),
        pytest.param(rl("", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), None,
                     rl("50m", "150Mi"), id="only system reserves cpu"),
        pytest.param(rl("50m", "100Mi"), rl("", "50Mi"), rl("10", "10Gi"), None,
                     rl("50m", "150Mi"), id="only kube reserves cpu"),
        pytest.param(rl("", "100Mi"), rl("", "50Mi"), rl("10", ""), None, rl("", "150Mi"),
                     id="memory reserved on a node without memory capacity"),
    ],
)  # fmt: skip
def test_reservation_for_scheduling(kube, system, capacity, threshold, want):
    got = node_allocatable_reservation(capacity, system, kube, hard_memory(threshold))
    for name, value in got.items():
        assert name in want
        assert Quantity(value).milli_value() == Quantity(want[name]).milli_value()


@pytest.mark.parametrize(
    ("kube", "threshold", "want"),
    [
        pytest.param("100Mi", None, "100Mi", id="kube-reserved only"),
        pytest.param("100Mi", "100Mi", "200Mi", id="plus nodefs.available<100Mi"),
        pytest.param("150Mi", "5%", "694157320", id="plus nodefs.available<5% of 10Gi"),
    ],
)
def test_ephemeral_storage_reservation(kube, threshold, want):
    evict = None if threshold is None else {"nodefs.available": threshold}
    got = node_allocatable_reservation(
        {"ephemeral-storage": "10Gi"}, None, {"ephemeral-storage": kube}, evict
    )
    assert got["ephemeral-storage"] == Quantity(want)


# TestNodeAllocatableForEnforcement: the cgroup limit ignores eviction thresholds
@pytest.mark.parametrize(
    ("kube", "system", "capacity", "want"),
    [
        pytest.param(rl("100m", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), rl("9850m", "10090Mi"),
                     id="cpu and memory reserved"),
        pytest.param({}, {}, rl("10", "10Gi"), rl("10", "10Gi"), id="nothing reserved"),
        pytest.param(rl("", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), rl("9950m", "10090Mi"),
                     id="cpu reserved by one side"),
        pytest.param(rl("", "100Mi"), rl("", "50Mi"), rl("10", ""), rl("10", ""),
                     id="no memory capacity to take from"),
    ],
)  # fmt: skip
def test_allocatable_for_enforcement(kube, system, capacity, want):
    assert milli(node_allocatable_absolute(capacity, system, kube)) == milli(want)


def test_enforcement_ignores_the_hard_threshold_but_status_does_not():
    capacity = rl("10", "10Gi")
    assert node_allocatable_absolute(capacity, rl("50m", "50Mi"), rl("100m", "100Mi"))[
        "memory"
    ] == Quantity("10090Mi")
    status = node_allocatable(
        capacity, rl("50m", "50Mi"), rl("100m", "100Mi"), hard_memory("100Mi")
    )
    assert status["memory"] == Quantity("9990Mi")


# TestNodeAllocatableInputValidation
@pytest.mark.parametrize(
    ("kube", "system", "capacity", "threshold", "ok"),
    [
        pytest.param(rl("100m", "100Mi"), rl("50m", "50Mi"), rl("10", "10Gi"), "100Mi", True, id="fits"),
        pytest.param(rl("5", "10Gi"), rl("5", "10Gi"), rl("10", "11Gi"), "2Gi", False,
                     id="22Gi reserved on 11Gi"),
    ],
)  # fmt: skip
def test_validate(kube, system, capacity, threshold, ok):
    if ok:
        validate_node_allocatable(capacity, system, kube, hard_memory(threshold))
    else:
        with pytest.raises(NodeAllocatableError, match="Expected capacity >= reservation"):
            validate_node_allocatable(capacity, system, kube, hard_memory(threshold))


def test_validate_message():
    with pytest.raises(NodeAllocatableError) as err:
        validate_node_allocatable({"ephemeral-storage": "20Gi"}, None,
                                  {"ephemeral-storage": "20Gi"}, {"nodefs.available": "100Mi"})  # fmt: skip
    assert str(err.value) == (
        'invalid Node Allocatable configuration. Resource "ephemeral-storage" has a '
        "reservation of 20580Mi but capacity of 20Gi. Expected capacity >= reservation."
    )


# The seed: 16 GB - 1 GB system - 1 GB kubelet - 500 MB eviction = 13.5 GB
def test_seed_16_gb_node_in_binary_units():
    got = node_allocatable(
        {"cpu": "4", "memory": "16Gi", "pods": "110"},
        system_reserved={"cpu": "1000m", "memory": "1Gi"},
        kube_reserved={"cpu": "1000m", "memory": "1Gi"},
        eviction_hard={"memory.available": "500Mi", "nodefs.available": "10%"},
    )
    assert got == {"cpu": Quantity("2"), "memory": Quantity("13836Mi"), "pods": Quantity("110")}
    assert round(got["memory"].value() / 2**30, 2) == 13.51


def test_seed_16_gb_node_in_decimal_units_is_exactly_13_5_gb():
    got = node_allocatable({"memory": "16G"}, {"memory": "1G"}, {"memory": "1G"},
                           "memory.available<500M")  # fmt: skip
    assert str(got["memory"]) == "13500M"


def test_default_hard_thresholds_take_100mi_and_10_percent_of_nodefs():
    got = node_allocatable(
        {"memory": "8Gi", "ephemeral-storage": "100Gi"}, eviction_hard=DEFAULT_EVICTION_HARD
    )
    assert got["memory"] == Quantity("8092Mi")
    assert got["ephemeral-storage"].value() == 100 * 2**30 - int(100 * 2**30 * 0.10000000149011612)


def test_allocatable_never_goes_negative_and_hugepages_come_out_of_memory():
    got = node_allocatable({"cpu": "1", "memory": "4Gi", "hugepages-2Mi": "1Gi"}, {"cpu": "2"})
    assert got["cpu"] == 0
    assert got["memory"] == Quantity("3Gi")
