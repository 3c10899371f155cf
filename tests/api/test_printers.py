import pytest

from kube_teach.api.printers import human_duration

S, M, H = 10**9, 60 * 10**9, 3600 * 10**9


# Cases from apimachinery's duration.HumanDuration tests.
@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (1 * S, "1s"),
        (70 * S, "70s"),
        (190 * S, "3m10s"),
        (70 * M, "70m"),
        (47 * 60 * M, "47h"),
        (49 * 60 * M, "2d1h"),
        ((8 * 24 + 2) * H, "8d"),
        (367 * 24 * H, "367d"),
        ((365 * 2 * 24 + 25) * H, "2y1d"),
        ((365 * 8 * 24 + 2) * H, "8y"),
    ],
)
def test_human_duration(ns, text):
    assert human_duration(ns) == text


@pytest.mark.parametrize(
    ("conditions", "unschedulable", "shown"),
    [
        ([{"type": "Ready", "status": "True"}], False, "Ready"),
        ([{"type": "Ready", "status": "False"}], False, "NotReady"),
        ([{"type": "Ready", "status": "Unknown"}], False, "NotReady"),  # a node gone silent
        ([{"type": "MemoryPressure", "status": "False"}], False, "Unknown"),  # no Ready at all
        ([{"type": "Ready", "status": "True"}], True, "Ready,SchedulingDisabled"),
    ],
)
def test_node_status_column_as_kubectl_prints_it(conditions, unschedulable, shown):
    from kube_teach.api.printers import table

    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions}}  # fmt: skip
    assert table([node], "Node", 0).rows[0][1] == shown
