from kube_teach.client.ratelimit import ItemExponentialFailureRateLimiter, MaxOfRateLimiter
from kube_teach.client.workqueue import WorkQueue
from kube_teach.sim import Clock

MS = 1_000_000


def test_a_key_is_queued_once_however_often_it_is_added():
    q = WorkQueue(Clock())
    for key in ["default/a", "default/b", "default/a", "default/a"]:
        q.add(key)
    assert len(q) == 2 and q.adds == 2
    assert [q.get(), q.get(), q.get()] == ["default/a", "default/b", None]


def test_a_key_added_while_processing_comes_back_after_done_not_before():
    q = WorkQueue(Clock())
    q.add("k")
    assert q.get() == "k"
    q.add("k")
    assert q.get() is None  # never two workers on one key
    q.done("k")
    assert q.get() == "k"
    q.done("k")
    assert q.get() is None


def test_add_after_waits_on_the_clock_and_the_earlier_add_wins():
    clock = Clock()
    q = WorkQueue(clock)
    q.add_after("k", 100 * MS)
    q.add_after("k", 300 * MS)
    clock.run("99ms")
    assert q.get() is None
    clock.run("1ms")
    assert q.get() == "k"
    q.done("k")
    clock.run("1s")
    assert q.get() is None


def test_rate_limited_adds_back_off_exponentially_until_forgotten():
    clock = Clock()
    q = WorkQueue(clock, MaxOfRateLimiter(ItemExponentialFailureRateLimiter(10 * MS, 10**12)))
    arrivals = []
    for _ in range(4):
        start = clock.now_ns
        q.add_rate_limited("k")
        clock.run_until(lambda: len(q) > 0, timeout=10)
        arrivals.append(clock.now_ns - start)
        q.done(q.get())
    assert arrivals == [10 * MS, 20 * MS, 40 * MS, 80 * MS]
    assert q.num_requeues("k") == 4
    q.forget("k")
    assert q.num_requeues("k") == 0


def test_on_ready_fires_when_work_arrives_and_shutdown_drops_pending_adds():
    clock, calls = Clock(), []
    q = WorkQueue(clock, on_ready=lambda: calls.append(clock.now_ns))
    q.add("a")
    q.add_after("b", 50 * MS)
    q.shut_down()
    clock.run(1)
    q.add("c")
    assert calls == [0] and len(q) == 1
