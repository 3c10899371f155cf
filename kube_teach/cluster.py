"""Cluster: the learner's handle on a whole simulated Kubernetes cluster.

It owns the clock, the seeded random streams, the network, the trace and the metrics, wires every
component that exists, and offers kubectl's verbs as methods. Learner calls are synchronous: each
one drives the simulated clock until its work is done. Later components plug in behind the same
surface (`apply`, `get`, `list`, `delete`, `run`, `events`, `nodes[...]`).
"""

from __future__ import annotations

import copy
import html
import itertools
import json
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from .api.errors import StatusError
from .api.kinds import KINDS, KindInfo, UnknownKindError, kind_info, resolve_resource
from .api.objects import ManifestError, Obj, dump, load
from .api.printers import Table, parse_time, table
from .api.rest import Response, collection_path, object_path, with_query
from .api.selectors import LabelSelector
from .apiserver.admission import (
    AdmissionChain,
    StartupError,
    Webhook,
    enabled_plugins,
    validate_admission_flags,
)
from .apiserver.audit import Auditor, LogBackend, MemoryFS
from .apiserver.authn import ServiceAccountTokens, new_authenticator
from .apiserver.authorization import ModeAuthorizer
from .apiserver.flowcontrol_apf import APF
from .apiserver.ipallocator import kubernetes_service_ip
from .apiserver.loadbalancer import LoadBalancer
from .apiserver.rbac import can_i
from .apiserver.rbac_bootstrap import controller_manager_bindings, full_bootstrap_policy
from .apiserver.request import UserInfo
from .apiserver.server import APIServer
from .apiserver.store import INITIAL_NAMESPACES, ObjectStore
from .client.rest import TIMEOUT, RESTClient
from .controllers.hpa_controller import MetricsError
from .controllers.manager import ControllerManager, ControllersFlagError
from .controllers.replica_calculator import PodMetric
from .controllers.service_lb import CloudProvider
from .etcd import EtcdCluster
from .kubelet.config import KubeletConfigError, kubelet_options, unknown_fields
from .kubelet.kubelet import Kubelet
from .network.proxy import KubeProxyHost
from .scheduler.scheduler import Scheduler
from .sim import Clock, Metrics, Network, Seeds, Trace
from .sim.duration import SECOND, DurationError, to_ns

KUBERNETES_VERSION = "v1.34.0"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ADMIN = {"cert": {"cn": "kubernetes-admin", "o": ["system:masters"]}}
AUDIT_LOG = "/var/log/kubernetes/audit.log"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Kinds every cluster is born with plenty of; the summary line leaves them out.
_UNSUMMARIZED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"}
)
DEFAULT_START = "2025-01-01T00:00:00Z"


class ClientError(Exception):
    """An error kubectl reports itself, before or without asking the server (`error: ...`)."""

    def kubectl(self) -> str:
        return f"error: {self}"


class Output(str):
    """Text kubectl would print; shows as plain text in a notebook."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


class NodeHandle:
    """One node: its Node object, and the machine behind it that can fail and recover."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.host = cluster.network.add_host(name)

    @property
    def obj(self) -> Obj:
        return self.cluster.store.get(KINDS["Node"], self.name)

    @property
    def up(self) -> bool:
        return self.host.up

    def fail(self) -> None:
        """Power the machine off: the kubelet and every container on it stop at once."""
        self.cluster.network.crash(self.name)

    def recover(self) -> None:
        """Power the machine on again; what it persisted (its disk) is still there."""
        self.cluster.network.restart(self.name)

    def __repr__(self) -> str:
        return f"<Node {self.name} {'up' if self.up else 'down'}>"


class NodeMap(dict[str, NodeHandle]):
    def _repr_html_(self) -> str:
        return self[next(iter(self))].cluster.get("nodes")._repr_html_() if self else ""


class MetricsServer:
    """metrics-server: each pod's CPU and memory as its kubelet's Summary API reports them
    (the runtime model's usage), served to the HPA as the resource metrics API. A pod on a
    node whose kubelet is down has no sample, as a failed scrape leaves it out."""

    WINDOW = 30.0  # seconds each sample averages over (metrics-server's scrape window)

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def get_resource_metric(
        self, resource: str, namespace: str, selector: dict[str, Any], container: str = ""
    ) -> tuple[dict[str, PodMetric], float]:
        if resource not in ("cpu", "memory"):
            raise MetricsError(f"the resource metrics API serves cpu and memory, not {resource}")
        c = self.cluster
        match = LabelSelector.from_dict(selector or {})
        now = c._unix_ns() / SECOND
        usage: dict[str, dict[str, int]] = {}
        for name, kubelet in c.kubelets.items():
            if c.nodes[name].up and not getattr(kubelet, "crashed_reason", None):
                usage.update(kubelet.pod_usage())
        samples = {}
        for pod in c.store.list(KINDS["Pod"], namespace):
            if not match.matches(pod.labels) or pod.uid not in usage:
                continue
            value = usage[pod.uid][resource]
            samples[pod.name] = PodMetric(value if resource == "cpu" else value * 1000, now,
                                          self.WINDOW)  # fmt: skip
        return samples, now


class Cluster:
    """A whole cluster on a simulated clock: `Cluster(nodes=3, seed=0)`.

    The same seed gives the same run, byte for byte (`cluster.trace.text()`).
    `quota_backend_bytes` is etcd's `--quota-backend-bytes` (0: etcd's default, 2 GiB).
    `controllers` is kube-controller-manager's `--controllers`: `["*"]` runs the default set,
    `["*", "-replicaset-controller"]` all but one, `[]` none. `scheduler` runs kube-scheduler
    (True: the default profile; a KubeSchedulerConfiguration dict: those profiles; False: none).

    The control plane: `etcd_members` etcd members in one Raft group (`cluster.etcd`; 0 keeps
    the objects in a single local store, faster, without Raft), `apiservers` kube-apiserver
    replicas (more than one: behind an HAProxy-like `cluster.lb`), each with
    `--authorization-mode` `authorization_mode`, the default admission plugins changed by
    `enable_admission_plugins` / `disable_admission_plugins`, and auditing when an
    `audit_policy` (audit.k8s.io/v1 Policy, dict or YAML) is given (`cluster.audit_log()`).
    `kubelet_config` is every node's KubeletConfiguration (dict or YAML): eviction thresholds,
    reservations, image GC and maxPods take effect. `mutating_webhooks` / `validating_webhooks` are admission webhooks whose servers are Python
    callables (`kube_teach.apiserver.admission.Webhook`); `anonymous_auth` is
    `--anonymous-auth`; `max_requests_inflight` / `max_mutating_requests_inflight` are the
    API server's in-flight limits, shared under `flow_control="APF"` (API Priority and
    Fairness; the default keeps the older max-in-flight pools). Learners act as `kubernetes-admin` (group system:masters); `as_user(...)` acts as another.
    """

    def __init__(
        self,
        nodes: int = 3,
        seed: int | str = 0,
        *,
        node_cpu: str = "4",
        node_memory: str = "16Gi",
        node_pods: int = 110,
        zones: Iterable[str] = ("zone-a", "zone-b", "zone-c"),
        start: str = DEFAULT_START,
        trace_limit: int | None = None,
        quota_backend_bytes: int = 0,
        controllers: Iterable[str] = ("*",),
        scheduler: bool | dict[str, Any] = True,
        authorization_mode: Iterable[str] = ("Node", "RBAC"),
        enable_admission_plugins: Iterable[str] = (),
        disable_admission_plugins: Iterable[str] = (),
        audit_policy: dict[str, Any] | str | None = None,
        etcd_members: int = 3,
        apiservers: int = 1,
        max_requests_inflight: int = 400,
        max_mutating_requests_inflight: int = 200,
        anonymous_auth: bool = True,
        flow_control: str = "max-inflight",
        kubelet_config: dict[str, Any] | str | None = None,
        mutating_webhooks: Iterable[Webhook] = (),
        validating_webhooks: Iterable[Webhook] = (),
    ) -> None:
        epoch = parse_time(start)
        if epoch is None:
            raise ValueError(f"start must be an RFC 3339 time such as {DEFAULT_START!r}")
        self.seed = seed
        self.clock = Clock()
        self.seeds = Seeds(seed)
        self.trace = Trace(self.clock, limit=trace_limit)
        self.metrics = Metrics(self.clock)
        self.network = Network(self.clock, self.seeds, self.trace)
        etcd_cluster = None
        if etcd_members:
            etcd_cluster = EtcdCluster(
                etcd_members, seed, network=self.network, seeds=self.seeds, trace=self.trace,
                quota_backend_bytes=quota_backend_bytes or 2 * 1024**3,
            )  # fmt: skip
            etcd_cluster.wait_for_leader()
        self.store = ObjectStore(
            self.clock, self.seeds, self.trace, epoch, quota_backend_bytes=quota_backend_bytes,
            etcd=etcd_cluster,
        )  # fmt: skip
        enable, disable = list(enable_admission_plugins), list(disable_admission_plugins)
        problems = validate_admission_flags(enable, disable)
        if problems:
            raise StartupError(problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]")
        self.authorizer = ModeAuthorizer(tuple(authorization_mode), self._objects_of)
        self.audit_fs = MemoryFS()
        auditor = None
        if audit_policy is not None:
            policy = load(audit_policy)[0] if isinstance(audit_policy, str) else audit_policy
            backend = LogBackend(self.audit_fs, AUDIT_LOG, max_age_days=30, max_backups=10,
                                 max_size_mb=100)  # fmt: skip
            auditor = Auditor(dict(policy), self.seeds.stream("audit"), backend.write)
        if apiservers < 1:
            raise ValueError("a cluster needs at least one API server")
        names = (
            ["apiserver"] if apiservers == 1 else [f"apiserver-{i + 1}" for i in range(apiservers)]
        )
        # --service-account-issuer and its signing key (drawn from the seed); every replica
        # shares both, so a token one issued authenticates at any of them.
        self.service_account_tokens = ServiceAccountTokens(
            key=self.seeds.stream("service-account-key").randbytes(32),
            issuer=SERVICE_ACCOUNT_ISSUER,
            lookup=self._service_account,
        )
        self.apiservers = [
            APIServer(
                name, self.network, self.store, self.trace, self.metrics,
                max_requests_inflight=max_requests_inflight,
                max_mutating_requests_inflight=max_mutating_requests_inflight,
                flow_control=self._flow_control(flow_control, max_requests_inflight
                                                + max_mutating_requests_inflight),
                authorizer=self.authorizer,
                admission=AdmissionChain(
                    enabled_plugins(enable, disable),
                    mutating_webhooks=list(mutating_webhooks),
                    validating_webhooks=list(validating_webhooks),
                ),
                auditor=auditor,
                authenticator=new_authenticator(
                    service_accounts=self.service_account_tokens, anonymous=anonymous_auth
                ),
                service_account_tokens=self.service_account_tokens,
            )
            for name in names
        ]  # fmt: skip
        self.apiserver = self.apiservers[0]
        self.etcd = self.store.etcd  # the EtcdCluster (or, with etcd_members=0, one local store)
        self.nodes = NodeMap()
        self.store.create_all(
            [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
             for ns in INITIAL_NAMESPACES]
        )  # fmt: skip
        self.store.create_all(
            [
                # what the serviceaccount-controller made at start-up
                *({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "default", "namespace": ns}} for ns in INITIAL_NAMESPACES),
                # the bootstrap controller's `kubernetes` Service, on the range's first address
                {"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "kubernetes", "namespace": "default",
                              "labels": {"component": "apiserver", "provider": "kubernetes"}},
                 "spec": {"clusterIP": kubernetes_service_ip(), "type": "ClusterIP",
                          "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                     "targetPort": 6443}]}},
                # kube-apiserver's RBAC bootstrap, and the controller manager's grants
                *full_bootstrap_policy(),
                *controller_manager_bindings(),
            ]
        )  # fmt: skip
        # With several replicas, the seed's HAProxy takes the API server's name: every client
        # (kubelets, controllers, scheduler, kubectl) reaches the replicas through it.
        self.lb = LoadBalancer("apiserver", self.network, names) if apiservers > 1 else None
        self._kubectl_host = self.network.add_host("kubectl")
        self._view_ids = itertools.count(1)  # shared by every view
        self._client = RESTClient(
            self._kubectl_host, "apiserver", qps=10**9, burst=10**9, credentials=ADMIN,
            user_agent="kubectl/v1.34.0 (linux/amd64) kubernetes/v1.34.0", timeout=600,
        )  # fmt: skip
        zones = list(zones) or ["zone-a"]
        for i in range(1, nodes + 1):
            self._add_node(
                f"node-{i}", zones[(i - 1) % len(zones)], node_cpu, node_memory, node_pods
            )
        self.kubelets: dict[str, Kubelet] = {}
        config = load(kubelet_config)[0] if isinstance(kubelet_config, str) else kubelet_config
        try:
            options = kubelet_options(config)
        except KubeletConfigError as err:
            raise ValueError(str(err)) from None
        max_pods = options.pop("max_pods", None)
        for field in unknown_fields(config):  # the kubelet decodes leniently and logs them
            self.trace.emit("kubelet", "config-unknown-field", field=field)
        for name in sorted(self.nodes):
            self.kubelets[name] = Kubelet(
                self.nodes[name].host,
                "apiserver",
                name,
                trace=self.trace,
                metrics=self.metrics,
                epoch_ns=epoch,
                rng=self.seeds.stream(f"kubelet/{name}"),
                capacity={
                    "cpu": node_cpu,
                    "memory": node_memory,
                    "pods": str(max_pods or node_pods),
                    "ephemeral-storage": "100Gi",
                },  # fmt: skip
                **options,
            )
            self.kubelets[name].start()
        self.kube_proxies: dict[str, KubeProxyHost] = {}
        for name in sorted(self.nodes):
            proxy = KubeProxyHost(self.nodes[name].host, "apiserver", name,
                                  rng=self.seeds.stream(f"kube-proxy/{name}"), trace=self.trace)  # fmt: skip
            self.nodes[name].host.on_restart.append(proxy.start)
            proxy.start()
            self.kube_proxies[name] = proxy
        self.metrics_server = MetricsServer(self)
        self.cloud = CloudProvider(self.seeds.stream("cloud-provider"))
        controllers = list(controllers)
        self.controller_manager: ControllerManager | None = None
        if controllers:
            try:
                self.controller_manager = ControllerManager(
                    self.network,
                    "apiserver",
                    trace=self.trace,
                    metrics=self.metrics,
                    epoch_ns=epoch,
                    controllers=controllers,
                    rng=self.seeds.stream("kube-controller-manager"),
                )
            except ControllersFlagError as err:
                raise ValueError(str(err)) from None
            self.controller_manager.host.disk["cloud-provider"] = self.cloud
            self.controller_manager.metrics_client = self.metrics_server
            self.controller_manager.start()
        self.scheduler: Scheduler | None = None
        if scheduler:
            self.scheduler = Scheduler(
                self.network,
                "apiserver",
                trace=self.trace,
                metrics=self.metrics,
                epoch_ns=epoch,
                rng=self.seeds.stream("kube-scheduler"),
                config=scheduler if isinstance(scheduler, dict) else None,
            )
            self.scheduler.start()

    # -- time ----------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated seconds since the cluster started."""
        return self.clock.now

    t = now

    def run(
        self,
        seconds: float | str | None = None,
        *,
        minutes: float | None = None,
        hours: float | None = None,
    ) -> Cluster:
        """Let simulated time pass: `run(30)`, `run("1m30s")`, `run(minutes=5)`."""
        total = 0
        if seconds is not None:
            total += to_ns(seconds)
        if minutes is not None:
            total += to_ns(minutes * 60)
        if hours is not None:
            total += to_ns(hours * 3600)
        if total < 0:
            raise ValueError("cannot run backwards in time")
        self.clock.run(until_ns=self.clock.now_ns + total)
        return self

    def run_until(self, predicate: Callable[[], bool], timeout: float | str = 60) -> bool:
        """Run until `predicate()` is true; SimulationError if `timeout` passes first."""
        return self.clock.run_until(predicate, timeout=timeout)

    # -- kubectl's verbs -----------------------------------------------------------------------
    # Every verb is an HTTP request from a kubectl host, as `kubernetes-admin` (group
    # system:masters), through the API server's whole chain; the call drives the clock until
    # the reply comes back.
    def as_user(self, name: str, groups: Iterable[str] = ()) -> Cluster:
        """The same cluster seen by another user (a client certificate with CN `name` and O
        `groups`): `cluster.as_user("jane").kubectl("get pods")` is subject to RBAC."""
        return self._view({"cert": {"cn": name, "o": list(groups)}})

    def can_i(
        self,
        user: str,
        verb: str,
        resource: str,
        name: str = "",
        *,
        namespace: str = "default",
        groups: Iterable[str] | None = None,
    ) -> bool:
        """`kubectl auth can-i <verb> <resource> [name] -n <namespace> --as <user>`, asked of this
        cluster's authorizers (Node, RBAC) as they stand now. `groups` are the user's groups
        (default: what an authenticator gives a plain user, `system:authenticated`)."""
        who = UserInfo.named(user, list(groups) if groups is not None else None)
        return can_i(who, verb, resource, namespace, name, authorizer=self.authorizer)

    def as_anonymous(self) -> Cluster:
        """The same cluster seen by a client that presents no credentials at all: it is
        `system:anonymous` (group system:unauthenticated), or 401 with `anonymous_auth=False`."""
        return self._view({})

    def as_token(self, token: str) -> Cluster:
        """The same cluster seen by whoever `token` names (`Authorization: Bearer <token>`):
        `cluster.as_token(cluster.create_token("default"))` acts as
        `system:serviceaccount:default:default`. A token the cluster did not issue, or one
        that has expired, is refused with 401 Unauthorized."""
        if not isinstance(token, str) or not token:
            raise ClientError("a bearer token must be a non-empty string")
        return self._view({"token": token})

    def create_token(
        self,
        name: str,
        namespace: str = "default",
        duration: float | str | None = None,
        *,
        audiences: Iterable[str] = (),
    ) -> str:
        """`kubectl create token <name>`: a TokenRequest for the ServiceAccount; its token.

        `duration` ("10m", or seconds) is the requested lifetime; None or 0 leaves it to the
        server (one hour). `audiences` default to the API server's own. Errors are the API
        server's (404 for a missing ServiceAccount, 422 for a lifetime under ten minutes)."""
        return self.token_request(name, namespace, duration, audiences=audiences)["status"]["token"]

    def token_request(
        self,
        name: str,
        namespace: str = "default",
        duration: float | str | None = None,
        *,
        audiences: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The TokenRequest the API server answers `create_token` with (spec and status)."""
        spec: dict[str, Any] = {}
        auds = [audiences] if isinstance(audiences, str) else list(audiences)
        if any(not isinstance(a, str) or not a for a in auds):
            raise ClientError("--audience must not be an empty string")
        if auds:
            spec["audiences"] = auds
        if duration is not None:
            try:
                ns = to_ns(duration)
            except DurationError as err:
                raise ClientError(
                    f'invalid argument "{duration}" for "--duration" flag: {err}'
                ) from None
            if ns < 0:
                raise ClientError("--duration must be greater than or equal to 0")
            if ns % SECOND:
                raise ClientError("--duration cannot be expressed in units less than seconds")
            if ns:
                spec["expirationSeconds"] = ns // SECOND
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "metadata": {}, "spec": spec}  # fmt: skip
        path = object_path(KINDS["ServiceAccount"], name, namespace, "token")
        reply = self.request("POST", path, request)
        if not isinstance(reply, dict) or not (reply.get("status") or {}).get("token"):
            raise ClientError("failed to create token: no token in server response")
        return reply

    def _view(self, credentials: dict[str, Any]) -> Cluster:
        view = copy.copy(self)
        host = self.network.add_host(f"kubectl-{next(self._view_ids)}")
        view._client = RESTClient(
            host, "apiserver", qps=10**9, burst=10**9, credentials=credentials,
            user_agent=self._client.user_agent,
        )  # fmt: skip
        return view

    def _service_account(self, namespace: str, name: str) -> Obj | None:
        """The ServiceAccount a token names, as the token authenticator's getter reads it."""
        sa = KINDS["ServiceAccount"]
        return (
            self.store.get(sa, name, namespace) if self.store.exists(sa, name, namespace) else None
        )

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """Send one request and run the clock until its reply: the body on success, else the
        error raised (StatusError in the server's words, or ClientError on a timeout)."""
        replies: list[Response] = []
        self._client.request(method, path, body, callback=replies.append, headers=headers)
        self.clock.run_until(lambda: bool(replies), timeout=3600)
        reply = replies[0]
        if reply.ok:
            return reply.body
        if reply.code == 0:  # no HTTP answer: the client gave up, or the connection broke
            if reply.body in (None, "", TIMEOUT):
                raise ClientError(
                    "Unable to connect to the server: net/http: request canceled "
                    "(Client.Timeout exceeded while awaiting headers)"
                )
            raise ClientError(f"Unable to connect to the server: {reply.body}")
        body = reply.body
        if isinstance(body, dict) and body.get("kind") == "Status":
            raise StatusError(body.get("reason", ""), int(body.get("code") or reply.code),
                              body.get("message", ""), body.get("details"))  # fmt: skip
        reason = "TooManyRequests" if reply.code == 429 else ""
        raise StatusError(reason, reply.code, str(body or "").strip())

    def _get(self, info: KindInfo, name: str, namespace: str | None) -> Obj:
        ns = (namespace or "default") if info.namespaced else None
        return Obj(self.request("GET", object_path(info, name, ns)))

    def _exists(self, info: KindInfo, name: str, namespace: str | None) -> bool:
        try:
            self._get(info, name, namespace)
        except StatusError as err:
            if err.code == 404:
                return False
            raise
        return True

    def _write(self, method: str, obj: Obj, dry_run: bool = False) -> Obj:
        info = KINDS[obj.kind]
        ns = (obj.namespace or "default") if info.namespaced else None
        path = collection_path(info, ns) if method == "POST" else object_path(info, obj.name, ns)
        return Obj(self.request(method, with_query(path, dryRun="All" if dry_run else None), obj))

    def apply(self, source: Any, namespace: str | None = None) -> Output:
        """Create or update the objects in `source` (YAML/JSON text, dict, list, or a path).

        All or nothing: every object is checked first (a server-side dry run), and if one is
        rejected nothing changes and the error is raised (`StatusError`, in the API server's
        words).
        """
        objs = [self._prepare(o, namespace) for o in load(source)]
        plans = []
        for obj in objs:
            info = KINDS[obj.kind]
            try:
                live = self._get(info, obj.name, obj.namespace or None)
            except StatusError as err:
                if err.code != 404:
                    raise
                self._write("POST", obj, dry_run=True)
                plans.append(("create", info, obj, None))
                continue
            merged = _merge_applied(live, obj)
            self._write("PUT", merged, dry_run=True)
            plans.append(("update", info, merged, live))
        lines = []
        for action, info, obj, live in plans:
            ref = f"{info.type_name}/{obj.name}"
            if action == "create":
                self._write("POST", obj)
                lines.append(f"{ref} created")
            else:
                after = self._write("PUT", obj)
                same = after.resource_version == live.resource_version
                lines.append(f"{ref} {'unchanged' if same else 'configured'}")
        return Output("\n".join(lines))

    def create(self, source: Any, namespace: str | None = None) -> Output:
        """Create the objects in `source`; AlreadyExists if one is there (kubectl create)."""
        objs = [self._prepare(o, namespace, annotate=False) for o in load(source)]
        for obj in objs:
            self._write("POST", obj, dry_run=True)
        lines = []
        for obj in objs:
            info = KINDS[obj.kind]
            self._write("POST", obj)
            lines.append(f"{info.type_name}/{obj.name} created")
        return Output("\n".join(lines))

    def get(
        self,
        resource: str,
        name: str | None = None,
        namespace: str | None = None,
        *,
        selector: str | None = None,
        all_namespaces: bool = False,
        wide: bool = False,
    ) -> Table | Obj:
        """`get("pods")` gives kubectl's table; `get("deploy", "web")` gives the object itself."""
        info = self._resource(resource)
        if name is not None:
            return self._get(info, name, namespace)
        objs = self.list(resource, namespace, selector=selector, all_namespaces=all_namespaces)
        return table(
            objs,
            info.kind,
            self._unix_ns(),
            wide=wide,
            all_namespaces=all_namespaces,
            namespace=namespace,
        )

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        selector: str | dict[str, Any] | None = None,
        all_namespaces: bool = False,
    ) -> list[Obj]:
        """Objects of one kind as a list of dicts (namespace `default` unless told otherwise)."""
        info = self._resource(resource)
        ns = None if all_namespaces or not info.namespaced else (namespace or "default")
        text = selector if isinstance(selector, str) else None
        body = self.request("GET", with_query(collection_path(info, ns), labelSelector=text))
        items = [Obj(o) for o in body.get("items") or []]
        if isinstance(selector, dict):
            match = LabelSelector.from_dict(selector)
            items = [o for o in items if match.matches(o.labels)]
        return items

    def delete(
        self,
        resource: Any,
        name: str | None = None,
        namespace: str | None = None,
        *,
        grace_period: int | None = None,
        cascade: str = "background",
        wait: bool = True,
    ) -> Output:
        """`delete("deployment", "web")`, or delete every object named in a manifest.

        As kubectl: `cascade` is background, foreground or orphan; `grace_period` overrides a
        pod's terminationGracePeriodSeconds; with `wait` the call returns once the objects
        are gone (a pod, once its kubelet has stopped it), or after its grace period and a
        minute more.
        """
        if cascade not in ("background", "foreground", "orphan"):
            raise ClientError(
                f'invalid cascade value ({cascade}). Must be "background", "foreground", or "orphan".'
            )
        if name is None:
            targets = [(KINDS[o.kind], o.name, o.namespace or namespace) for o in load(resource)]
        else:
            targets = [(self._resource(resource), name, namespace)]
        options: dict[str, Any] = {"propagationPolicy": cascade.capitalize()}
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        lines, pending = [], []
        for info, n, ns in targets:
            path = object_path(info, n, (ns or "default") if info.namespaced else None)
            gone = Obj(self.request("DELETE", path, dict(options)))
            lines.append(f'{info.qualified_resource} "{n}" deleted')
            pending.append((info, n, ns, int(gone.metadata.get("deletionGracePeriodSeconds") or 0)))
        if wait:
            for info, n, ns, grace in pending:
                scope = (ns or "default") if info.namespaced else None
                self.clock.run_until(
                    lambda i=info, n=n, s=scope: not self.store.exists(i, n, s),
                    timeout=grace + 60,
                    raise_on_timeout=False,
                )
        return Output("\n".join(lines))

    def describe(self, resource: str, name: str, namespace: str | None = None) -> Output:
        """A short `kubectl describe`: identity, labels, the object's spec and status, events."""
        info = self._resource(resource)
        obj = self._get(info, name, namespace)
        lines = [f"Name:         {obj.name}"]
        if info.namespaced:
            lines.append(f"Namespace:    {obj.namespace}")
        labels = [f"{k}={v}" for k, v in sorted(obj.labels.items())] or ["<none>"]
        lines.append("Labels:       " + "\n              ".join(labels))
        lines.append(f"CreationTimestamp:  {obj.metadata.get('creationTimestamp', '')}")
        for section in ("spec", "status"):
            if obj.get(section):
                lines.append(f"{section.capitalize()}:")
                lines += ["  " + ln for ln in dump(obj[section]).rstrip().splitlines()]
        events = [
            e
            for e in self.store.list(KINDS["Event"], None)
            if (e.get("involvedObject") or {}).get("uid") == obj.uid
        ]
        if events:
            ev = table(events, "Event", self._unix_ns())
            lines.append("Events:")
            lines += ["  " + ln for ln in ev.text().splitlines()]
        else:
            lines.append("Events:       <none>")
        return Output("\n".join(lines))

    def events(self, namespace: str | None = None, *, all_namespaces: bool = True) -> Table:
        """Events as `kubectl get events -A --sort-by=.lastTimestamp` lists them, oldest first."""
        evs = self.store.list(KINDS["Event"], None if all_namespaces else (namespace or "default"))
        # Timestamps have one-second precision; the etcd revision of each write breaks ties in
        # the order things happened.
        evs.sort(
            key=lambda e: (parse_time(e.get("lastTimestamp")) or 0, int(e.resource_version or 0))
        )
        return table(evs, "Event", self._unix_ns(), all_namespaces=all_namespaces)

    def record_event(
        self,
        obj: dict[str, Any],
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        component: str = "",
        host: str = "",
    ) -> Obj:
        """Post a core/v1 Event about `obj`, as a component's event recorder does."""
        o = Obj(obj)
        now = self.store.timestamp()
        unix = self._unix_ns()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{o.name}.{unix:x}", "namespace": o.namespace or "default"},
            "involvedObject": {
                "apiVersion": o.api_version,
                "kind": o.kind,
                "name": o.name,
                "uid": o.uid,
                "resourceVersion": o.resource_version,
                **({"namespace": o.namespace} if o.namespace else {}),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        self.trace.emit(component or "events", "event", reason=reason, object=o.key)
        return self.store.create(event)

    def kubectl(self, command: str) -> Output:
        """Run a kubectl command line (`get pods -o wide`, `apply -f web.yaml`, `delete ...`).

        Prints what kubectl prints, errors included; never raises for a bad command.
        """
        try:
            return self._kubectl(shlex.split(command))
        except StatusError as err:
            return Output(err.kubectl())
        except (ClientError, UnknownKindError, ManifestError) as err:
            return Output(f"error: {err.args[0] if err.args else err}")

    # -- rendering -----------------------------------------------------------------------------
    def summary(self) -> str:
        ready = sum(1 for n in self.nodes.values() if n.up)
        counts = self.store.count()
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if k not in _UNSUMMARIZED)
        return (
            f"Cluster(seed={self.seed!r}) at t={self.now:g}s: {ready}/{len(self.nodes)} nodes up; "
            f"{kinds or 'no objects'}"
        )

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.summary())

    def _repr_html_(self) -> str:
        return (
            f"<p><strong>{html.escape(self.summary())}</strong></p>"
            + self.get("nodes")._repr_html_()
        )

    # -- internals -----------------------------------------------------------------------------
    def audit_log(self) -> list[dict[str, Any]]:
        """The audit events written so far (the current audit.log file), as dicts."""
        if not self.audit_fs.exists(AUDIT_LOG):
            return []
        return [json.loads(line) for line in self.audit_fs.read(AUDIT_LOG).splitlines() if line]

    @staticmethod
    def _flow_control(kind: str, limit: int) -> Any:
        """`max-inflight`: the two in-flight pools (None: the server builds them); `APF`: API
        Priority and Fairness with the default FlowSchemas and priority levels, sharing the
        two flags' sum as its concurrency limit, as kube-apiserver does."""
        if kind == "max-inflight":
            return None
        if kind == "APF":
            return APF(server_concurrency_limit=limit)
        raise ValueError(f'flow_control must be "max-inflight" or "APF", not {kind!r}')

    def _objects_of(self, kinds: Iterable[str]) -> list[dict[str, Any]]:
        """Every stored object of these kinds (what an authorizer's informers would hold)."""
        return [o for k in sorted(kinds) if k in KINDS for o in self.store.list(KINDS[k], None)]

    def _unix_ns(self) -> int:
        return self.store.unix_ns

    def _resource(self, resource: str) -> KindInfo:
        return resolve_resource(resource)

    def _prepare(self, obj: Obj, namespace: str | None, annotate: bool = True) -> Obj:
        try:
            info = kind_info(obj.kind, obj.api_version)
        except UnknownKindError as err:
            raise ClientError(
                f'resource mapping not found for name: "{obj.name}" namespace: '
                f'"{obj.namespace}" from "STDIN": {err.args[0]}\n'
                "ensure CRDs are installed first"
            ) from None
        obj = obj.copy()
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise StatusError.bad_request(
                f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                "json: cannot unmarshal into Go struct field of type v1.ObjectMeta"
            )
        if info.namespaced and namespace and not meta.get("namespace"):
            meta["namespace"] = namespace
        if annotate:
            original = obj.copy()
            annotations = meta.setdefault("annotations", {}) or {}
            meta["annotations"] = annotations
            annotations[LAST_APPLIED] = original.to_json(indent=None) + "\n"
        return obj

    def _add_node(self, name: str, zone: str, cpu: str, memory: str, pods: int) -> None:
        handle = NodeHandle(self, name)
        self.nodes[name] = handle
        index = len(self.nodes)
        node = self.store.create(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/arch": "amd64",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "topology.kubernetes.io/zone": zone,
                    },
                },
                "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
            }
        )
        resources = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "100Gi"}
        stamp = self.store.timestamp()
        node["status"] = {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [
                {
                    "type": cond,
                    "status": "False",
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
                for cond, reason, message in _HEALTHY_CONDITIONS
            ]
            + [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": KUBERNETES_VERSION,
                "containerRuntimeVersion": "containerd://2.0.0",
                "osImage": "Ubuntu 24.04 LTS",
                "kernelVersion": "6.8.0-generic",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
        self.store.update(node, subresource="status")
        self.trace.emit(name, "registered", zone=zone, cpu=cpu, memory=memory)

    def _kubectl(self, argv: list[str]) -> Output:
        from .kubectl import run as run_kubectl  # the command-line parser, kept apart

        return run_kubectl(self, argv)


_HEALTHY_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


def _merge_applied(live: Obj, applied: Obj) -> Obj:
    """What `kubectl apply` makes of an existing object: the three-way merge of the last applied
    configuration (the annotation), the new manifest and the live object. Maps merge key by
    key, recursively: what the manifest sets wins; what the last apply set and this manifest
    no longer has is removed (so dropping `replicas` from a manifest resets it to the default
    once, as with the real kubectl); what nobody applied (status, server-set fields, a
    `replicas` an HPA manages) stays. Lists are taken whole from the manifest (kubectl merges
    some of them by key, e.g. containers by name)."""
    last_text = live.annotations.get(LAST_APPLIED)
    last = json.loads(last_text) if last_text else {}
    merged = Obj(_three_way(dict(live), dict(applied), last, top=True))
    merged.setdefault("metadata", {})["resourceVersion"] = live.resource_version
    return merged


def _three_way(live: Any, applied: Any, last: Any, *, top: bool = False) -> Any:
    if not isinstance(live, dict) or not isinstance(applied, dict):
        return copy.deepcopy(applied)
    out = dict(live)
    keep = ("status", "apiVersion", "kind") if top else ()
    for key, value in applied.items():
        sub_last = last.get(key) if isinstance(last, dict) else None
        out[key] = _three_way(live.get(key), value, sub_last or {})
    if isinstance(last, dict):
        for key in last:
            if key not in applied and key not in keep and not (top and key == "metadata"):
                out.pop(key, None)
    return out


__all__ = ["Cluster", "ClientError", "NodeHandle", "Output", "SECOND"]
