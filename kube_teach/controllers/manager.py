"""kube-controller-manager: one process on the network that runs the enabled controllers while it
holds the `kube-system/kube-controller-manager` Lease.

Semantics: cmd/kube-controller-manager (NewControllerDescriptors keyed by controller IDs, the
`--controllers` flag with `*` and `-name`, --kube-api-qps 20 / --kube-api-burst 30, and
leaderElectAndRun with leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s, identity
`<hostname>_<uuid>`). Losing the lease ends the process upstream; here it restarts at once.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ..client.leaderelection import LeaderElector
from ..client.rest import RESTClient
from ..sim.metrics import Metrics
from ..sim.network import Network
from ..sim.trace import Trace
from .base import (
    KUBE_API_BURST,
    KUBE_API_QPS,
    ClientSet,
    Controller,
    ControllerContext,
    EventRecorder,
    SharedInformers,
)
from .clusterrole_aggregation_controller import ClusterRoleAggregationController
from .daemonset_controller import DaemonSetController
from .deployment_controller import DeploymentController
from .disruption_controller import DisruptionController
from .endpoints_controller import EndpointsController
from .endpointslice_controller import EndpointSliceController
from .garbage_collector_controller import GarbageCollector
from .hpa_controller import HorizontalController, MetricsClient
from .node_lifecycle_controller import NodeLifecycleController, TaintEvictionController
from .replicaset_controller import ReplicaSetController
from .service_lb_controller import ServiceLBController
from .serviceaccounts_controller import ServiceAccountsController

#: The in-tree controllers by upstream controller ID; the others join as they are written.
DEFAULT_CONTROLLERS: dict[str, type[Controller]] = {
    "clusterrole-aggregation-controller": ClusterRoleAggregationController,
    "daemonset-controller": DaemonSetController,
    "deployment-controller": DeploymentController,
    "disruption-controller": DisruptionController,
    "endpoints-controller": EndpointsController,
    "endpointslice-controller": EndpointSliceController,
    "garbage-collector-controller": GarbageCollector,
    "horizontal-pod-autoscaler-controller": HorizontalController,
    "node-lifecycle-controller": NodeLifecycleController,
    "replicaset-controller": ReplicaSetController,
    "service-lb-controller": ServiceLBController,
    "serviceaccount-controller": ServiceAccountsController,
    "taint-eviction-controller": TaintEvictionController,
}
#: Known to upstream but off unless named (ControllersDisabledByDefault).
CONTROLLERS_DISABLED_BY_DEFAULT = frozenset(
    {"bootstrap-signer-controller", "token-cleaner-controller"}
)
#: The names `--controllers` accepted before 1.28, still accepted as aliases.
CONTROLLER_ALIASES = {
    "clusterrole-aggregation": "clusterrole-aggregation-controller",
    "daemonset": "daemonset-controller",
    "deployment": "deployment-controller",
    "disruption": "disruption-controller",
    "endpoint": "endpoints-controller",
    "endpointslice": "endpointslice-controller",
    "garbagecollector": "garbage-collector-controller",
    "horizontalpodautoscaling": "horizontal-pod-autoscaler-controller",
    "nodelifecycle": "node-lifecycle-controller",
    "replicaset": "replicaset-controller",
    "service": "service-lb-controller",
    "serviceaccount": "serviceaccount-controller",
}
LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
COMPONENT = "kube-controller-manager"
UNLIMITED = 1e12  # the shared connection itself; each client has its own token bucket


class ControllersFlagError(ValueError):
    """A `--controllers` entry naming no known controller; the message is upstream's."""


def enabled_controllers(
    controllers: Iterable[str],
    known: Iterable[str],
    disabled_by_default: Iterable[str] = CONTROLLERS_DISABLED_BY_DEFAULT,
) -> list[str]:
    """The controller IDs `--controllers` enables, sorted (IsControllerEnabled for each).

    For each name the first entry that names it wins (`name` on, `-name` off); with no such
    entry, `*` turns on every controller not disabled by default. Aliases are accepted.
    Unknown names raise ControllersFlagError (`"foo" is not in the list of known controllers`).
    """
    entries = [str(c) for c in controllers]
    known_set = set(known)
    normalized = []
    for entry in entries:
        if entry == "*":
            normalized.append(entry)
            continue
        off = entry.startswith("-")
        bare = entry[1:] if off else entry
        bare = CONTROLLER_ALIASES.get(bare, bare)
        if bare not in known_set and bare not in set(disabled_by_default):
            raise ControllersFlagError(f'"{entry}" is not in the list of known controllers')
        normalized.append(f"-{bare}" if off else bare)
    disabled = set(disabled_by_default)
    out = []
    for controller_id in sorted(known_set):
        choice = None
        for entry in normalized:
            if entry == controller_id:
                choice = True
            elif entry == f"-{controller_id}":
                choice = False
            if choice is not None:
                break
        if choice is None:
            choice = "*" in normalized and controller_id not in disabled
        if choice:
            out.append(controller_id)
    return out


class ControllerManager:
    """A kube-controller-manager process named `name` on `network`, talking to `apiserver`.

    `start()` campaigns for the Lease (or, with `leader_elect=False`, starts at once); the
    leader builds shared informers and the enabled controllers and runs them. `stop()` ends
    the process. A crash of its host (`network.crash(name)`) loses every cache, queue and
    expectation; a restart campaigns again under a new identity and relists everything.
    `controllers` follows `--controllers`; `registry` maps IDs to Controller classes.
    """

    def __init__(
        self,
        network: Network,
        apiserver: str = "apiserver",
        *,
        clock: Any = None,
        trace: Trace | None = None,
        metrics: Metrics | None = None,
        epoch_ns: int = 0,
        controllers: Iterable[str] = ("*",),
        name: str = COMPONENT,
        registry: Mapping[str, type[Controller]] | None = None,
        leader_elect: bool = True,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        qps: float = KUBE_API_QPS,
        burst: int = KUBE_API_BURST,
        rng: random.Random | None = None,
        credentials: Mapping[str, Any] | None = None,
        metrics_client: MetricsClient | None = None,
    ) -> None:
        self.network = network
        self.clock = clock if clock is not None else network.clock
        trace = trace if trace is not None else network.trace
        self.trace = trace if trace is not None else Trace(self.clock)
        self.metrics = metrics if metrics is not None else Metrics(self.clock)
        self.epoch_ns = epoch_ns
        self.name = name
        self.registry = dict(registry if registry is not None else DEFAULT_CONTROLLERS)
        self.enabled = enabled_controllers(controllers, self.registry)
        self.leader_elect = leader_elect
        self.lease = (lease_duration, renew_deadline, retry_period)
        self.qps, self.burst = qps, burst
        self.rng = rng or random.Random(f"{name}/kube-controller-manager")
        self.host = network.add_host(name)
        creds = (
            credentials
            if credentials is not None
            else {"cert": {"cn": "system:kube-controller-manager"}}
        )
        self.transport = RESTClient(
            self.host, apiserver, qps=UNLIMITED, burst=10**9, credentials=creds,
            user_agent=COMPONENT,
        )  # fmt: skip
        self.host.on_crash.append(self._crashed)
        self.host.on_restart.append(self._restarted)
        self.identity = ""
        self.elector: LeaderElector | None = None
        self.informers: SharedInformers | None = None
        self.controllers: dict[str, Controller] = {}
        self.started = False
        self.restarts = 0
        self._active = False
        self._recorder: EventRecorder | None = None
        self._metrics_client = metrics_client

    # -- the learner's handle ------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        """Whether this process is running its controllers now."""
        return self._active

    @property
    def metrics_client(self) -> MetricsClient | None:
        """The resource metrics API the HPA controller reads (None: no metrics-server)."""
        return self._metrics_client

    @metrics_client.setter
    def metrics_client(self, client: MetricsClient | None) -> None:
        self._metrics_client = client
        for controller in self.controllers.values():
            if isinstance(controller, HorizontalController):
                controller.metrics_client = client

    def start(self) -> None:
        """Start the process (idempotent)."""
        if self.started:
            return
        self.started = True
        if self.host.up:
            self._boot()

    def stop(self) -> None:
        """Stop the process: controllers, informers and the election end; the Lease is left to
        expire (kube-controller-manager does not release it)."""
        self.started = False
        self._shutdown()

    def __repr__(self) -> str:
        state = "leading" if self.leading else ("standby" if self.started else "stopped")
        return f"<ControllerManager {self.name} {state} controllers={self.enabled}>"

    # -- the process ---------------------------------------------------------------------------
    def _boot(self) -> None:
        self.identity = f"{self.name}_{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        self.trace.emit(self.name, "started", identity=self.identity)
        self._recorder = EventRecorder(
            ClientSet(self.transport, "events", qps=self.qps, burst=self.burst),
            COMPONENT, self.epoch_ns,
        )  # fmt: skip
        if not self.leader_elect:
            self._start_controllers()
            return
        lease_duration, renew_deadline, retry_period = self.lease
        self.elector = LeaderElector(
            ClientSet(self.transport, "leader-election", qps=self.qps, burst=self.burst),
            namespace=LEASE_NAMESPACE,
            name=LEASE_NAME,
            identity=self.identity,
            epoch_ns=self.epoch_ns,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            rng=self.rng,
            on_started_leading=self._start_controllers,
            on_stopped_leading=self._lost_lease,
            record_event=self._record_lease_event,
            trace=self.trace,
            metrics=self.metrics,
            component=self.name,
        )
        self.elector.run()

    def _record_lease_event(self, lease: Mapping[str, Any], message: str) -> None:
        lease = {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1", **lease}
        if self._recorder is not None:
            self._recorder.event(lease, "Normal", "LeaderElection", message)

    def _start_controllers(self) -> None:
        informer_client = ClientSet(
            self.transport, "shared-informers", qps=self.qps, burst=self.burst
        )
        self.informers = SharedInformers(informer_client)
        ctx = ControllerContext(
            self.host, self.transport, self.informers, self.trace, self.metrics, self.epoch_ns,
            self.qps, self.burst,
        )  # fmt: skip
        self.controllers = {cid: self.registry[cid](ctx) for cid in self.enabled}
        self.metrics_client = self._metrics_client  # hands it to the HPA controller
        self.informers.start()
        for cid in self.enabled:
            self.controllers[cid].run()
        self._active = True
        self.trace.emit(self.name, "started-controllers", controllers=list(self.enabled))

    def _stop_controllers(self) -> None:
        for cid in sorted(self.controllers):
            self.controllers[cid].stop()
        if self.informers is not None:
            self.informers.stop()
        self.controllers = {}
        self.informers = None
        self._active = False

    def _shutdown(self) -> None:
        if self.elector is not None:
            self.elector.stop()
            self.elector = None
        self._stop_controllers()

    def _lost_lease(self) -> None:
        """leaderelection lost: upstream exits and its kubelet starts it again."""
        self._stop_controllers()
        self.elector = None
        self.restarts += 1
        if self.started and self.host.up:
            self._boot()

    def _crashed(self) -> None:
        self._shutdown()

    def _restarted(self) -> None:
        if self.started:
            self.restarts += 1
            self._boot()


__all__ = [
    "CONTROLLERS_DISABLED_BY_DEFAULT",
    "CONTROLLER_ALIASES",
    "COMPONENT",
    "DEFAULT_CONTROLLERS",
    "LEASE_NAME",
    "LEASE_NAMESPACE",
    "ControllerManager",
    "ControllersFlagError",
    "enabled_controllers",
]
