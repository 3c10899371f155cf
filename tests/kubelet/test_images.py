"""Image garbage collection, after pkg/kubelet/images/image_gc_manager_test.go."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.kubelet.images import (
    ImageGCPolicy,
    ImageGCPolicyError,
    ImageRecord,
    delete_unused_images,
    free_space,
    garbage_collect,
    images_in_eviction_order,
)

NOW = 1000.0  # seconds; images first seen at 0 are old enough for the 2-minute minimum age


def img(id, size=1024, first_detected=0.0, last_used=None, in_use=False, pinned=False):
    return ImageRecord(id, size, first_detected, last_used, in_use, pinned)


def test_eviction_order_is_least_recently_used_then_first_detected():
    images = [
        img("used-recently", last_used=900),
        img("never-used-late", first_detected=50),
        img("used-long-ago", last_used=100),
        img("never-used-early", first_detected=10),
        img("running", in_use=True),
        img("pause", pinned=True),
    ]
    assert [i.id for i in images_in_eviction_order(images)] == [
        "never-used-early", "never-used-late", "used-long-ago", "used-recently",
    ]  # fmt: skip


def test_free_space_stops_once_enough_is_freed():
    # TestFreeSpaceImagesAlsoDoesLookupByRepoTags / ...RemoveAllUnusedImages
    order = images_in_eviction_order([img("a", 1024), img("b", 2048, first_detected=1), img("c")])
    assert [i.id for i in order] == ["a", "c", "b"]  # a and c tie: detection order is kept
    assert [i.id for i in free_space(order, 2048, NOW)] == ["a", "c"]
    assert [i.id for i in free_space(order, 1, NOW)] == ["a"]


def test_delete_unused_images_spares_images_in_use_and_pinned():
    # TestDeleteUnusedImagesExemptSandboxImage, TestDeletePinnedImage
    images = [img("sandbox", pinned=True), img("app", in_use=True), img("old1"), img("old2")]
    assert delete_unused_images(images, NOW) == ["old1", "old2"]


def test_images_younger_than_min_age_are_kept():
    # TestGarbageCollectImageNotOldEnough: min age 1 minute, image detected at NOW - 30 s
    policy = ImageGCPolicy(min_age="1m")
    young = [img("young", first_detected=NOW - 30)]
    assert delete_unused_images(young, NOW, policy) == []
    assert delete_unused_images(young, NOW + 31, policy) == ["young"]


@pytest.mark.parametrize(
    ("available", "sizes", "deleted", "to_free", "error"),
    [
        pytest.param(500, [450], [], 0, None, id="50% usage is below the high threshold"),
        pytest.param(160, [450], [], 0, None, id="84% usage is below it"),
        pytest.param(150, [450], ["0"], 50, None, id="exactly 85% collects down to 80%"),
        pytest.param(50, [450], ["0"], 150, None, id="95% usage and most of it gets freed"),
        pytest.param(50, [50], ["0"], 150,
                     "Failed to garbage collect required amount of images. Attempted to free "
                     "150 bytes, but only found 50 bytes eligible to free.",
                     id="not enough freed"),
    ],
)  # fmt: skip
def test_garbage_collect(available, sizes, deleted, to_free, error):
    images = [img(str(i), size) for i, size in enumerate(sizes)]
    result = garbage_collect(images, capacity=1000, available=available, now=NOW)
    assert result.deleted == deleted
    assert result.amount_to_free == to_free
    assert result.error == error
    if error:
        assert result.events == [("FreeDiskSpaceFailed", error)]


def test_usage_percent_uses_integer_arithmetic():
    result = garbage_collect([img("a", 10**9)], capacity=1000, available=159, now=NOW)
    assert result.usage_percent == 85  # 100 - 15900 // 1000: 84.1% used counts as 85
    assert result.amount_to_free == 41


def test_invalid_capacity():
    result = garbage_collect([img("a")], capacity=0, available=0, now=NOW)
    assert result.error == "invalid capacity 0 on image filesystem"


def test_max_age_removes_unused_images_without_disk_pressure():
    # TestGarbageCollectImageTooOld: max age 90 minutes
    policy = ImageGCPolicy(max_age="90m")
    images = [img("stale", last_used=0), img("fresh", last_used=5000)]
    early = garbage_collect(images, 1000, 900, now=60 * 60, policy=policy)
    assert early.deleted == []  # the kubelet has not been up for max_age yet
    later = garbage_collect(images, 1000, 900, now=100 * 60, policy=policy)
    assert later.deleted == ["stale"]


@pytest.mark.parametrize(
    ("high", "low", "message"),
    [
        (-1, 80, "invalid HighThresholdPercent -1, must be in range [0-100]"),
        (101, 80, "invalid HighThresholdPercent 101, must be in range [0-100]"),
        (85, -1, "invalid LowThresholdPercent -1, must be in range [0-100]"),
        (85, 101, "invalid LowThresholdPercent 101, must be in range [0-100]"),
        (1, 2, "LowThresholdPercent 2 can not be higher than HighThresholdPercent 1"),
    ],
)
def test_validate_image_gc_policy(high, low, message):
    with pytest.raises(ImageGCPolicyError) as err:
        ImageGCPolicy(high, low).validate()
    assert str(err.value) == message


def test_default_policy_is_valid():
    policy = ImageGCPolicy()
    policy.validate()
    assert (policy.high_threshold_percent, policy.low_threshold_percent) == (85, 80)


@given(
    st.lists(st.integers(1, 500), min_size=0, max_size=8),
    st.integers(0, 1000),
)
def test_gc_frees_enough_or_reports_why(sizes, available):
    images = [img(str(i), s, first_detected=i) for i, s in enumerate(sizes)]
    result = garbage_collect(images, capacity=1000, available=available, now=NOW)
    if result.usage_percent < 85:
        assert result.deleted == []
    elif result.error is None:
        assert result.freed >= result.amount_to_free
    else:
        assert result.freed == sum(sizes)  # everything eligible went, and it was not enough
