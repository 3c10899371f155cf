"""Chapter 02's exercises: a read-only Role for pods, and which stage of the API server turns each
of several requests away.

The Role is checked the way a cluster would check it: applied and bound to a user, then that
user's requests go through the API server's RBAC authorizer. The stages are the ones
kube_teach.viz.request_path follows; tests/test_exercises_apiserver.py replays every case there,
so the answers cannot drift from the simulation the chapter runs.
"""

from __future__ import annotations

from typing import Any

from ..api.errors import StatusError
from ..api.objects import ManifestError, load
from .check import register
from .exercises import _graded

STAGE_NAMES = (
    "authentication",
    "audit",
    "flow control",
    "authorization",
    "mutating admission",
    "validation",
    "validating admission",
    "etcd",
)
ACCEPTED = "none"

# id -> (the request, in words; the stage that rejects it, or "none"; why)
STAGE_CASES: dict[str, tuple[str, str, str]] = {
    "a": ("GET the pods in default with a client certificate signed by an unknown CA",
          "authentication", "the x509 authenticator does not trust that CA: 401"),
    "b": ("jane (no RoleBinding) lists the secrets in default",
          "authorization", "RBAC has no rule for jane: 403, before any admission runs"),
    "c": ("kubernetes-admin creates a pod in namespace ghost, which does not exist",
          "mutating admission", "NamespaceLifecycle refuses writes into a missing namespace"),
    "d": ("kubernetes-admin creates a pod named Web_1",
          "validation", "a pod name must be a lowercase RFC 1123 subdomain: 422 Invalid"),
    "e": ("kubernetes-admin creates a privileged pod in a namespace labelled "
          "pod-security.kubernetes.io/enforce=restricted",
          "validating admission", "PodSecurity validates pods after mutation and validation"),
    "f": ("kubernetes-admin updates a ConfigMap with a resourceVersion someone already replaced",
          "etcd", "the write's compare on mod_revision fails in etcd's transaction: 409 Conflict"),
    "g": ("ci-deployer creates a ConfigMap while every seat of the mutating pool is taken",
          "flow control", "max-in-flight answers 429 with Retry-After before authorization"),
    "h": ("kubernetes-admin reads a pod that exists",
          ACCEPTED, "every stage lets it through (reads skip admission)"),
}  # fmt: skip


@register(
    "02-which-stage",
    hint="fill in the dict: for each case id ('a' ... 'h') the stage that rejects the request "
    f"({', '.join(STAGE_NAMES)}), or 'none' if it succeeds.",
)
@_graded
def which_stage(answer: Any) -> str | None:
    """A dict from case id to the stage that rejects that request ('none': it succeeds)."""
    if not isinstance(answer, dict):
        return f"answer with a dict such as {{'a': 'authentication', ...}}, not {answer!r}."
    missing = [k for k in STAGE_CASES if answer.get(k) in (None, ...)]
    if len(missing) == len(STAGE_CASES):
        raise NotImplementedError
    if missing:
        return f"no answer yet for case(s) {', '.join(missing)}."
    unknown = sorted(set(answer) - set(STAGE_CASES))
    if unknown:
        return f"there is no case {', '.join(map(repr, unknown))}; the cases are a to h."
    for key, (what, stage, why) in STAGE_CASES.items():
        given = str(answer[key]).strip().lower()
        if given not in (*STAGE_NAMES, ACCEPTED):
            return (
                f"case {key}: {answer[key]!r} is not a stage; use one of {STAGE_NAMES} or 'none'."
            )
        if given != stage:
            if stage == ACCEPTED:
                return f"case {key} ({what}) is not rejected at all: {why}."
            return (
                f"case {key} ({what}) is not stopped at {given}: look again at what {stage} checks."
            )
    return None


READ_VERBS = ("get", "list", "watch")
_WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection", "*")
_NS = "default"
_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}  # fmt: skip
_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "jane-reads-pods", "namespace": _NS},
    "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}],
}


def _pod_verbs(role: dict[str, Any]) -> set[str]:
    verbs: set[str] = set()
    for rule in role.get("rules") or []:
        if "" in (rule.get("apiGroups") or []) and {"pods", "*"} & set(rule.get("resources") or []):
            verbs |= set(rule.get("verbs") or [])
    return verbs


@register(
    "02-read-only-role",
    hint="write the YAML of a Role named pod-reader in namespace default: one rule with "
    "apiGroups [''], resources ['pods'] and the three read verbs.",
)
@_graded
def read_only_role(answer: Any) -> str | None:
    """A Role (YAML text or dict) that lets whoever it is bound to read pods, and nothing else."""
    from ..cluster import Cluster

    try:
        objs = load(answer)
    except ManifestError as err:
        return f"kubectl cannot read it: {err}"
    if len(objs) != 1:
        return f"expected one object, found {len(objs)}."
    role = objs[0]
    if role.kind != "Role":
        return (
            f"that is a {role.kind or 'manifest without a kind'}; a namespaced Role is asked for."
        )
    if role.api_version != "rbac.authorization.k8s.io/v1":
        return f"Roles are rbac.authorization.k8s.io/v1, not {role.api_version or 'nothing'}."
    if (role.namespace or _NS) != _NS:
        return f"put the Role in namespace {_NS}, not {role.namespace}."
    cluster = Cluster(nodes=0, seed=0, controllers=[], scheduler=False, etcd_members=1)
    cluster.apply(_POD)
    try:
        cluster.apply(role)
    except StatusError as err:
        return f"the API server rejected it: {err.kubectl()}"
    binding = dict(_BINDING, roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": role.name})  # fmt: skip
    cluster.apply(binding)
    verbs = _pod_verbs(cluster.get("role", role.name, _NS))
    writes = sorted(verbs & set(_WRITE_VERBS))
    if writes:
        return f"the Role lets jane {', '.join(writes)} pods: read-only means no write verbs."
    lacking = [v for v in READ_VERBS if v not in verbs]
    if lacking:
        return f"jane cannot {', '.join(lacking)} pods yet (kubectl get -w needs watch)."
    jane = cluster.as_user("jane")
    base = f"/api/v1/namespaces/{_NS}"
    reads = [("GET", f"{base}/pods"), ("GET", f"{base}/pods/web")]
    denied = [("GET", f"{base}/secrets"), ("DELETE", f"{base}/pods/web"),
              ("GET", "/api/v1/namespaces/kube-system/pods"), ("GET", "/api/v1/nodes")]  # fmt: skip
    for method, path in reads:
        try:
            jane.request(method, path)
        except StatusError as err:
            return f"as jane, {method} {path} failed: {err.kubectl()}"
    for method, path in denied:
        try:
            jane.request(method, path)
        except StatusError as err:
            if err.code == 403:
                continue
            return f"as jane, {method} {path} gave {err.code} instead of 403 Forbidden."
        return f"as jane, {method} {path} was allowed: the Role grants more than pod reads."
    return None


__all__ = ["ACCEPTED", "STAGE_CASES", "STAGE_NAMES"]
