"""A pod's resolv.conf, and the DNS queries a lookup from that pod sends.

Semantics: the kubelet's pkg/kubelet/network/dns/dns.go (GetPodDNS: dnsPolicy, dnsConfig
merging, search-line limits, ndots:5) and the stub resolvers that read the file: glibc's
res_nsearch (Go's resolver orders names the same way) and musl's. Counting queries per
lookup is how the seed's DNS meltdown shows ndots:5 against ndots:1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CLUSTER_FIRST = "ClusterFirst"
CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
DEFAULT = "Default"
NONE = "None"

DEFAULT_CLUSTER_DNS = ("10.96.0.10",)  # kube-dns Service: the 10th address of kubeadm's range
DEFAULT_HOST_NAMESERVERS = ("10.0.0.2",)  # what the node's resolv.conf names (a VPC resolver)
DEFAULT_DNS_OPTIONS = ("ndots:5",)
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32  # ExpandedDNSConfig, GA in 1.28 (6 before)
MAX_DNS_SEARCH_LIST_CHARS = 2048  # (256 before)
MAX_DNS_SEARCH_PATHS_LEGACY, MAX_DNS_SEARCH_LIST_CHARS_LEGACY = 6, 256
MAX_DOMAIN_LENGTH = 253
RESOLVER_MAX_NDOTS = 15  # glibc and musl cap ndots here


class ResolvConfError(ValueError):
    """resolv.conf text the kubelet cannot use; the message is upstream's."""


@dataclass(frozen=True)
class ResolvConf:
    """A resolv.conf: nameservers, search list, options ("ndots:5"), and the events the
    kubelet recorded while forming it (e.g. "DNSConfigForming: Search Line limits ...")."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    def option(self, name: str, default: int) -> int:
        """The last `name:N` option as an int, else `default`."""
        value = default
        for option in self.options:
            key, _, text = option.partition(":")
            if key == name and text.isdigit():
                value = int(text)
        return value

    @property
    def ndots(self) -> int:
        """Dots a name needs to be tried as given first (default 1, capped at 15)."""
        return min(self.option("ndots", 1), RESOLVER_MAX_NDOTS)

    @property
    def timeout(self) -> int:
        """Seconds per query attempt (glibc default 5)."""
        return self.option("timeout", 5)

    @property
    def attempts(self) -> int:
        """Rounds over the nameservers (glibc default 2)."""
        return self.option("attempts", 2)

    def text(self) -> str:
        """The file as containerd writes it into the pod: search, nameservers, options."""
        lines = []
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        lines += [f"nameserver {server}" for server in self.nameservers]
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "".join(line + "\n" for line in lines)

    def __str__(self) -> str:
        return self.text()


def parse_resolv_conf(text: str) -> ResolvConf:
    """Read resolv.conf text as the kubelet does: nameserver lines accumulate, the last search
    line wins (trailing dots dropped), the last options line wins, # starts a comment line.
    A bare "nameserver" raises ResolvConfError("nameserver list is empty ")."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    errors = []
    for line in text.split("\n"):
        trimmed = line.strip()
        if trimmed.startswith("#"):
            continue
        fields = trimmed.split()
        if not fields:
            continue
        if fields[0] == "nameserver":
            if len(fields) >= 2:
                nameservers.append(fields[1])
            else:
                errors.append("nameserver list is empty ")
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:]]
        elif fields[0] == "options":
            options = fields[1:]
    if errors:
        raise ResolvConfError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return ResolvConf(tuple(nameservers), tuple(searches), tuple(options))


def _omit_duplicates(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _merge_options(existing: Iterable[str], given: Iterable[Mapping[str, Any]]) -> list[str]:
    """dnsConfig options override same-named ones. Upstream goes through a Go map, so its
    order is random; here existing options keep their place and new ones follow."""
    merged: dict[str, str] = {}
    for option in existing:
        name, _, value = option.partition(":")
        merged[name] = value
    for option in given:
        merged[option.get("name", "")] = "" if option.get("value") is None else str(option["value"])
    return [f"{name}:{value}" if value else name for name, value in merged.items()]


def _fit_search(searches: list[str], events: list[str], expanded: bool) -> list[str]:
    max_paths, max_chars = (
        (MAX_DNS_SEARCH_PATHS, MAX_DNS_SEARCH_LIST_CHARS)
        if expanded
        else (MAX_DNS_SEARCH_PATHS_LEGACY, MAX_DNS_SEARCH_LIST_CHARS_LEGACY)
    )
    exceeded = len(searches) > max_paths
    searches = searches[:max_paths]
    kept = [s for s in searches if len(s) <= MAX_DOMAIN_LENGTH]  # glibc 2.28 aborts on longer
    exceeded = exceeded or len(kept) != len(searches)
    line_length = len(" ".join(kept))
    if line_length > max_chars:
        cut, cut_length = 0, 0
        for search in reversed(kept):
            cut_length += len(search) + 1
            cut += 1
            if line_length - cut_length <= max_chars:
                break
        kept, exceeded = kept[: len(kept) - cut], True
    if exceeded:
        events.append(
            "DNSConfigForming: Search Line limits were exceeded, some search paths have been "
            f"omitted, the applied search line is: {' '.join(kept)}"
        )
    return kept


def _fit_nameservers(servers: list[str], events: list[str]) -> list[str]:
    if len(servers) > MAX_DNS_NAMESERVERS:
        servers = servers[:MAX_DNS_NAMESERVERS]
        events.append(
            "DNSConfigForming: Nameserver limits were exceeded, some nameservers have been "
            f"omitted, the applied nameserver line is: {' '.join(servers)}"
        )
    return servers


def resolv_conf(
    pod: Mapping[str, Any],
    namespace: str | Mapping[str, Any] | None = None,
    cluster_domain: str = "cluster.local",
    host_search: Sequence[str] = (),
    *,
    cluster_dns: Sequence[str] = DEFAULT_CLUSTER_DNS,
    host_nameservers: Sequence[str] = DEFAULT_HOST_NAMESERVERS,
    host_options: Sequence[str] = (),
    node_resolv_conf: str | None = None,
    resolver_config: bool = True,
    expanded_dns_config: bool = True,
) -> ResolvConf:
    """The resolv.conf the kubelet gives `pod` (GetPodDNS).

    `namespace` (a name or Namespace dict) defaults to the pod's. The node's own resolver
    settings are `host_nameservers`, `host_search`, `host_options`, or the text of its
    resolv.conf in `node_resolv_conf`; `resolver_config=False` is the kubelet's
    `--resolv-conf=""` (host lookups go to 127.0.0.1 with search "."). By dnsPolicy:
    ClusterFirst (default) and ClusterFirstWithHostNet use `cluster_dns` only, search
    `<ns>.svc.<domain> svc.<domain> <domain>` then the host's domains, and `ndots:5`;
    ClusterFirst on a hostNetwork pod, and Default, use the node's settings; None starts
    empty. `spec.dnsConfig` is then appended: nameservers and searches deduplicated, options
    overriding by name. Finally at most 3 nameservers and 32 search domains (2048 chars,
    none over 253) are kept, recording a DNSConfigForming event when cut.
    """
    spec = pod.get("spec") or {}
    if isinstance(namespace, Mapping):
        namespace = (namespace.get("metadata") or {}).get("name")
    if namespace is None:  # Go's zero value: a pod without one searches ".svc.<domain>"
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
    events: list[str] = []

    if not resolver_config:
        host = ResolvConf()
    elif node_resolv_conf is not None:
        host = parse_resolv_conf(node_resolv_conf)
    else:
        host = ResolvConf(tuple(host_nameservers), tuple(host_search), tuple(host_options))
    servers, searches, options = list(host.nameservers), list(host.searches), list(host.options)

    policy = spec.get("dnsPolicy") or CLUSTER_FIRST
    if policy == NONE:
        kind = NONE
    elif policy == CLUSTER_FIRST_WITH_HOST_NET:
        kind = CLUSTER_FIRST
    elif policy == CLUSTER_FIRST:
        kind = DEFAULT if spec.get("hostNetwork") else CLUSTER_FIRST
    elif policy == DEFAULT:
        kind = DEFAULT
    else:
        events.append(f"invalid DNSPolicy={policy}: falling back to {CLUSTER_FIRST}")
        kind = CLUSTER_FIRST

    if kind == NONE:
        servers, searches, options = [], [], []
    if kind == CLUSTER_FIRST and not cluster_dns:
        events.append(
            f"MissingClusterDNS: kubelet does not have ClusterDNS IP configured and cannot "
            f'create Pod using "{CLUSTER_FIRST}" policy. Falling back to "{DEFAULT}" policy.'
        )
        kind = DEFAULT
    if kind == CLUSTER_FIRST:
        servers = list(cluster_dns)
        if cluster_domain:
            cluster = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
            searches = _omit_duplicates(cluster + searches)
        options = list(DEFAULT_DNS_OPTIONS)
    elif kind == DEFAULT and not resolver_config:
        servers, searches = ["127.0.0.1"], ["."]

    config = spec.get("dnsConfig")
    if config is not None:
        servers = _omit_duplicates(servers + list(config.get("nameservers") or ()))
        searches = _omit_duplicates(searches + list(config.get("searches") or ()))
        options = _merge_options(options, config.get("options") or ())
    servers = _fit_nameservers(servers, events)
    searches = _fit_search(searches, events, expanded_dns_config)
    return ResolvConf(tuple(servers), tuple(searches), tuple(options), tuple(events))


@dataclass(frozen=True)
class DNSQuery:
    """One question sent to the nameserver: a fully qualified name, a type, and its answer
    ("NOERROR" when the name exists, even with no record of that type, else "NXDOMAIN")."""

    name: str
    qtype: str
    rcode: str


def _candidates(name: str, conf: ResolvConf, resolver: str) -> list[str]:
    """Fully qualified names tried in order, before knowing which exists."""
    if name.endswith("."):
        return [name]
    dots = name.count(".")
    domains = [
        f"{name}." if d in (".", "") else f"{name}.{d.removesuffix('.')}." for d in conf.searches
    ]
    if resolver == "musl":
        return [f"{name}."] if dots >= conf.ndots else [*domains, f"{name}."]
    # glibc res_nsearch (and Go's resolver): as given first when dots >= ndots; then the
    # search list; then as given, unless already tried or the root was on the search list.
    as_is_first = dots >= conf.ndots
    root_on_list = any(d in (".", "") for d in conf.searches)
    names = [f"{name}."] if as_is_first else []
    names += domains  # a root search domain asks for the name as given (again, if tried first)
    if not as_is_first and not root_on_list:
        names.append(f"{name}.")
    return names


def queries_for_lookup(
    name: str,
    resolv_conf: ResolvConf | str,
    *,
    qtypes: Sequence[str] = ("A", "AAAA"),
    existing: Iterable[str] | Callable[[str], bool] | None = None,
    resolver: str = "glibc",
) -> list[DNSQuery]:
    """The queries a lookup of `name` sends, in order, until one candidate name exists.

    With fewer than ndots dots, glibc (`resolver="glibc"`, also Go's order) tries each search
    domain before the name itself; with at least ndots dots, or a trailing dot, the name as
    given comes first (a trailing dot: only it). musl never searches a name with enough
    dots. Each candidate is asked for every type in `qtypes` (getaddrinfo sends A and AAAA
    together; pass ("A",) for IPv4-only). `existing` says which names resolve: fully
    qualified names (trailing dot optional) or a predicate; by default only `name` itself.
    So from namespace "production", `api.example.com` costs 8 queries with ndots:5 (6 of them
    NXDOMAIN) and 2 with ndots:1.
    """
    conf = parse_resolv_conf(resolv_conf) if isinstance(resolv_conf, str) else resolv_conf
    if existing is None:
        target = name if name.endswith(".") else f"{name}."

        def exists(fqdn: str) -> bool:
            return fqdn == target
    elif callable(existing):
        exists = existing  # type: ignore[assignment]
    else:
        known = {n if n.endswith(".") else f"{n}." for n in existing}

        def exists(fqdn: str) -> bool:
            return fqdn in known

    queries: list[DNSQuery] = []
    for candidate in _candidates(name, conf, resolver):
        found = bool(exists(candidate))
        queries += [DNSQuery(candidate, q, "NOERROR" if found else "NXDOMAIN") for q in qtypes]
        if found:
            break
    return queries
