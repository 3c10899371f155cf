"""Auditing: which requests to record, at what level, and the audit.k8s.io/v1 Events written.

Semantics: apiserver's audit/policy checker (rules in order, first match wins, omitStages
unioned with the policy's), the audit filter's stages and event fields (audit/request.go,
context.go), the JSON log backend, and lumberjack's rotation (backup names carry the rotation
time as `2006-01-02T15-04-05.000`, maxbackup, maxage in days, maxsize in MiB, 100 by default).
Time (Unix nanoseconds) and the audit-ID random stream are passed in.
"""

from __future__ import annotations

import copy
import datetime as dt
import posixpath
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api.gofmt import go_json
from ..sim.duration import SECOND
from .request import Attributes

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")


def level_less(a: str, b: str) -> bool:
    """Whether level `a` records less than level `b` (None < Metadata < Request < RequestResponse)."""
    return LEVELS.index(a) < LEVELS.index(b)


@dataclass(frozen=True)
class RequestAuditConfig:
    """The outcome of policy evaluation for one request."""

    level: str
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False


def _path_matches(path: str, spec: str) -> bool:
    return spec == "*" or spec == path or (spec.endswith("*") and path.startswith(spec.rstrip("*")))


def _resource_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    if not attrs.is_resource_request:
        return False
    namespaces = rule.get("namespaces") or []
    if namespaces and attrs.namespace not in namespaces:  # cluster-scoped requests use ""
        return False
    groups = rule.get("resources") or []
    if not groups:
        return True
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    for gr in groups:
        if gr.get("group", "") not in (attrs.api_group, "*"):
            continue
        resources = gr.get("resources") or []
        if not resources:
            return True
        names = gr.get("resourceNames") or []
        for res in resources:
            if names and attrs.name not in names:
                continue
            if res in (combined, "*"):
                return True
            if attrs.subresource and res.startswith("*/") and attrs.subresource == res[2:]:
                return True
            # "pods/*" matches pods and every subresource of pods
            if res.endswith("/*") and attrs.resource == res[:-2]:
                return True
    return False


def rule_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    """Whether one audit PolicyRule applies: users, userGroups and verbs must match when set;
    then resources/namespaces (resource requests only) or nonResourceURLs (others)."""
    user = attrs.user
    if rule.get("users") and (user is None or user.name not in rule["users"]):
        return False
    if rule.get("userGroups") and (
        user is None or not any(g in rule["userGroups"] for g in user.groups)
    ):
        return False
    if rule.get("verbs") and attrs.verb not in rule["verbs"]:
        return False
    if rule.get("namespaces") or rule.get("resources"):
        return _resource_matches(rule, attrs)
    if rule.get("nonResourceURLs"):
        return not attrs.is_resource_request and any(
            _path_matches(attrs.path, s) for s in rule["nonResourceURLs"]
        )
    return True


def evaluate_policy(policy: Mapping[str, Any] | None, attrs: Attributes) -> RequestAuditConfig:
    """The level and omitted stages for a request under an audit.k8s.io/v1 Policy dict.
    No matching rule (or no policy) means level None."""
    policy = policy or {}
    global_omit = list(policy.get("omitStages") or ())
    global_mf = bool(policy.get("omitManagedFields", False))
    for rule in policy.get("rules") or ():
        if rule_matches(rule, attrs):
            omit = tuple(s for s in STAGES if s in {*global_omit, *(rule.get("omitStages") or ())})
            mf = rule.get("omitManagedFields")
            return RequestAuditConfig(
                rule.get("level", "None"), omit, global_mf if mf is None else bool(mf)
            )
    return RequestAuditConfig("None", tuple(s for s in STAGES if s in global_omit), global_mf)


def micro_time(now_ns: int) -> str:
    """metav1.MicroTime's JSON form: `2024-05-01T12:00:00.123456Z` (UTC, microseconds)."""
    t = dt.datetime.fromtimestamp(now_ns // SECOND, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{(now_ns % SECOND) // 1000:06d}Z"


def new_audit_id(rng: random.Random) -> str:
    """A UUID (version 4 layout) from the given random stream."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _strip_managed_fields(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    out = copy.deepcopy(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    for item in out.get("items") or () if isinstance(out.get("items"), list) else ():
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            item["metadata"].pop("managedFields", None)
    return out


@dataclass
class AuditContext:
    """One request's audit record, filled in as it goes through the server."""

    config: RequestAuditConfig
    event: dict[str, Any]
    emit: Callable[[dict[str, Any], int], None]
    long_running: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    request_object: Any = None
    response_status: dict[str, Any] | None = None
    response_object: Any = None

    @property
    def enabled(self) -> bool:
        return self.config.level != "None"

    def annotate(self, key: str, value: str) -> None:
        """Add an audit annotation (first writer wins, as upstream warns and keeps it)."""
        self.annotations.setdefault(key, value)

    def log_request_object(self, obj: Mapping[str, Any]) -> None:
        """The decoded request body: fills objectRef gaps (name, uid, resourceVersion) and,
        at level Request or above, the requestObject."""
        if not self.enabled:
            return
        meta = obj.get("metadata") or {}
        ref = self.event.setdefault("objectRef", {})
        for key, value in (
            ("namespace", meta.get("namespace")),
            ("name", meta.get("name")),
            ("uid", meta.get("uid")),
            ("resourceVersion", meta.get("resourceVersion")),
        ):
            if value and not ref.get(key):
                ref[key] = value
        if not level_less(self.config.level, "Request"):
            self.request_object = (
                _strip_managed_fields(obj)
                if self.config.omit_managed_fields
                else copy.deepcopy(obj)
            )

    def _stage(self, stage: str, now_ns: int) -> None:
        if not self.enabled or stage in self.config.omit_stages:
            return
        ev = copy.deepcopy(self.event)
        ev["stage"] = stage
        ordered = {
            k: ev[k]
            for k in (
                "kind",
                "apiVersion",
                "level",
                "auditID",
                "stage",
                "requestURI",
                "verb",
                "user",
            )
            if k in ev
        }
        for k in ("impersonatedUser", "sourceIPs", "userAgent", "objectRef"):
            if ev.get(k):
                ordered[k] = ev[k]
        if stage != "RequestReceived" and self.response_status is not None:
            ordered["responseStatus"] = self.response_status
        if self.request_object is not None:
            ordered["requestObject"] = self.request_object
        if stage == "ResponseComplete" and self.response_object is not None:
            ordered["responseObject"] = self.response_object
        ordered["requestReceivedTimestamp"] = ev["requestReceivedTimestamp"]
        ordered["stageTimestamp"] = micro_time(now_ns)
        if self.annotations and stage != "RequestReceived":
            ordered["annotations"] = dict(sorted(self.annotations.items()))
        self.emit(ordered, now_ns)

    def response_started(self, now_ns: int, code: int = 200) -> None:
        """Long-running requests (watch, exec, logs) record when the response began."""
        self.response_status = {"metadata": {}, "code": code}
        if self.long_running:
            self._stage("ResponseStarted", now_ns)

    def complete(
        self,
        now_ns: int,
        code: int,
        status: Mapping[str, Any] | None = None,
        response_object: Any = None,
    ) -> None:
        """The response is done: responseStatus from the Status object when the reply was one
        (its status, message, reason, details, code), else just the code."""
        if status is not None:
            self.response_status = {"metadata": {}} | {
                k: status[k]
                for k in ("status", "message", "reason", "details", "code")
                if status.get(k)
            }
        elif self.response_status is None or self.response_status.get("code") != code:
            self.response_status = {"metadata": {}, "code": code}
        if self.config.level == "RequestResponse" and response_object is not None:
            self.response_object = (
                _strip_managed_fields(response_object)
                if self.config.omit_managed_fields
                else copy.deepcopy(response_object)
            )
        self._stage("ResponseComplete", now_ns)


class Auditor:
    """The audit filter: evaluates the policy when a request arrives and sends each stage's
    Event to `sink(event, now_ns)` (e.g. LogBackend.write)."""

    def __init__(
        self,
        policy: Mapping[str, Any] | None,
        rng: random.Random,
        sink: Callable[[dict[str, Any], int], None],
    ) -> None:
        self.policy = policy
        self.rng = rng
        self.sink = sink

    def begin(
        self,
        attrs: Attributes,
        request_uri: str,
        now_ns: int,
        *,
        user_agent: str = "",
        source_ips: Sequence[str] = ("127.0.0.1",),
        long_running: bool = False,
        audit_id: str | None = None,
    ) -> AuditContext:
        """Start auditing a request received at `now_ns`; emits RequestReceived."""
        config = evaluate_policy(self.policy, attrs)
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": config.level,
            "auditID": audit_id or new_audit_id(self.rng),
            "requestURI": request_uri,
            "verb": attrs.verb,
            "user": attrs.user.to_dict() if attrs.user else {},
            "sourceIPs": list(source_ips),
            "userAgent": user_agent
            if len(user_agent) <= 1024
            else user_agent[:1024] + "...TRUNCATED",
            "requestReceivedTimestamp": micro_time(now_ns),
        }
        if attrs.is_resource_request:
            ref = {k: v for k, v in (("resource", attrs.resource), ("namespace", attrs.namespace), ("name", attrs.name),
                                     ("apiGroup", attrs.api_group), ("apiVersion", attrs.api_version), ("subresource", attrs.subresource)) if v}  # fmt: skip
            event["objectRef"] = ref
        ctx = AuditContext(config, event, self.sink, long_running)
        ctx._stage("RequestReceived", now_ns)
        return ctx


# -- the log backend ------------------------------------------------------------------------------


def event_line(event: Mapping[str, Any]) -> str:
    """One JSON line as the json log format writes it (Go's encoding: compact, HTML escaped)."""
    return go_json(event) + "\n"


class MemoryFS:
    """A tiny in-memory file system: paths to text, enough for log files and their backups."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def exists(self, path: str) -> bool:
        return path in self.files

    def read(self, path: str) -> str:
        return self.files[path]

    def append(self, path: str, text: str) -> None:
        self.files[path] = self.files.get(path, "") + text

    def size(self, path: str) -> int:
        return len(self.files.get(path, "").encode())

    def rename(self, src: str, dst: str) -> None:
        self.files[dst] = self.files.pop(src)

    def remove(self, path: str) -> None:
        self.files.pop(path, None)

    def listdir(self, directory: str) -> list[str]:
        return sorted(
            posixpath.basename(p) for p in self.files if posixpath.dirname(p) == directory
        )


BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"
MEGABYTE = 1024 * 1024


def backup_name(path: str, now_ns: int) -> str:
    """`/var/log/audit.log` rotated at t -> `/var/log/audit-2024-05-01T12-00-00.000.log`."""
    directory, base = posixpath.split(path)
    stem, ext = posixpath.splitext(base)
    t = dt.datetime.fromtimestamp(now_ns // SECOND, tz=dt.UTC)
    stamp = t.strftime(BACKUP_TIME_FORMAT) + f".{(now_ns % SECOND) // 1_000_000:03d}"
    return posixpath.join(directory, f"{stem}-{stamp}{ext}")


class LogBackend:
    """`--audit-log-path` with lumberjack rotation: a write that would take the file past
    `max_size_mb` MiB (100 when 0) first renames it to a timestamped backup; then backups
    beyond `max_backups` (0: keep all) and older than `max_age_days` (0: no limit) go."""

    def __init__(
        self,
        fs: MemoryFS,
        path: str,
        max_age_days: int = 0,
        max_backups: int = 0,
        max_size_mb: int = 0,
    ) -> None:
        self.fs = fs
        self.path = path
        self.max_age_days = max_age_days
        self.max_backups = max_backups
        self.max_bytes = (max_size_mb or 100) * MEGABYTE

    def write(self, event: Mapping[str, Any], now_ns: int) -> None:
        """Append one event as a JSON line, rotating first when needed."""
        line = event_line(event)
        n = len(line.encode())
        if n > self.max_bytes:
            raise ValueError(f"write length {n} exceeds maximum file size {self.max_bytes}")
        if self.fs.exists(self.path) and self.fs.size(self.path) + n > self.max_bytes:
            self.rotate(now_ns)
        self.fs.append(self.path, line)

    def rotate(self, now_ns: int) -> None:
        """Move the current file to its backup name, then delete surplus and expired backups."""
        if self.fs.exists(self.path):
            self.fs.rename(self.path, backup_name(self.path, now_ns))
        self.fs.append(self.path, "")
        self._mill(now_ns)

    def backups(self) -> list[tuple[str, dt.datetime]]:
        """(path, time) of each backup, newest first."""
        directory, base = posixpath.split(self.path)
        stem, ext = posixpath.splitext(base)
        out = []
        for name in self.fs.listdir(directory):
            if (
                not (name.startswith(stem + "-") and name.endswith(ext))
                or posixpath.join(directory, name) == self.path
            ):
                continue
            stamp = name[len(stem) + 1 : len(name) - len(ext)]
            try:
                t = dt.datetime.strptime(stamp, BACKUP_TIME_FORMAT + ".%f").replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            out.append((posixpath.join(directory, name), t))
        return sorted(out, key=lambda x: x[1], reverse=True)

    def _mill(self, now_ns: int) -> None:
        files = self.backups()
        if 0 < self.max_backups < len(files):
            for path, _ in files[self.max_backups :]:
                self.fs.remove(path)
            files = files[: self.max_backups]
        if self.max_age_days > 0:
            cutoff = dt.datetime.fromtimestamp(now_ns / SECOND, tz=dt.UTC) - dt.timedelta(
                days=self.max_age_days
            )
            for path, t in files:
                if t < cutoff:
                    self.fs.remove(path)
