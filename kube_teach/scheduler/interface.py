"""What plugins and the framework hand each other: status codes and Status, PreFilter and
PostFilter results, the failed nodes' verdicts (NodeToStatus), CycleState, and the Plugin
protocol with the extension points it can implement.

Semantics: kube-scheduler's framework/interface.go, cycle_state.go and types.go (NodeToStatus).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .profile import Profile
    from .snapshot import Snapshot
    from .types import NodeInfo, PodInfo


MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = 2**63 - 1


# Extension points in upstream's order, with the method a plugin defines to implement each.
EXTENSION_POINTS: dict[str, str] = {
    "preEnqueue": "pre_enqueue",
    "queueSort": "less",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "preBind": "pre_bind",
    "bind": "bind",
    "postBind": "post_bind",
}


class SchedulerError(Exception):
    """A plugin or configuration error (upstream's Error status, or a rejected profile)."""


# --- Status -----------------------------------------------------------------------------------


class Code(IntEnum):
    """A status code, upstream's names and order (interface.go)."""

    Success = 0
    Error = 1
    Unschedulable = 2
    UnschedulableAndUnresolvable = 3
    Wait = 4
    Skip = 5
    Pending = 6

    def __str__(self) -> str:
        return self.name


_REJECTED = (Code.Unschedulable, Code.UnschedulableAndUnresolvable, Code.Pending)


class Status:
    """A plugin's verdict: a code, the reasons (each counted in FailedScheduling), the plugin.

    `Status()` is success; `Status(Code.Unschedulable, "Insufficient cpu")`. `message` joins the
    reasons with ", " as upstream's Message() does.
    """

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: Code = Code.Success, *reasons: str, plugin: str = "") -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin

    @staticmethod
    def success() -> Status:
        """The success status (shared; statuses are never mutated)."""
        return SUCCESS

    @staticmethod
    def error(message: str, plugin: str = "") -> Status:
        """An Error status, as upstream's AsStatus(err)."""
        return Status(Code.Error, message, plugin=plugin)

    def is_success(self) -> bool:
        return self.code == Code.Success

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending."""
        return self.code in _REJECTED

    def is_skip(self) -> bool:
        return self.code == Code.Skip

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        """A copy naming the plugin that produced it."""
        return Status(self.code, *self.reasons, plugin=plugin)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return (self.code, self.reasons, self.plugin) == (other.code, other.reasons, other.plugin)

    def __hash__(self) -> int:
        return hash((self.code, self.reasons, self.plugin))

    def __repr__(self) -> str:
        parts = [self.code.name, *map(repr, self.reasons)]
        if self.plugin:
            parts.append(f"plugin={self.plugin!r}")
        return f"Status({', '.join(parts)})"


SUCCESS = Status()


class PreFilterResult:
    """A PreFilter's success that narrows the nodes to `node_names` (None means all nodes)."""

    __slots__ = ("node_names",)

    def __init__(self, node_names: Iterable[str] | None) -> None:
        self.node_names = None if node_names is None else frozenset(node_names)

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


class PostFilterResult:
    """What a PostFilter (preemption) proposes: a nominated node and the pods to evict."""

    __slots__ = ("nominated_node_name", "victims", "num_pdb_violations")

    def __init__(
        self, nominated_node_name: str, victims: Sequence[PodInfo] = (), num_pdb_violations: int = 0
    ) -> None:
        self.nominated_node_name = nominated_node_name
        self.victims = tuple(victims)
        self.num_pdb_violations = num_pdb_violations


class NodeToStatus:
    """Filter verdicts of the nodes that failed, plus the verdict of nodes absent from the map
    (those PreFilter ruled out, or preemption never examined)."""

    def __init__(
        self, statuses: Mapping[str, Status] | None = None, absent: Status | None = None
    ) -> None:
        self.statuses = dict(statuses or {})
        self.absent = absent or Status(Code.UnschedulableAndUnresolvable)

    def get(self, name: str) -> Status:
        return self.statuses.get(name, self.absent)

    def __len__(self) -> int:
        return len(self.statuses)

    def nodes_with_code(self, snapshot: Snapshot, code: Code) -> list[NodeInfo]:
        """Nodes (in snapshot order) whose verdict has `code`, absent ones included."""
        return [ni for ni in snapshot.node_infos if self.get(ni.name).code == code]


# --- CycleState --------------------------------------------------------------------------------


class CycleState:
    """Data plugins share within one scheduling cycle, keyed by string (PreFilter -> Filter).

    Also carries what upstream plugins reach through their framework handle: the snapshot being
    scheduled against, the profile (to run other plugins, as preemption does) and the cycle's
    random stream. `clone()` copies every value that has a `clone()` method, as preemption's
    dry runs require.
    """

    __slots__ = ("_data", "snapshot", "profile", "rng", "skip_filter_plugins", "skip_score_plugins")

    def __init__(
        self,
        snapshot: Snapshot | None = None,
        rng: random.Random | None = None,
        profile: Profile | None = None,
    ) -> None:
        self._data: dict[str, Any] = {}
        self.snapshot = snapshot
        self.profile = profile
        self.rng = rng
        self.skip_filter_plugins: frozenset[str] = frozenset()
        self.skip_score_plugins: frozenset[str] = frozenset()

    def read(self, key: str) -> Any:
        """The value written under `key`; KeyError if absent (upstream's ErrNotFound)."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        out = CycleState(self.snapshot, self.rng, self.profile)
        out._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        out.skip_filter_plugins = self.skip_filter_plugins
        out.skip_score_plugins = self.skip_score_plugins
        return out


# --- plugins -----------------------------------------------------------------------------------


@runtime_checkable
class Plugin(Protocol):
    """A scheduler plugin: a `name` and one method per extension point it implements.

    Methods, all optional (the framework enables a plugin at each point it implements):
    `pre_enqueue(pod) -> Status`; `less(a, b) -> bool` (queue sort);
    `pre_filter(state, pod, nodes) -> Status | PreFilterResult` and, for preemption,
    `add_pod`/`remove_pod(state, pod, other, node) -> Status`;
    `filter(state, pod, node) -> Status` with an optional vectorized
    `filter_all(state, pod, snapshot) -> ndarray | None` (True where the plugin rejects; None
    when it rejects nothing); `post_filter(state, pod, statuses) -> (PostFilterResult | None,
    Status)`; `pre_score(state, pod, nodes) -> Status`; `score(state, pod, node) -> int` with
    optional `score_all(state, pod, nodes, index) -> ndarray` and
    `normalize_score(state, pod, scores, nodes) -> ndarray`; `reserve`/`unreserve`, `permit`,
    `pre_bind`, `bind`, `post_bind(state, pod, node_name)`.
    """

    name: str


def implements(plugin: Any, extension_point: str) -> bool:
    """Whether a plugin (class or instance) implements an extension point (v1 config name)."""
    return callable(getattr(plugin, EXTENSION_POINTS[extension_point], None))
