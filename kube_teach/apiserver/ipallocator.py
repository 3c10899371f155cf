"""ClusterIP and NodePort allocation for Services, as the API server does on create.

Semantics: kube-apiserver's pkg/registry/core/service/{ipallocator,portallocator} and the
storage layer that calls them: a bitmap over the usable addresses (network and broadcast
excluded), a static lower band kept for hand-picked IPs/ports (ServiceIPStaticSubrange,
ServiceNodePortStaticSubrange), random picks from the upper band first, and upstream's
error texts. Randomness comes from a seeded stream, so one seed gives the same IPs.
"""

from __future__ import annotations

import copy
import ipaddress
import random
from collections.abc import Mapping
from typing import Any

from ..api.errors import FieldError, StatusError
from ..api.kinds import KINDS

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"  # kubeadm's --service-cluster-ip-range
DEFAULT_NODE_PORT_RANGE = "30000-32767"  # --service-node-port-range
MAX_IPV6_RANGE = 65536  # the bitmap of an IPv6 range is capped at this many addresses
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
SERVICES = KINDS["Service"]


class AllocationError(ValueError):
    """An allocator refused: the text is upstream's error (e.g. "range is full")."""


ERR_FULL = "range is full"
ERR_IP_ALLOCATED = "provided IP is already allocated"
ERR_PORT_ALLOCATED = "provided port is already allocated"


def static_band_size(size: int, *, minimum: int, maximum: int, step: int) -> int:
    """Size of the lower band left for static picks: min(max(minimum, size/step), maximum),
    and 0 for a range of at most `minimum` (upstream's calculateRangeOffset)."""
    if size <= minimum:
        return 0
    return max(minimum, min(size // step, maximum))


class _Bitmap:
    """Offsets 0..size-1, taken or free; dynamic picks scan from a random start in the upper
    band [band, size) and fall back to the lower band [0, band) only when it is full."""

    def __init__(self, size: int, band: int, rng: random.Random) -> None:
        self.size, self.band, self.rng = size, band, rng
        self.taken: set[int] = set()

    def allocate(self, offset: int) -> bool:
        if offset in self.taken:
            return False
        self.taken.add(offset)
        return True

    def allocate_next(self) -> int | None:
        if len(self.taken) >= self.size:
            return None
        for lo, hi in ((self.band, self.size), (0, self.band)):
            span = hi - lo
            if span <= 0:
                continue
            start = self.rng.randrange(span)
            for i in range(span):
                at = lo + (start + i) % span
                if at not in self.taken:
                    self.taken.add(at)
                    return at
        return None


class IPRange:
    """The ClusterIP range of one family: `allocate(ip)`, `allocate_next()`, `release(ip)`.

    Usable addresses are the CIDR's minus the network address (and, for IPv4, the broadcast
    address); IPv6 ranges are capped at 65536 addresses. The lowest min(max(16, size/16), 256)
    are preferred for static IPs: `allocate_next` picks at random above them first.
    """

    def __init__(
        self, cidr: str = DEFAULT_SERVICE_CIDR, *, rng: random.Random | None = None, seed: int = 0
    ) -> None:
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as err:
            raise AllocationError(f"invalid CIDR {cidr!r}: {err}") from None
        size = self.network.num_addresses
        usable = min(size, MAX_IPV6_RANGE) - 1 if self.network.version == 6 else size - 2
        self.base = int(self.network.network_address) + 1
        self.max = max(0, usable)
        band = static_band_size(size, minimum=16, maximum=256, step=16)
        rng = rng if rng is not None else random.Random(f"{seed}/ipallocator/{self.network}")
        self._bits = _Bitmap(self.max, band, rng)

    @property
    def cidr(self) -> str:
        return str(self.network)

    @property
    def static_band(self) -> tuple[str, str] | None:
        """First and last address of the band kept for static picks (None when empty)."""
        if not self._bits.band:
            return None
        return self._ip(0), self._ip(self._bits.band - 1)

    def _ip(self, offset: int) -> str:
        return str(ipaddress.ip_address(self.base + offset))

    def _offset(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.network.version or addr not in self.network:
            return None
        offset = int(addr) - self.base
        return offset if 0 <= offset < self.max else None

    def contains(self, ip: str) -> bool:
        """Whether `ip` is a usable address of the range."""
        return self._offset(ip) is not None

    def allocate(self, ip: str) -> None:
        """Reserve `ip`, or raise AllocationError (not in range / already allocated)."""
        offset = self._offset(ip)
        if offset is None:
            raise AllocationError(
                f"the provided IP ({ip}) is not in the valid range. "
                f"The range of valid IPs is {self.cidr}"
            )
        if not self._bits.allocate(offset):
            raise AllocationError(ERR_IP_ALLOCATED)

    def allocate_next(self) -> str:
        """Reserve a free address, upper band first; AllocationError("range is full")."""
        offset = self._bits.allocate_next()
        if offset is None:
            raise AllocationError(ERR_FULL)
        return self._ip(offset)

    def release(self, ip: str) -> None:
        """Give `ip` back; releasing a free or foreign address does nothing, as upstream."""
        offset = self._offset(ip)
        if offset is not None:
            self._bits.taken.discard(offset)

    def has(self, ip: str) -> bool:
        offset = self._offset(ip)
        return offset is not None and offset in self._bits.taken

    @property
    def free(self) -> int:
        return self.max - len(self._bits.taken)

    @property
    def used(self) -> int:
        return len(self._bits.taken)

    def indexed_ip(self, index: int) -> str:
        """The `index`-th address of the CIDR (0 is the network address), as GetIndexedIP."""
        if not 0 <= index < self.network.num_addresses:
            raise AllocationError(f"can't generate IP with index {index} from subnet {self.cidr}")
        return str(self.network.network_address + index)


def parse_port_range(text: str) -> tuple[int, int]:
    """ "30000-32767" (or a single port) as (base, last), rejecting what net.ParsePortRange does."""
    lo, sep, hi = text.strip().partition("-")
    try:
        base = int(lo)
        last = int(hi) if sep else base
    except ValueError:
        raise AllocationError(f"unable to parse port range: {text}") from None
    if not (0 <= base <= last <= 65535):
        raise AllocationError(f"unable to parse port range: {text}")
    return base, last


class PortRange:
    """NodePorts from `--service-node-port-range` (default 30000-32767): the lowest
    min(max(16, size/32), 128) ports are kept for static picks (86 of the default 2768)."""

    def __init__(
        self,
        port_range: str = DEFAULT_NODE_PORT_RANGE,
        *,
        rng: random.Random | None = None,
        seed: int = 0,
    ) -> None:
        self.base, last = parse_port_range(port_range)
        self.size = last - self.base + 1
        self.text = f"{self.base}-{last}"
        band = static_band_size(self.size, minimum=16, maximum=128, step=32)
        rng = rng if rng is not None else random.Random(f"{seed}/portallocator/{self.text}")
        self._bits = _Bitmap(self.size, band, rng)

    @property
    def static_band(self) -> tuple[int, int] | None:
        if not self._bits.band:
            return None
        return self.base, self.base + self._bits.band - 1

    def contains(self, port: int) -> bool:
        return self.base <= port < self.base + self.size

    def allocate(self, port: int) -> None:
        if not self.contains(port):
            raise AllocationError(
                f"provided port is not in the valid range. The range of valid ports is {self.text}"
            )
        if not self._bits.allocate(port - self.base):
            raise AllocationError(ERR_PORT_ALLOCATED)

    def allocate_next(self) -> int:
        offset = self._bits.allocate_next()
        if offset is None:
            raise AllocationError(ERR_FULL)
        return self.base + offset

    def release(self, port: int) -> None:
        if self.contains(port):
            self._bits.taken.discard(port - self.base)

    def has(self, port: int) -> bool:
        return self.contains(port) and (port - self.base) in self._bits.taken

    @property
    def free(self) -> int:
        return self.size - len(self._bits.taken)


def kubernetes_service_ip(cidr: str = DEFAULT_SERVICE_CIDR) -> str:
    """The `default/kubernetes` Service's ClusterIP: the first address after the network's."""
    return str(ipaddress.ip_network(cidr, strict=False).network_address + 1)


def dns_service_ip(cidr: str = DEFAULT_SERVICE_CIDR) -> str:
    """kube-dns's conventional ClusterIP (kubeadm): the tenth address, 10.96.0.10 by default."""
    return str(ipaddress.ip_network(cidr, strict=False).network_address + 10)


class ServiceAllocator:
    """What the Service REST storage does on create and delete, for one IPv4 or IPv6 range.

    `allocate(service)` returns a copy with `spec.clusterIP`, `spec.clusterIPs`,
    `spec.ipFamilies`, `spec.ipFamilyPolicy` and missing `nodePort`s filled in; it raises
    StatusError (422 Invalid, or 500 when a range is full) with upstream's texts and leaves
    nothing reserved on failure. `release(service)` frees what a deleted Service held.
    ExternalName and headless (`clusterIP: None`) Services get no ClusterIP.
    """

    def __init__(
        self,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        node_port_range: str = DEFAULT_NODE_PORT_RANGE,
        *,
        seed: int = 0,
    ) -> None:
        self.ips = IPRange(service_cidr, seed=seed)
        self.ports = PortRange(node_port_range, seed=seed)

    @property
    def family(self) -> str:
        return "IPv4" if self.ips.network.version == 4 else "IPv6"

    def allocate(self, service: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(service, Mapping) or not isinstance(service.get("spec", {}), Mapping):
            raise AllocationError(f"a Service must be a dict with a spec, not {service!r:.60}")
        svc = copy.deepcopy(dict(service))
        name = (svc.get("metadata") or {}).get("name") or ""
        spec = svc.setdefault("spec", {})
        kind = spec.get("type") or "ClusterIP"
        taken_ip: str | None = None
        if kind != "ExternalName":
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("ipFamilies", [self.family])
            taken_ip = self._cluster_ip(spec, name)
        try:
            if kind in NODE_PORT_TYPES:
                self._node_ports(spec, name)
        except StatusError:
            if taken_ip is not None:
                self.ips.release(taken_ip)
            raise
        return svc

    def _cluster_ip(self, spec: dict[str, Any], name: str) -> str | None:
        ips = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
        if ips and ips[0] == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return None
        if not ips:
            try:
                ip = self.ips.allocate_next()
            except AllocationError as err:
                raise StatusError.internal(f"failed to allocate a serviceIP: {err}") from None
        else:
            ip = ips[0]
            try:
                self.ips.allocate(ip)
            except AllocationError as err:
                error = FieldError.invalid(
                    "spec.clusterIPs", ips, f"failed to allocate IP {ip}: {err}"
                )
                raise StatusError.invalid(SERVICES, name, [error]) from None
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        return ip

    def _node_ports(self, spec: dict[str, Any], name: str) -> None:
        skip_auto = spec.get("type") == "LoadBalancer" and (
            spec.get("allocateLoadBalancerNodePorts") is False
        )
        done: list[int] = []
        try:
            for i, port in enumerate(spec.get("ports") or ()):
                wanted = port.get("nodePort")
                if not wanted and skip_auto:
                    continue  # allocateLoadBalancerNodePorts: false
                if wanted:
                    try:
                        self.ports.allocate(int(wanted))
                    except AllocationError as err:
                        error = FieldError.invalid(f"spec.ports[{i}].nodePort", wanted, str(err))
                        raise StatusError.invalid(SERVICES, name, [error]) from None
                    done.append(int(wanted))
                else:
                    try:
                        port["nodePort"] = self.ports.allocate_next()
                    except AllocationError as err:
                        raise StatusError.internal(
                            f"failed to allocate a nodePort: {err}"
                        ) from None
                    done.append(port["nodePort"])
        except StatusError:
            for p in done:
                self.ports.release(p)
            raise

    def release(self, service: Mapping[str, Any]) -> None:
        spec = service.get("spec") or {}
        for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
            self.ips.release(ip)
        for port in spec.get("ports") or ():
            if port.get("nodePort"):
                self.ports.release(int(port["nodePort"]))
