"""Image garbage collection: which unused images the kubelet deletes, and when.

Semantics: pkg/kubelet/images/image_gc_manager.go (GarbageCollect, freeOldImages, freeSpace,
imagesInEvictionOrder, DeleteUnusedImages, the policy checks of NewImageGCManager). Above
imageGCHighThresholdPercent (85) of the image filesystem the kubelet frees images, least
recently used first, until usage is back at imageGCLowThresholdPercent (80). Times are seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kube_teach.sim.duration import to_ns

DEFAULT_HIGH_THRESHOLD_PERCENT = 85
DEFAULT_LOW_THRESHOLD_PERCENT = 80
DEFAULT_MIN_AGE = "2m"  # imageMinimumGCAge
DEFAULT_MAX_AGE = 0  # imageMaximumGCAge: 0 turns age-based collection off
GC_PERIOD = "5m"  # the kubelet runs image GC every 5 minutes


class ImageGCPolicyError(ValueError):
    """A policy NewImageGCManager rejects; the message is upstream's."""


@dataclass(frozen=True)
class ImageGCPolicy:
    """The kubelet's imageGC* settings. Ages are seconds or Go durations."""

    high_threshold_percent: int = DEFAULT_HIGH_THRESHOLD_PERCENT
    low_threshold_percent: int = DEFAULT_LOW_THRESHOLD_PERCENT
    min_age: float | str = DEFAULT_MIN_AGE
    max_age: float | str = DEFAULT_MAX_AGE

    def validate(self) -> None:
        """Raise ImageGCPolicyError for percentages outside [0, 100] or low above high."""
        high, low = self.high_threshold_percent, self.low_threshold_percent
        if not 0 <= high <= 100:
            raise ImageGCPolicyError(
                f"invalid HighThresholdPercent {high}, must be in range [0-100]"
            )
        if not 0 <= low <= 100:
            raise ImageGCPolicyError(f"invalid LowThresholdPercent {low}, must be in range [0-100]")
        if low > high:
            raise ImageGCPolicyError(
                f"LowThresholdPercent {low} can not be higher than HighThresholdPercent {high}"
            )


@dataclass(frozen=True)
class ImageRecord:
    """What the kubelet knows of an image: size in bytes, when first detected (0 for images
    present when the kubelet started, which count as old), when last used by a container
    (None: never), whether a container uses it now, whether the runtime pinned it."""

    id: str
    size: int
    first_detected: float = 0.0
    last_used: float | None = None
    in_use: bool = False
    pinned: bool = False


@dataclass
class GCResult:
    """What one image GC pass did: deleted image ids in order, bytes freed, the usage it saw
    and the bytes it wanted to free, an error and Warning events (reason, message)."""

    deleted: list[str] = field(default_factory=list)
    freed: int = 0
    usage_percent: int = 0
    amount_to_free: int = 0
    error: str | None = None
    events: list[tuple[str, str]] = field(default_factory=list)


def images_in_eviction_order(images: Iterable[ImageRecord]) -> list[ImageRecord]:
    """Unused, unpinned images, least recently used first; ties by first detection. Images
    never used sort first (upstream's zero time)."""
    candidates = [i for i in images if not i.in_use and not i.pinned]
    return sorted(
        candidates,
        key=lambda i: (
            to_ns(i.last_used) if i.last_used is not None else -1,
            to_ns(i.first_detected),
        ),
    )


def free_space(
    images: Sequence[ImageRecord],
    bytes_to_free: int,
    now: float,
    policy: ImageGCPolicy = ImageGCPolicy(),
) -> list[ImageRecord]:
    """The images freeSpace deletes from `images` (already in eviction order) at `now`: each
    at least min_age old since first detected, until `bytes_to_free` is reached."""
    now_ns, min_age = to_ns(now), to_ns(policy.min_age)
    freed, deleted = 0, []
    for image in images:
        if image.last_used is not None and to_ns(image.last_used) >= now_ns:
            continue  # used too recently
        if now_ns - to_ns(image.first_detected) < min_age:
            continue  # just pulled: a container is probably about to use it
        deleted.append(image)
        freed += image.size
        if freed >= bytes_to_free:
            break
    return deleted


def garbage_collect(
    images: Iterable[ImageRecord],
    capacity: int,
    available: int,
    now: float,
    policy: ImageGCPolicy = ImageGCPolicy(),
    *,
    began_gc: float = 0.0,
) -> GCResult:
    """One GarbageCollect pass at `now` on an image filesystem of `capacity` bytes with
    `available` bytes free (`began_gc`: when the kubelet started its GC loop).

    First, with a max_age, images unused for longer than it go (once the kubelet has been up
    that long). Then, if usage = 100 - available*100/capacity (integer) is at least the high
    threshold, it frees capacity*(100-low)/100 - available bytes by free_space; finding too
    little is an error and a FreeDiskSpaceFailed event.
    """
    result = GCResult()
    now_ns = to_ns(now)
    ordered = images_in_eviction_order(images)
    max_age = to_ns(policy.max_age)
    if max_age and now_ns - to_ns(began_gc) > max_age:
        remaining = []
        for image in ordered:
            last_used = to_ns(image.last_used) if image.last_used is not None else -sys.maxsize
            if now_ns - last_used > max_age:
                result.deleted.append(image.id)
                result.freed += image.size
            else:
                remaining.append(image)
        ordered = remaining
    available = min(available + result.freed, capacity)
    if capacity == 0:
        result.error = "invalid capacity 0 on image filesystem"
        result.events.append(("InvalidDiskCapacity", result.error))
        return result
    result.usage_percent = 100 - available * 100 // capacity
    if result.usage_percent >= policy.high_threshold_percent:
        result.amount_to_free = capacity * (100 - policy.low_threshold_percent) // 100 - available
        freed_now = free_space(ordered, result.amount_to_free, now, policy)
        freed = sum(image.size for image in freed_now)
        result.deleted += [image.id for image in freed_now]
        result.freed += freed
        if freed < result.amount_to_free:
            result.error = (
                "Failed to garbage collect required amount of images. Attempted to free "
                f"{result.amount_to_free} bytes, but only found {freed} bytes eligible to free."
            )
            result.events.append(("FreeDiskSpaceFailed", result.error))
    return result


def delete_unused_images(
    images: Iterable[ImageRecord], now: float, policy: ImageGCPolicy = ImageGCPolicy()
) -> list[str]:
    """What the eviction manager's node-level reclaim deletes: every unused image past
    min_age, whatever the disk usage (DeleteUnusedImages)."""
    return [i.id for i in free_space(images_in_eviction_order(images), 2**63 - 1, now, policy)]
