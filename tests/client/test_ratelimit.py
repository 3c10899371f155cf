import pytest

from kube_teach.client.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)

MS, S = 1_000_000, 1_000_000_000


def test_a_new_bucket_allows_a_burst_then_refills_at_qps():
    bucket = TokenBucket(qps=5, burst=10)  # client-go's defaults for a rest.Config
    assert [bucket.try_accept(0) for _ in range(11)] == [True] * 10 + [False]
    assert not bucket.try_accept(199 * MS)
    assert bucket.try_accept(200 * MS)  # one token per 200 ms at 5 qps


def test_reserve_borrows_from_the_future_and_says_how_long_to_wait():
    bucket = TokenBucket(qps=10, burst=1)
    assert [bucket.reserve(0) for _ in range(4)] == [0, 100 * MS, 200 * MS, 300 * MS]
    assert bucket.reserve(1 * S) == 0  # 1 s later the debt of 3 is repaid and one saved
    with pytest.raises(ValueError):
        TokenBucket(qps=0, burst=1)


# Cases from client-go's default_rate_limiters_test.go (TestItemExponentialFailureRateLimiter).
def test_item_exponential_backoff_doubles_per_item_and_forget_resets():
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1 * S)
    assert [limiter.when("one", 0) for _ in range(5)] == [1 * MS, 2 * MS, 4 * MS, 8 * MS, 16 * MS]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two", 0) for _ in range(2)] == [1 * MS, 2 * MS]
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0 and limiter.when("one", 0) == 1 * MS


def test_item_exponential_backoff_is_capped():
    limiter = ItemExponentialFailureRateLimiter(5 * MS, 1000 * S)
    delays = [limiter.when("x", 0) for _ in range(80)]
    assert delays[17] == 5 * MS * 2**17 and delays[18] == 1000 * S and delays[-1] == 1000 * S


def test_bucket_limiter_is_shared_by_all_items():
    limiter = BucketRateLimiter(qps=10, burst=2)
    assert [limiter.when(i, 0) for i in "abcd"] == [0, 0, 100 * MS, 200 * MS]


def test_default_controller_limiter_takes_the_longer_of_both():
    limiter = default_controller_rate_limiter()
    assert limiter.when("a", 0) == 5 * MS
    for i in range(200):
        limiter.when(f"k{i}", 0)  # empty the shared bucket (burst 100)
    assert limiter.when("b", 0) > 5 * MS
