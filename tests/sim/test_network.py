import pytest

from kube_teach.sim import Clock, Link, Network, Seeds, Trace, constant, uniform


def make(seed=0, **link):
    clock = Clock()
    net = Network(clock, Seeds(seed), Trace(clock), Link(**link) if link else None)
    inbox: dict[str, list] = {}
    for name in ("a", "b", "c"):
        inbox[name] = []
        net.add_host(name, lambda src, msg, n=name: inbox[n].append((clock.now_ns, src, msg)))
    return clock, net, inbox


def test_messages_arrive_after_the_link_latency():
    clock, net, inbox = make(latency=constant("2ms"))
    net.send("a", "b", "hello")
    clock.run("1ms")
    assert inbox["b"] == []
    clock.run("1ms")
    assert inbox["b"] == [(2_000_000, "a", "hello")]


def test_partition_cuts_both_ways_and_heal_restores():
    clock, net, inbox = make()
    net.partition({"a", "b"}, {"c"})
    for dst in ("b", "c"):
        net.send("a", dst, "x")
    net.send("c", "a", "y")
    clock.run(1)
    assert [m for _, _, m in inbox["b"]] == ["x"]
    assert inbox["c"] == [] and inbox["a"] == []
    net.heal()
    net.send("c", "a", "z")
    clock.run(1)
    assert [m for _, _, m in inbox["a"]] == ["z"]


def test_a_partition_drops_messages_already_in_flight():
    clock, net, inbox = make(latency=constant("10ms"))
    net.send("a", "c", "x")
    clock.run("5ms")
    net.isolate("c")
    clock.run(1)
    assert inbox["c"] == []
    assert net.stats["dropped"] == 1


def test_hosts_not_named_in_a_partition_reach_everyone():
    clock, net, inbox = make()
    net.partition({"a"}, {"b"})
    net.send("c", "a", 1)
    net.send("c", "b", 2)
    net.send("a", "b", 3)
    clock.run(1)
    assert len(inbox["a"]) == 1 and [m for *_, m in inbox["b"]] == [2]


def test_crash_loses_timers_and_inflight_messages_but_keeps_disk():
    clock, net, inbox = make(latency=constant("10ms"))
    host = net.hosts["b"]
    host.disk["term"] = 7
    fired = []
    host.call_later("1s", lambda: fired.append("volatile"))
    host.every("100ms", lambda: fired.append("tick"))
    net.send("a", "b", "lost")
    clock.run("5ms")
    net.crash("b")
    net.send("a", "b", "also lost")
    clock.run(2)
    net.restart("b")
    net.send("a", "b", "after restart")
    clock.run(1)
    assert fired == []
    assert [m for *_, m in inbox["b"]] == ["after restart"]
    assert host.disk == {"term": 7}
    assert [e.event for e in net.trace.where(component="b")] == ["crashed", "restarted"]


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_loss_rate_is_close_to_the_configured_probability(p):
    clock, net, inbox = make(drop=p)
    for i in range(4000):
        net.send("a", "b", i)
    clock.run(1)
    lost = 1 - len(inbox["b"]) / 4000
    assert abs(lost - p) < 0.03


def test_duplication_delivers_some_messages_twice():
    clock, net, inbox = make(duplicate=0.2)
    for i in range(2000):
        net.send("a", "b", i)
    clock.run(1)
    got = [m for *_, m in inbox["b"]]
    assert 2000 * 1.15 < len(got) < 2000 * 1.25
    assert sorted(set(got)) == list(range(2000))


def test_jitter_reorders_messages_and_constant_latency_does_not():
    clock, net, inbox = make(latency=uniform("1ms", "20ms"))
    for i in range(200):
        net.send("a", "b", i)
    clock.run(1)
    got = [m for *_, m in inbox["b"]]
    assert got != sorted(got) and sorted(got) == list(range(200))
    clock, net, inbox = make()
    for i in range(200):
        net.send("a", "b", i)
    clock.run(1)
    assert [m for *_, m in inbox["b"]] == list(range(200))


def test_set_link_changes_one_pair_only():
    clock, net, inbox = make()
    net.set_link("a", "b", latency="50ms")
    net.send("a", "b", 1)
    net.send("a", "c", 2)
    net.send("b", "a", 3)
    clock.run(1)
    assert inbox["c"][0][0] == 1_000_000
    assert inbox["b"][0][0] == 50_000_000 and inbox["a"][0][0] == 50_000_000


def test_same_seed_same_fate_different_seed_different_fate():
    def fates(seed):
        clock, net, inbox = make(seed, drop=0.3, latency=uniform("1ms", "9ms"))
        for i in range(300):
            net.send("a", "b", i)
        clock.run(1)
        return inbox["b"]

    assert fates(1) == fates(1)
    assert fates(1) != fates(2)
