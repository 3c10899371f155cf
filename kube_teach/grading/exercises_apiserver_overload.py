"""Chapter 08's experiment and exercises: a burst of creates against one or more API servers.

`overload()` is the experiment the chapter runs: a CI user (`ci-deployer`, not system:masters,
whom flow control exempts) sends a burst of ConfigMap creates through client-go's retry rule
(a 429 is retried after its Retry-After, up to 10 times), optionally beside a second, quiet
tenant (`alice`), against `replicas` kube-apiservers behind the load balancer, each with
`--max-mutating-requests-inflight=seats` and `--max-requests-inflight=2*seats`, or with another
flow control (the chapter passes API Priority and Fairness, sized to the sum of the two, as
upstream sizes it).

The exercises ask which priority level APF puts a request in (the answers are checked against
the library's APF classifier by the tests) and how many replicas a burst needs (answered by
running `overload`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .check import register
from .exercises import _graded

DEPLOYER = "ci-deployer"
QUIET = "alice"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@dataclass
class Tenant:
    """One client's creates: when each was issued, when its final reply came, and its code."""

    name: str
    sent: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for c in self.codes if c == 201)

    def latency_ms(self, q: int) -> float:
        """The q-th percentile (nearest rank) of issue-to-reply time of the 201s, in ms."""
        lat = sorted(
            d - s for s, d, c in zip(self.sent, self.done, self.codes, strict=True) if c == 201
        )
        if not lat:
            return 0.0
        return lat[max(0, -(-q * len(lat) // 100) - 1)] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<12} {len(self.codes):>5} sent {self.created:>5} created   "
            f"p50 {self.latency_ms(50):>6.0f} ms   p99 {self.latency_ms(99):>6.0f} ms   "
            f"last reply t={max(self.done):.2f}s"
        )


@dataclass
class Overload:
    """What one `overload()` run saw: per tenant, and the servers' own counters."""

    replicas: int
    seats: int
    flow_control: str  # "max-in-flight", or the class name of the flow control given
    tenants: dict[str, Tenant]
    rejected_times: list[float]
    per_replica: dict[str, int]
    metrics: Any

    @property
    def rejected(self) -> int:
        """How many times the API servers answered 429 (every replica, every cause)."""
        return len(self.rejected_times)

    @property
    def last_reply(self) -> float:
        return max(max(t.done) for t in self.tenants.values())

    def summary(self) -> str:
        fc = (
            f"max-mutating-requests-inflight={self.seats}"
            if self.flow_control == "max-in-flight"
            else f"{self.flow_control} flow control"
        )
        head = (
            f"{self.replicas} API server(s), {fc} each: the servers answered 429 "
            f"{self.rejected} times"
        )
        return "\n".join([head, *(t.line() for t in self.tenants.values())])

    def __repr__(self) -> str:
        return self.summary()

    def burst_fields(self) -> tuple[Any, ...]:
        """The burst tenant's run as kube_teach.viz.request_path.Burst's fields, to plot it:
        `Burst(*run.burst_fields()).plot(title)`."""
        t = self.tenants[DEPLOYER]
        return (t.sent, t.done, t.codes, [0] * len(t.codes), self.seats, self.rejected,
                self.rejected_times, self.metrics)  # fmt: skip


@lru_cache(maxsize=16)  # one seed gives one run: the grader reuses the chapter's runs
def overload(
    creates: int = 1000,
    over: float = 0.1,
    *,
    replicas: int = 1,
    seats: int = 10,
    flow_control: Callable[[], Any] | None = None,
    quiet: int = 0,
    seed: int = 0,
) -> Overload:
    """`creates` ConfigMap creates from ci-deployer, issued evenly over `over` seconds, to
    `replicas` API servers with `seats` mutating seats each, or with what `flow_control()`
    returns instead of max-in-flight (e.g. `lambda: APF(server_concurrency_limit=30)`, one per
    replica); `quiet` more creates from alice, one every 5 ms from the start."""
    from ..cluster import Cluster

    if creates < 1 or replicas < 1 or seats < 1 or quiet < 0 or over <= 0:
        raise ValueError("creates, replicas and seats must be at least 1, quiet at least 0, "
                         "and over a positive number of seconds")  # fmt: skip
    cluster = Cluster(
        nodes=0, seed=seed, controllers=[], scheduler=False, etcd_members=1, apiservers=replicas,
        max_requests_inflight=2 * seats, max_mutating_requests_inflight=seats,
        authorization_mode=("AlwaysAllow",),
    )  # fmt: skip
    kind = "max-in-flight"
    if flow_control is not None:
        for server in cluster.apiservers:
            server.flow_control = server.inflight = flow_control()
            kind = type(server.flow_control).__name__
            if hasattr(server.flow_control, "tick"):  # queue time-outs and borrowing
                server.host.every(1.0, server._tick)
    start = cluster.clock.now
    tenants: dict[str, Tenant] = {}

    def client(name: str, n: int, gap: float) -> None:
        host = cluster.network.add_host(name)  # the tenant's own machine, for its timers
        rest = cluster.as_user(name, ["ci"])._client  # client-go's rules: Retry-After, 10 times
        t = tenants[name] = Tenant(name, [i * gap for i in range(n)], [0.0] * n, [0] * n)

        def send(i: int) -> None:
            def reply(r: Any) -> None:
                t.done[i], t.codes[i] = cluster.clock.now - start, r.code or -1

            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"{name}-{i:04d}"}}  # fmt: skip
            rest.request("POST", CONFIGMAPS, body, callback=reply)

        for i in range(n):
            host.call_later(i * gap, lambda i=i: send(i))

    client(DEPLOYER, creates, over / creates)
    if quiet:
        client(QUIET, quiet, 0.005)
    cluster.clock.run_until(lambda: all(all(t.codes) for t in tenants.values()), timeout=3600)
    rejected = sorted(
        tm - start
        for s in cluster.metrics.find("apiserver_rejected_requests_total")
        for tm in s.times
    )
    counts = (
        cluster.lb.counts() if cluster.lb is not None else {"apiserver": cluster.apiserver.served}
    )
    return Overload(replicas, seats, kind, tenants, rejected, counts, cluster.metrics)


# -- exercise 1: which priority level? ------------------------------------------------------------

SA_GROUPS = ("system:serviceaccounts", "system:authenticated")
# (who, groups, method, path): requests an API server sees during a rollout
LEVEL_CASES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "a": ("ci-deployer", ("ci", "system:authenticated"), "POST", CONFIGMAPS),
    "b": ("system:node:node-1", ("system:nodes", "system:authenticated"), "PUT",
          "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"),
    "c": ("kubernetes-admin", ("system:masters", "system:authenticated"), "DELETE",
          "/api/v1/namespaces/default/pods/web"),
    "d": ("system:kube-controller-manager", ("system:authenticated",), "PUT",
          "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager"),
    "e": ("system:kube-scheduler", ("system:authenticated",), "POST",
          "/api/v1/namespaces/default/pods/web/binding"),
    "f": ("system:serviceaccount:kube-system:replicaset-controller",
          (*SA_GROUPS, "system:serviceaccounts:kube-system"), "POST",
          "/api/v1/namespaces/default/pods"),
    "g": ("system:serviceaccount:default:argo", (*SA_GROUPS, "system:serviceaccounts:default"),
          "POST", "/apis/apps/v1/namespaces/default/deployments"),
    "h": ("system:anonymous", ("system:unauthenticated",), "GET", "/readyz"),
}  # fmt: skip


# the priority level of each case, as APF's default configuration (apf_defaults.go) classifies
# it; tests/test_exercises_apiserver_overload.py checks every one against the library's APF
LEVELS = {
    "a": "global-default",
    "b": "node-high",
    "c": "exempt",
    "d": "leader-election",
    "e": "workload-high",
    "f": "workload-high",
    "g": "workload-low",
    "h": "exempt",
}


@register(
    "08-priority-level",
    hint="answer with a dict from case letter to priority level name, e.g. "
    '{"a": "global-default", ...}; `kubectl get prioritylevelconfigurations` lists the names.',
)
@_graded
def priority_level_exercise(answer: Any) -> str | None:
    """`{case: priority level}` for every case of LEVEL_CASES."""
    if not isinstance(answer, Mapping):
        return f"answer with a dict from case letter to level name, not {type(answer).__name__}."
    missing = sorted(set(LEVEL_CASES) - set(answer))
    if missing:
        return f"no answer for case(s) {', '.join(missing)}."
    for case in sorted(LEVEL_CASES):
        who, _, method, path = LEVEL_CASES[case]
        want, got = LEVELS[case], answer[case]
        if got is ...:
            return f"case {case} is still `...`."
        if got != want:
            return (
                f"case {case} ({who} {method} {path}) is not in {got!r}: look for the first "
                f"FlowSchema, by matchingPrecedence, whose subjects and rules match it."
            )
    return None


# -- exercise 2: how many replicas? ---------------------------------------------------------------

BURST = {"creates": 1000, "over": 0.1}  # seats: the default 10, as the chapter calls it


@register(
    "08-replicas",
    hint="answer with a number of replicas; try overload(1000, 0.1, replicas=n) for a few n.",
)
@_graded
def replicas_exercise(answer: Any) -> str | None:
    """The fewest replicas (10 mutating seats each) that take 1,000 creates issued in 0.1 s
    without a single 429."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        return f"answer with a whole number of replicas, not {answer!r}."
    if not 1 <= answer <= 12:
        return f"{answer} replicas? Try between 1 and 12."
    run = overload(BURST["creates"], BURST["over"], replicas=answer)
    if run.rejected:
        return f"with {answer} replica(s) the servers still answered 429 {run.rejected} times."
    if answer > 1:
        fewer = overload(BURST["creates"], BURST["over"], replicas=answer - 1)
        if not fewer.rejected:
            return f"{answer - 1} replica(s) already take the burst without a 429: fewer suffice."
    return None
