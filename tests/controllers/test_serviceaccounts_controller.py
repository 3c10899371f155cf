"""The serviceaccount-controller: the pure decision one call at a time (upstream's
TestServiceAccountCreation cases), then the controller in a ControllerManager against a real API
server on the simulated network."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import Response
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.controllers.manager import (
    DEFAULT_CONTROLLERS,
    ControllerManager,
    enabled_controllers,
)
from kube_teach.controllers.serviceaccounts_controller import (
    ServiceAccountsController,
    aggregate_error,
    create_failed,
    missing_service_accounts,
    service_account,
)
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

NAMESPACES, SAS = KINDS["Namespace"], KINDS["ServiceAccount"]
EPOCH = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z
CONTROLLER = "serviceaccount-controller"


class TwoAccounts(ServiceAccountsController):
    """Upstream's test options: `default` and `managed` in every namespace."""

    service_accounts = ("default", "managed")


class World:
    """Network + ObjectStore + APIServer + a ControllerManager running only this controller."""

    def __init__(self, seed: int = 0, controller: type = ServiceAccountsController) -> None:
        self.clock, self.seeds = Clock(), Seeds(seed)
        self.trace, self.metrics = Trace(self.clock), Metrics(self.clock)
        self.net = Network(self.clock, self.seeds, self.trace)
        self.store = ObjectStore(self.clock, self.seeds, self.trace, EPOCH)
        for ns in INITIAL_NAMESPACES:
            self.add_namespace(ns)
        self.server = APIServer("apiserver", self.net, self.store, self.trace, self.metrics)
        self.kcm = ControllerManager(
            self.net, "apiserver", trace=self.trace, metrics=self.metrics, epoch_ns=EPOCH,
            controllers=[CONTROLLER], registry={CONTROLLER: controller},
        )  # fmt: skip
        self.kcm.start()

    @property
    def controller(self) -> ServiceAccountsController:
        return self.kcm.controllers[CONTROLLER]  # type: ignore[return-value]

    def run(self, seconds: float) -> None:
        self.clock.run(seconds)

    def add_namespace(self, name: str) -> None:
        self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def set_phase(self, name: str, phase: str) -> None:
        """What the namespace REST storage does on DELETE: the phase becomes Terminating."""
        ns = self.store.get(NAMESPACES, name)
        ns["status"] = {"phase": phase}
        self.store.update(ns, subresource="status")

    def accounts(self, namespace: str) -> list[str]:
        return [sa.name for sa in self.store.list(SAS, namespace)]

    def created(self) -> list[tuple[float, str, str]]:
        found = self.trace.where(CONTROLLER, "created")
        return [(e.t, e.fields["namespace"], e.fields["name"]) for e in found]


def namespace(name: str = "ns", phase: str | None = "Active") -> dict:
    ns: dict = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    if phase is not None:
        ns["status"] = {"phase": phase}
    return ns


def names(objs: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


# -- the decision ------------------------------------------------------------------------------
ACTIVE, TERMINATING = namespace(), namespace(phase="Terminating")
BOTH = ("default", "managed")


@pytest.mark.parametrize(
    ("ns", "existing", "want"),
    [
        pytest.param(ACTIVE, [], ["default", "managed"], id="new active namespace missing serviceaccounts"),
        pytest.param(ACTIVE, ["managed"], ["default"], id="new active namespace missing serviceaccount"),
        pytest.param(ACTIVE, ["default"], ["managed"], id="updated active namespace missing serviceaccount"),
        pytest.param(ACTIVE, ["default", "managed"], [], id="active namespace with serviceaccounts"),
        pytest.param(TERMINATING, [], [], id="terminating namespace"),
        pytest.param(None, [], [], id="deleted serviceaccount without namespace"),
        pytest.param(ACTIVE, ["default", "managed", "other-unmanaged"], [], id="deleted unmanaged serviceaccount with active namespace"),
        pytest.param(namespace(phase=None), ["managed"], ["default"], id="a namespace without a phase is taken as Active"),
    ],
)  # fmt: skip
def test_missing_service_accounts(ns, existing, want):
    assert names(missing_service_accounts(ns, existing, BOTH)) == want


def test_the_default_options_ensure_only_default_with_upstreams_shape():
    assert missing_service_accounts(namespace("team-a"), []) == [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "default", "namespace": "team-a"}}
    ]  # fmt: skip
    assert service_account("default", "x") == {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "x"},
    }  # fmt: skip


@given(
    existing=st.sets(st.sampled_from(["default", "managed", "robot", "ci"])),
    ensure=st.lists(st.sampled_from(["default", "managed", "robot"]), unique=True),
    active=st.booleans(),
)
def test_exactly_the_missing_accounts_are_created_in_the_order_asked(existing, ensure, active):
    ns = namespace(phase="Active" if active else "Terminating")
    got = names(missing_service_accounts(ns, sorted(existing), ensure))
    assert got == ([n for n in ensure if n not in existing] if active else [])


@pytest.mark.parametrize(
    ("ns", "error", "text"),
    [
        pytest.param("ns", TypeError, "a Namespace must be a mapping, not str", id="not a mapping"),
        pytest.param({"metadata": {}}, ValueError, "a Namespace needs metadata.name", id="no name"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_clear_error(ns, error, text):
    with pytest.raises(error, match=text):
        missing_service_accounts(ns, [])


TERMINATING_403 = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": 'serviceaccounts "default" is forbidden: unable to create new content in '
               "namespace ns because it is being terminated",
    "reason": "Forbidden",
    "details": {"name": "default", "kind": "serviceaccounts",
                "causes": [{"reason": "NamespaceTerminating",
                            "message": "namespace ns is being terminated",
                            "field": "metadata.namespace"}]},
    "code": 403,
}  # fmt: skip


def status(code: int, reason: str, message: str = "boom") -> dict:
    return {"kind": "Status", "status": "Failure", "reason": reason, "message": message,
            "code": code}  # fmt: skip


@pytest.mark.parametrize(
    ("code", "body", "failed"),
    [
        pytest.param(201, service_account("default", "ns"), False, id="created"),
        pytest.param(409, status(409, "AlreadyExists"), False, id="AlreadyExists is not a failure"),
        pytest.param(403, TERMINATING_403, False, id="a NamespaceTerminating cause is not a failure"),
        pytest.param(403, status(403, "Forbidden"), True, id="Forbidden without the cause is one"),
        pytest.param(409, status(409, "Conflict"), True, id="a 409 that is not AlreadyExists is one"),
        pytest.param(404, status(404, "NotFound"), True, id="a namespace already gone is one"),
        pytest.param(500, "etcdserver: request timed out", True, id="a 500 with a plain body is one"),
    ],
)  # fmt: skip
def test_which_create_responses_count_as_failures(code, body, failed):
    assert create_failed(Response(1, code, body)) is failed


@pytest.mark.parametrize(
    ("messages", "want"),
    [
        pytest.param([], None, id="no failures, no error"),
        pytest.param(["a"], "a", id="one failure is its own message"),
        pytest.param(["a", "a"], "a", id="repeats collapse to one message"),
        pytest.param(["a", "b", "a"], "[a, b]", id="several are bracketed in order"),
    ],
)  # fmt: skip
def test_aggregate_error(messages, want):
    assert aggregate_error(messages) == want


# -- handlers and one sync, with seeded caches (as upstream's test drives them) ----------------
def drive(c: ServiceAccountsController, key: str) -> list[str]:
    """Run one sync of `key` by hand, answering each POST 201; the paths and names posted."""
    posted, sync, responses = [], c.sync(key), None
    try:
        while True:
            (call,) = sync.send(responses)  # type: ignore[arg-type]
            posted.append(f"{call.method} {call.path} {call.body['metadata']['name']}")
            responses = [Response(len(posted), 201, call.body)]
    except StopIteration as stop:
        assert stop.value is None
    return posted


@pytest.fixture(scope="module")
def idle():
    """A running controller whose initial syncs are done; the clock is not run again, so the
    queue only holds what a test's handler call adds."""
    w = World(controller=TwoAccounts)
    w.run(2)
    assert len(w.controller.queue) == 0
    return w.controller


@pytest.mark.parametrize(
    ("ns", "existing", "event", "want"),
    [
        pytest.param(ACTIVE, [], "added", ["default", "managed"], id="added active namespace missing both"),
        pytest.param(ACTIVE, ["managed"], "added", ["default"], id="added active namespace missing default"),
        pytest.param(TERMINATING, [], "added", [], id="added terminating namespace"),
        pytest.param(ACTIVE, ["default"], "updated", ["managed"], id="updated active namespace missing managed"),
        pytest.param(TERMINATING, [], "updated", [], id="updated terminating namespace"),
        pytest.param(None, [], "deleted default", [], id="deleted serviceaccount without namespace"),
        pytest.param(ACTIVE, ["managed"], "deleted default", ["default"], id="deleted serviceaccount with active namespace"),
        pytest.param(TERMINATING, [], "deleted default", [], id="deleted serviceaccount with terminating namespace"),
        pytest.param(ACTIVE, BOTH, "deleted other-unmanaged", [], id="deleted unmanaged serviceaccount with active namespace"),
    ],
)  # fmt: skip
def test_a_handler_enqueues_the_namespace_and_its_sync_creates_what_is_missing(
    idle, ns, existing, event, want
):
    c = idle
    c.namespaces.cache.pop("ns", None)
    for key in [k for k in c.accounts.cache if k.startswith("ns/")]:
        del c.accounts.cache[key]
    if ns is not None:
        c.namespaces.cache["ns"] = ns
    for sa in existing:
        c.accounts.cache[f"ns/{sa}"] = service_account(sa, "ns")
    if event == "added":
        c._namespace_changed(ns)
    elif event == "updated":
        c._namespace_changed(ns)  # the update handler enqueues the new object's name
    else:
        c._account_deleted(service_account(event.split()[1], "ns"))
    key = c.queue.get()
    assert key == "ns" and c.queue.get() is None
    c.queue.done(key)
    assert drive(c, key) == [f"POST /api/v1/namespaces/ns/serviceaccounts {n}" for n in want]


# -- in a ControllerManager --------------------------------------------------------------------
def test_registered_under_upstreams_id_and_on_by_default():
    assert DEFAULT_CONTROLLERS[CONTROLLER] is ServiceAccountsController
    assert CONTROLLER in enabled_controllers(["*"], DEFAULT_CONTROLLERS)
    assert CONTROLLER not in enabled_controllers(["*", f"-{CONTROLLER}"], DEFAULT_CONTROLLERS)
    assert (ServiceAccountsController.workers, ServiceAccountsController.queue_name) == (
        1,
        "serviceaccount",
    )


def test_every_initial_namespace_gets_default():
    w = World()
    w.run(2)
    for ns in INITIAL_NAMESPACES:
        assert w.accounts(ns) == ["default"]


def test_a_new_namespace_gets_default_within_a_second_in_upstreams_shape():
    w = World()
    w.run(2)
    created_at = w.clock.now
    w.add_namespace("team-a")
    w.run(1)
    (sa,) = w.store.list(SAS, "team-a")
    assert sa.name == "default"
    (when,) = [t for t, ns, _ in w.created() if ns == "team-a"]
    assert 0 < when - created_at < 1
    # only a name and a namespace were sent: no secrets, no automount setting (1.24+)
    assert sorted(sa) == ["apiVersion", "kind", "metadata"]
    assert (sa["apiVersion"], sa["kind"]) == ("v1", "ServiceAccount")
    assert sorted(sa.metadata) == [
        "creationTimestamp", "name", "namespace", "resourceVersion", "uid",
    ]  # fmt: skip


def test_deleting_default_recreates_it_but_deleting_another_account_does_not():
    w = World()
    w.add_namespace("team-a")
    w.run(2)
    old = w.store.get(SAS, "default", "team-a")
    w.store.delete(SAS, "default", "team-a")
    w.run(1)
    new = w.store.get(SAS, "default", "team-a")
    assert new.uid != old.uid
    w.store.create({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "robot", "namespace": "team-a"}})  # fmt: skip
    w.run(1)
    before = len(w.created())
    w.store.delete(SAS, "robot", "team-a")
    w.run(2)
    assert w.accounts("team-a") == ["default"] and len(w.created()) == before


def test_a_terminating_namespace_does_not_get_default_back():
    w = World()
    w.add_namespace("doomed")
    w.run(2)
    w.set_phase("doomed", "Terminating")
    w.run(1)
    before = len(w.created())
    w.store.delete(SAS, "default", "doomed")
    w.run(3)
    assert w.accounts("doomed") == [] and len(w.created()) == before
    w.set_phase("doomed", "Active")  # back to Active (an update): default comes back
    w.run(1)
    assert w.accounts("doomed") == ["default"]


def test_a_deleted_namespace_gets_nothing_and_its_key_settles():
    w = World()
    w.add_namespace("gone")
    w.run(2)
    before = len(w.created())
    w.store.delete(NAMESPACES, "gone")  # its accounts go first, then the namespace
    w.run(5)
    assert not w.store.exists(NAMESPACES, "gone")
    assert w.store.list(SAS, "gone") == [] and len(w.created()) == before
    # a sync that raced the namespace's DELETED event may have failed once; it is forgotten now
    assert w.controller.queue.num_requeues("gone") == 0 and len(w.controller.queue) == 0


def test_after_a_crash_the_relist_finds_a_default_deleted_meanwhile():
    w = World()
    w.add_namespace("team-a")
    w.run(2)
    w.net.crash("kube-controller-manager")
    w.store.delete(SAS, "default", "team-a")
    w.run(2)
    assert w.accounts("team-a") == []  # nobody is watching
    w.net.restart("kube-controller-manager")
    w.run(20)  # a new identity waits out the old 15 s lease first
    assert w.accounts("team-a") == ["default"]


def test_the_same_seed_gives_the_same_trace():
    def run(seed: int) -> str:
        w = World(seed)
        w.add_namespace("team-a")
        w.run(2)
        w.store.delete(SAS, "default", "team-a")
        w.run(2)
        return w.trace.text() + w.store.get(SAS, "default", "team-a").uid  # uids follow the seed

    assert run(3) == run(3)
    assert run(3) != run(4)
