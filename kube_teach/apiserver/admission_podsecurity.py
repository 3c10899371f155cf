"""PodSecurity admission: the Pod Security Standards (privileged, baseline, restricted).

Semantics: k8s.io/pod-security-admission: the versioned checks of its policy package (reasons
and details worded as upstream), the namespace labels `pod-security.kubernetes.io/<mode>` and
`<mode>-version`, enforce on pods only, warn and audit also on workload templates, and the
`violates PodSecurity "restricted:latest": ...` message format. Checks run baseline first,
then restricted, each group in the order of their IDs, as upstream's registry orders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..api.gofmt import go_quote
from .admission import CREATE, UPDATE, AdmissionContext, AdmissionRequest
from .rbac import new_forbidden

Pod = Mapping[str, Any]
Result = tuple[str, str] | None  # (forbidden reason, detail); None when allowed
LEVELS = ("privileged", "baseline", "restricted")
MAX_VERSION = (1, 35)  # the newest version any check is registered for (release-1.36)
LABEL_PREFIX = "pod-security.kubernetes.io/"


def _plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


def _jq(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _containers(spec: Pod) -> list[Mapping[str, Any]]:
    # init containers, then containers, then ephemeral containers (visitContainers)
    return [
        *(spec.get("initContainers") or ()),
        *(spec.get("containers") or ()),
        *(spec.get("ephemeralContainers") or ()),
    ]


def _sc(c: Mapping[str, Any]) -> Mapping[str, Any]:
    return c.get("securityContext") or {}


def _who(setters: list[str], containers: list[str]) -> str:
    if containers:
        setters = [
            *setters,
            f"{_plural('container', 'containers', len(containers))} {_jq(containers)}",
        ]
    return " and ".join(setters)


def _user_ns(spec: Pod) -> bool:
    return spec.get("hostUsers") is False


# -- baseline checks ------------------------------------------------------------------------------


def _app_armor(meta: Pod, spec: Pod) -> Result:
    ok = ("RuntimeDefault", "Localhost")
    setters, bad_values, bad = [], set(), []
    psc = (spec.get("securityContext") or {}).get("appArmorProfile")
    if psc is not None and psc.get("type") not in ok:
        setters.append("pod")
        bad_values.add(psc.get("type", ""))
    for c in _containers(spec):
        p = _sc(c).get("appArmorProfile")
        if p is not None and p.get("type") not in ok:
            bad.append(c.get("name", ""))
            bad_values.add(p.get("type", ""))
    if bad:
        setters.append(f"{_plural('container', 'containers', len(bad))} {_jq(bad)}")
    annotations = sorted(
        f"{k}={go_quote(v)}"
        for k, v in (meta.get("annotations") or {}).items()
        if k.startswith("container.apparmor.security.beta.kubernetes.io/")
        and not (v == "" or v == "runtime/default" or v.startswith("localhost/"))
    )
    values = [*sorted(bad_values), *annotations]
    if annotations:
        setters.append(_plural("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    reason = _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values))
    return reason, f"{' and '.join(setters)} must not set AppArmor profile type to {_jq(values)}"


_DEFAULT_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}  # fmt: skip


def _capabilities_baseline(meta: Pod, spec: Pod) -> Result:
    bad, caps = [], set()
    for c in _containers(spec):
        added = [
            a for a in (_sc(c).get("capabilities") or {}).get("add") or () if a not in _DEFAULT_CAPS
        ]
        if added:
            bad.append(c.get("name", ""))
            caps.update(added)
    if not bad:
        return None
    return "non-default capabilities", (
        f"{_plural('container', 'containers', len(bad))} {_jq(bad)} must not include "
        f"{_jq(sorted(caps))} in securityContext.capabilities.add"
    )


def _host_namespaces(meta: Pod, spec: Pod) -> Result:
    used = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return ("host namespaces", ", ".join(used)) if used else None


def _host_path_volumes(meta: Pod, spec: Pod) -> Result:
    vols = [v.get("name", "") for v in spec.get("volumes") or () if v.get("hostPath") is not None]
    return (
        ("hostPath volumes", f"{_plural('volume', 'volumes', len(vols))} {_jq(vols)}")
        if vols
        else None
    )


def _host_ports(meta: Pod, spec: Pod) -> Result:
    bad, ports = [], set()
    for c in _containers(spec):
        hp = [p.get("hostPort") for p in c.get("ports") or () if p.get("hostPort")]
        if hp:
            bad.append(c.get("name", ""))
            ports.update(str(p) for p in hp)
    if not bad:
        return None
    n = len(bad)
    return "hostPort", (
        f"{_plural('container', 'containers', n)} {_jq(bad)} {_plural('uses', 'use', n)} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )


def _host_probes(meta: Pod, spec: Pod) -> Result:
    bad, hosts = set(), set()
    for c in _containers(spec):
        handlers = [c.get("livenessProbe"), c.get("readinessProbe"), c.get("startupProbe")]
        handlers += [(c.get("lifecycle") or {}).get(k) for k in ("postStart", "preStop")]
        for h in handlers:
            for kind in ("httpGet", "tcpSocket"):
                host = ((h or {}).get(kind) or {}).get("host")
                if host:
                    bad.add(c.get("name", ""))
                    hosts.add(host)
    if not bad:
        return None
    n = len(bad)
    return "probe or lifecycle host", (
        f"{_plural('container', 'containers', n)} {_jq(sorted(bad))} {_plural('uses', 'use', n)} "
        f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} {_jq(sorted(hosts))}"
    )


def _privileged(meta: Pod, spec: Pod) -> Result:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    if not bad:
        return None
    return (
        "privileged",
        f"{_plural('container', 'containers', len(bad))} {_jq(bad)} must not set securityContext.privileged=true",
    )


def _proc_mount(meta: Pod, spec: Pod) -> Result:
    bad, types = [], set()
    for c in _containers(spec):
        pm = _sc(c).get("procMount")
        if pm is not None and pm != "Default":
            bad.append(c.get("name", ""))
            types.add(pm)
    if not bad:
        return None
    return "procMount", (
        f"{_plural('container', 'containers', len(bad))} {_jq(bad)} must not set "
        f"securityContext.procMount to {_jq(sorted(types))}"
    )


def _proc_mount_1_35(meta: Pod, spec: Pod) -> Result:
    return None if _user_ns(spec) else _proc_mount(meta, spec)


def _selinux(allowed: set[str]) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        types: set[str] = set()
        flags = {"user": False, "role": False}

        def valid(opts: Mapping[str, Any]) -> bool:
            ok = True
            if opts.get("type", "") not in allowed:
                ok = False
                types.add(opts.get("type", ""))
            for k in ("user", "role"):
                if opts.get(k):
                    ok, flags[k] = False, True
            return ok

        setters = []
        popts = (spec.get("securityContext") or {}).get("seLinuxOptions")
        if popts is not None and not valid(popts):
            setters.append("pod")
        bad = [
            c.get("name", "")
            for c in _containers(spec)
            if _sc(c).get("seLinuxOptions") is not None and not valid(_sc(c)["seLinuxOptions"])
        ]
        who = _who(setters, bad)
        if not who:
            return None
        data = []
        if types:
            data.append(f"{_plural('type', 'types', len(types))} {_jq(sorted(types))}")
        data += [f"{k} may not be set" for k in ("user", "role") if flags[k]]
        return (
            "seLinuxOptions",
            f"{who} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
        )

    return check


_SELINUX_1_0 = {"", "container_t", "container_init_t", "container_kvm_t"}


def _seccomp_baseline_1_0(meta: Pod, spec: Pod) -> Result:
    ann = meta.get("annotations") or {}

    def ok(v: str) -> bool:
        return v in ("runtime/default", "docker/default") or v.startswith("localhost/")

    bad = set()
    key = "seccomp.security.alpha.kubernetes.io/pod"
    if key in ann and not ok(ann[key]):
        bad.add(f"{key}={go_quote(ann[key])}")
    for c in _containers(spec):
        k = "container.seccomp.security.alpha.kubernetes.io/" + c.get("name", "")
        if k in ann and not ok(ann[k]):
            bad.add(f"{k}={go_quote(ann[k])}")
    if not bad:
        return None
    return (
        "seccompProfile",
        f"forbidden {_plural('annotation', 'annotations', len(bad))} {', '.join(sorted(bad))}",
    )


def _seccomp(restricted: bool) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        if restricted and (spec.get("os") or {}).get("name") == "windows":
            return None
        setters, values, explicit, implicit = [], set(), [], []
        pod_set = False
        p = (spec.get("securityContext") or {}).get("seccompProfile")
        if p is not None:
            if p.get("type") not in ("RuntimeDefault", "Localhost"):
                setters.append("pod")
                values.add(p.get("type", ""))
            else:
                pod_set = True
        for c in _containers(spec):
            cp = _sc(c).get("seccompProfile")
            if cp is not None:
                if cp.get("type") not in ("RuntimeDefault", "Localhost"):
                    explicit.append(c.get("name", ""))
                    values.add(cp.get("type", ""))
            elif not pod_set:
                implicit.append(c.get("name", ""))
        who = _who(setters, explicit)
        if who:
            return (
                "seccompProfile",
                f"{who} must not set securityContext.seccompProfile.type to {_jq(sorted(values))}",
            )
        if restricted and implicit:
            return "seccompProfile", (
                f"pod or {_plural('container', 'containers', len(implicit))} {_jq(implicit)} must set "
                'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'
            )
        return None

    return check


_SYSCTLS_1_0 = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}  # fmt: skip
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                                 "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}  # fmt: skip
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(allowed: set[str]) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        bad = [
            s.get("name", "")
            for s in (spec.get("securityContext") or {}).get("sysctls") or ()
            if s.get("name") not in allowed
        ]
        return ("forbidden sysctls", ", ".join(bad)) if bad else None

    return check


def _windows_host_process(meta: Pod, spec: Pod) -> Result:
    def hp(sc: Mapping[str, Any]) -> bool:
        return (sc.get("windowsOptions") or {}).get("hostProcess") is True

    setters = ["pod"] if hp(spec.get("securityContext") or {}) else []
    who = _who(setters, [c.get("name", "") for c in _containers(spec) if hp(_sc(c))])
    return (
        ("hostProcess", f"{who} must not set securityContext.windowsOptions.hostProcess=true")
        if who
        else None
    )


# -- restricted checks ------------------------------------------------------------------------------


def _windows(spec: Pod) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


def _allow_privilege_escalation(windows_exempt: bool) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        if windows_exempt and _windows(spec):
            return None
        bad = [
            c.get("name", "")
            for c in _containers(spec)
            if _sc(c).get("allowPrivilegeEscalation") is not False
        ]
        if not bad:
            return None
        return "allowPrivilegeEscalation != false", (
            f"{_plural('container', 'containers', len(bad))} {_jq(bad)} must set securityContext.allowPrivilegeEscalation=false"
        )

    return check


def _capabilities_restricted(windows_exempt: bool) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        if windows_exempt and _windows(spec):
            return None
        missing, adding, caps = [], [], set()
        for c in _containers(spec):
            cap = _sc(c).get("capabilities")
            if cap is None:
                missing.append(c.get("name", ""))
                continue
            if "ALL" not in (cap.get("drop") or ()):
                missing.append(c.get("name", ""))
            extra = [a for a in cap.get("add") or () if a != "NET_BIND_SERVICE"]
            if extra:
                adding.append(c.get("name", ""))
                caps.update(extra)
        details = []
        if missing:
            details.append(
                f'{_plural("container", "containers", len(missing))} {_jq(missing)} must set securityContext.capabilities.drop=["ALL"]'
            )
        if adding:
            details.append(
                f"{_plural('container', 'containers', len(adding))} {_jq(adding)} must not include "
                f"{_jq(sorted(caps))} in securityContext.capabilities.add"
            )
        return ("unrestricted capabilities", "; ".join(details)) if details else None

    return check


_ALLOWED_VOLUME_TYPES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
_KNOWN_VOLUME_TYPES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd",
                       "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
                       "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos")  # fmt: skip


def _restricted_volumes(meta: Pod, spec: Pod) -> Result:
    bad, types = [], set()
    for v in spec.get("volumes") or ():
        if any(v.get(t) is not None for t in _ALLOWED_VOLUME_TYPES):
            continue
        bad.append(v.get("name", ""))
        types.add(next((t for t in _KNOWN_VOLUME_TYPES if v.get(t) is not None), "unknown"))
    if not bad:
        return None
    n = len(bad)
    return "restricted volume types", (
        f"{_plural('volume', 'volumes', n)} {_jq(bad)} {_plural('uses', 'use', n)} "
        f"{_plural('restricted volume type', 'restricted volume types', len(types))} {_jq(sorted(types))}"
    )


def _run_as_non_root(relax_userns: bool) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        if relax_userns and _user_ns(spec):
            return None
        setters, pod_ok = [], False
        v = (spec.get("securityContext") or {}).get("runAsNonRoot")
        if v is not None:
            if v is False:
                setters.append("pod")
            else:
                pod_ok = True
        explicit, implicit = [], []
        for c in _containers(spec):
            cv = _sc(c).get("runAsNonRoot")
            if cv is not None:
                if cv is False:
                    explicit.append(c.get("name", ""))
            elif not pod_ok:
                implicit.append(c.get("name", ""))
        who = _who(setters, explicit)
        if who:
            return "runAsNonRoot != true", f"{who} must not set securityContext.runAsNonRoot=false"
        if implicit:
            return "runAsNonRoot != true", (
                f"pod or {_plural('container', 'containers', len(implicit))} {_jq(implicit)} must set securityContext.runAsNonRoot=true"
            )
        return None

    return check


def _run_as_user(relax_userns: bool) -> Callable[[Pod, Pod], Result]:
    def check(meta: Pod, spec: Pod) -> Result:
        if relax_userns and _user_ns(spec):
            return None
        setters = ["pod"] if (spec.get("securityContext") or {}).get("runAsUser") == 0 else []
        who = _who(
            setters, [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
        )
        return ("runAsUser=0", f"{who} must not set runAsUser=0") if who else None

    return check


# (check ID, level, [(minimum version, check, IDs it overrides)]), as the policy registry has them.
CHECKS: tuple[tuple[str, str, tuple[tuple[tuple[int, int], Callable[[Pod, Pod], Result], tuple[str, ...]], ...]], ...] = (
    ("appArmorProfile", "baseline", (((1, 0), _app_armor, ()),)),
    ("capabilities_baseline", "baseline", (((1, 0), _capabilities_baseline, ()),)),
    ("hostNamespaces", "baseline", (((1, 0), _host_namespaces, ()),)),
    ("hostPathVolumes", "baseline", (((1, 0), _host_path_volumes, ()),)),
    ("hostPorts", "baseline", (((1, 0), _host_ports, ()),)),
    ("hostProbesAndHostLifecycle", "baseline", (((1, 34), _host_probes, ()),)),
    ("privileged", "baseline", (((1, 0), _privileged, ()),)),
    ("procMount", "baseline", (((1, 0), _proc_mount, ()), ((1, 35), _proc_mount_1_35, ()))),
    ("seLinuxOptions", "baseline", (((1, 0), _selinux(_SELINUX_1_0), ()), ((1, 31), _selinux(_SELINUX_1_0 | {"container_engine_t"}), ()))),
    ("seccompProfile_baseline", "baseline", (((1, 0), _seccomp_baseline_1_0, ()), ((1, 19), _seccomp(False), ()))),
    ("sysctls", "baseline", tuple(((1, m), _sysctls(s), ()) for m, s in ((0, _SYSCTLS_1_0), (27, _SYSCTLS_1_27), (29, _SYSCTLS_1_29), (32, _SYSCTLS_1_32)))),
    ("windowsHostProcess", "baseline", (((1, 0), _windows_host_process, ()),)),
    ("allowPrivilegeEscalation", "restricted", (((1, 8), _allow_privilege_escalation(False), ()), ((1, 25), _allow_privilege_escalation(True), ()))),
    ("capabilities_restricted", "restricted", (((1, 22), _capabilities_restricted(False), ("capabilities_baseline",)), ((1, 25), _capabilities_restricted(True), ("capabilities_baseline",)))),
    ("procMount_restricted", "restricted", (((1, 35), _proc_mount, ("procMount",)),)),
    ("restrictedVolumes", "restricted", (((1, 0), _restricted_volumes, ("hostPathVolumes",)),)),
    ("runAsNonRoot", "restricted", (((1, 0), _run_as_non_root(False), ()), ((1, 35), _run_as_non_root(True), ()))),
    ("runAsUser", "restricted", (((1, 23), _run_as_user(False), ()), ((1, 35), _run_as_user(True), ()))),
    ("seccompProfile_restricted", "restricted", (((1, 19), _seccomp(True), ("seccompProfile_baseline",)), ((1, 25), _seccomp(True), ("seccompProfile_baseline",)))),
)  # fmt: skip


def _version_key(version: str) -> tuple[int, int]:
    if version == "latest":
        return MAX_VERSION
    m = re.fullmatch(r"v1\.(0|[1-9][0-9]*)", version)
    return min((1, int(m.group(1))), MAX_VERSION) if m else MAX_VERSION


def evaluate_pod(level: str, version: str, metadata: Pod, spec: Pod) -> list[tuple[str, str]]:
    """The (reason, detail) of every failed check for the level:version, in upstream order."""
    if level == "privileged":
        return []
    v = _version_key(version)
    active: list[tuple[str, Callable[[Pod, Pod], Result]]] = []
    overridden: set[str] = set()
    for cid, clevel, versions in CHECKS:
        if clevel == "restricted" and level != "restricted":
            continue
        applicable = [entry for entry in versions if entry[0] <= v]
        if not applicable:
            continue
        _, fn, overrides = applicable[-1]
        overridden.update(overrides)
        active.append((cid, fn))
    failures = []
    for cid, fn in active:
        if cid in overridden:
            continue
        r = fn(metadata, spec)
        if r is not None:
            failures.append((r[0] or "unknown forbidden reason", r[1]))
    return failures


def forbidden_detail(failures: list[tuple[str, str]]) -> str:
    """`reason (detail), reason (detail)`, as AggregateCheckResult.ForbiddenDetail."""
    return ", ".join(f"{r} ({d})" if d else r for r, d in failures)


def namespace_policy(labels: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """{mode: (level, version)} for enforce, audit and warn from the namespace's labels;
    defaults are privileged:latest, unparsable levels fall back as upstream does, and warn
    follows a stricter enforce level unless set itself."""
    labels = labels or {}
    pol = {m: ("privileged", "latest") for m in ("enforce", "audit", "warn")}
    enforce_set = False
    for mode in ("enforce", "audit", "warn"):
        level, version = pol[mode]
        if LABEL_PREFIX + mode in labels:
            raw = labels[LABEL_PREFIX + mode]
            if raw in LEVELS:
                level = raw
                enforce_set = enforce_set or mode == "enforce"
            else:
                level = "restricted" if mode == "enforce" else "privileged"  # fail closed / open
        if LABEL_PREFIX + mode + "-version" in labels:
            raw = labels[LABEL_PREFIX + mode + "-version"]
            version = (
                raw if raw == "latest" or re.fullmatch(r"v1\.(0|[1-9][0-9]*)", raw) else "latest"
            )
        pol[mode] = (level, version)
    if (
        LABEL_PREFIX + "warn" not in labels
        and enforce_set
        and LEVELS.index(pol["enforce"][0]) > LEVELS.index(pol["warn"][0])
    ):
        pol["warn"] = (
            pol["enforce"][0],
            pol["warn"][1] if LABEL_PREFIX + "warn-version" in labels else pol["enforce"][1],
        )
    return pol


_IGNORED_POD_SUBRESOURCES = {
    "attach",
    "binding",
    "eviction",
    "exec",
    "log",
    "portforward",
    "proxy",
    "status",
}
_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"), "ReplicaSet": ("spec", "template"), "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"), "Job": ("spec", "template"), "ReplicationController": ("spec", "template"),
    "PodTemplate": ("template",), "CronJob": ("spec", "jobTemplate", "spec", "template"),
}  # fmt: skip


def _significant_update(new: Pod, old: Pod) -> bool:
    """isSignificantPodUpdate: container counts, images and security contexts, and
    ephemeral containers added or changed; other spec edits never re-run the checks."""

    def sig(c: Mapping[str, Any], o: Mapping[str, Any]) -> bool:
        return c.get("image") != o.get("image") or c.get("securityContext") != o.get(
            "securityContext"
        )

    for key in ("containers", "initContainers"):
        a, b = new.get(key) or [], old.get(key) or []
        if len(a) != len(b) or any(sig(x, y) for x, y in zip(a, b, strict=True)):
            return True
    olds = {c.get("name"): c for c in old.get("ephemeralContainers") or ()}
    return any(
        c.get("name") not in olds or sig(c, olds[c.get("name")])
        for c in new.get("ephemeralContainers") or ()
    )


class PodSecurity:
    """Validating plugin: enforce on pods (403), warn (response warnings) and audit (audit
    annotations `pod-security.kubernetes.io/audit-violations` and `.../enforce-policy`)."""

    name = "PodSecurity"

    def __init__(
        self, exempt_namespaces: tuple[str, ...] = (), exempt_users: tuple[str, ...] = ()
    ) -> None:
        self.exempt_namespaces = exempt_namespaces
        self.exempt_users = exempt_users

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.operation not in (CREATE, UPDATE) or req.object is None or not req.namespace:
            return
        is_pod = req.resource == "pods" and req.group == ""
        if is_pod and req.subresource in _IGNORED_POD_SUBRESOURCES:
            return
        if not is_pod and (req.subresource or req.kind not in _TEMPLATE_PATHS):
            return
        if req.namespace in self.exempt_namespaces or req.user.name in self.exempt_users:
            return
        ns = ctx.store.get("Namespace", "", req.namespace) or {}
        pol = namespace_policy((ns.get("metadata") or {}).get("labels"))
        if all(level == "privileged" for level, _ in pol.values()):
            return
        if is_pod:
            if (
                req.operation == UPDATE
                and req.old_object is not None
                and not _significant_update(
                    req.object.get("spec") or {}, req.old_object.get("spec") or {}
                )
            ):
                return
            meta, spec = req.object.get("metadata") or {}, req.object.get("spec") or {}
        else:
            tmpl: Any = req.object
            for key in _TEMPLATE_PATHS[req.kind]:
                tmpl = (tmpl or {}).get(key)
            if tmpl is None:
                return
            meta, spec = tmpl.get("metadata") or {}, tmpl.get("spec") or {}
        results: dict[tuple[str, str], list[tuple[str, str]]] = {}

        def run(lv: tuple[str, str]) -> list[tuple[str, str]]:
            if lv not in results:
                results[lv] = evaluate_pod(lv[0], lv[1], meta, spec)
            return results[lv]

        error = None
        if is_pod:
            req.annotations[LABEL_PREFIX + "enforce-policy"] = ":".join(pol["enforce"])
            failures = run(pol["enforce"])
            if failures:
                error = new_forbidden(
                    req.group,
                    req.resource,
                    req.name,
                    f'violates PodSecurity "{":".join(pol["enforce"])}": {forbidden_detail(failures)}',
                )
        audit = run(pol["audit"])
        if audit:
            req.annotations[LABEL_PREFIX + "audit-violations"] = (
                f'would violate PodSecurity "{":".join(pol["audit"])}": {forbidden_detail(audit)}'
            )
        if error is not None:
            raise error
        warn = run(pol["warn"])
        if warn:
            req.warnings.append(
                f'would violate PodSecurity "{":".join(pol["warn"])}": {forbidden_detail(warn)}'
            )
