"""ClusterIP and NodePort allocation: range sizes, static bands, upstream's errors, seeds."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.errors import StatusError
from kube_teach.apiserver.ipallocator import (
    AllocationError,
    IPRange,
    PortRange,
    ServiceAllocator,
    dns_service_ip,
    kubernetes_service_ip,
    static_band_size,
)


@pytest.mark.parametrize(
    ("cidr", "free", "band"),
    [
        pytest.param("192.168.1.0/24", 254, ("192.168.1.1", "192.168.1.16"),
                     id="a /24 has 254 usable addresses and a band of 16"),
        pytest.param("192.168.1.0/30", 2, None, id="a /30 has 2 and no static band"),
        pytest.param("192.168.1.0/28", 14, None, id="a /28 (16 addresses) has no static band"),
        pytest.param("10.96.0.0/12", 2**20 - 2, ("10.96.0.1", "10.96.1.0"),
                     id="kubeadm's /12 keeps 256 addresses for static picks"),
        pytest.param("10.0.0.0/20", 4094, ("10.0.0.1", "10.0.1.0"), id="a /20: 4096/16 = 256"),
        pytest.param("2001:db8:1::/48", 65535, ("2001:db8:1::1", "2001:db8:1::100"),
                     id="an IPv6 range is capped at 65536 addresses, minus the network's"),
        pytest.param("2001:db8:1::/126", 3, None, id="an IPv6 /126 has 3, no broadcast"),
    ],
)  # fmt: skip
def test_range_sizes_and_static_bands(cidr, free, band):
    r = IPRange(cidr)
    assert r.free == free
    assert r.static_band == band


@pytest.mark.parametrize(
    ("size", "band"),
    [(16, 0), (17, 16), (256, 16), (257, 16), (512, 32), (4096, 256), (2**20, 256)],
)
def test_ip_static_band_formula(size, band):
    assert static_band_size(size, minimum=16, maximum=256, step=16) == band


@pytest.mark.parametrize(
    ("ip", "error"),
    [
        pytest.param("192.168.1.0", "the provided IP (192.168.1.0) is not in the valid range. "
                     "The range of valid IPs is 192.168.1.0/24", id="the network address"),
        pytest.param("192.168.1.255", "the provided IP (192.168.1.255) is not in the valid "
                     "range. The range of valid IPs is 192.168.1.0/24", id="the broadcast"),
        pytest.param("192.168.2.1", "the provided IP (192.168.2.1) is not in the valid range. "
                     "The range of valid IPs is 192.168.1.0/24", id="another network"),
        pytest.param("192.168.1.7", "provided IP is already allocated", id="taken already"),
    ],
)  # fmt: skip
def test_allocate_errors(ip, error):
    r = IPRange("192.168.1.0/24")
    r.allocate("192.168.1.7")
    with pytest.raises(AllocationError) as err:
        r.allocate(ip)
    assert str(err.value) == error


def test_a_full_range_says_so_and_release_frees():
    r = IPRange("192.168.1.0/29")  # 6 usable, no band
    got = sorted(r.allocate_next() for _ in range(6))
    assert got == [f"192.168.1.{i}" for i in range(1, 7)]
    with pytest.raises(AllocationError, match="^range is full$"):
        r.allocate_next()
    r.release("192.168.1.3")
    r.release("10.0.0.1")  # foreign: a no-op, as upstream
    assert r.allocate_next() == "192.168.1.3"


def test_dynamic_picks_avoid_the_static_band_until_the_upper_band_is_full():
    r = IPRange("192.168.1.0/24", seed=3)  # band 192.168.1.1-16, upper band 238 addresses
    upper = [r.allocate_next() for _ in range(238)]
    assert all(int(ip.rsplit(".", 1)[1]) > 16 for ip in upper)
    assert int(r.allocate_next().rsplit(".", 1)[1]) <= 16


def test_well_known_addresses():
    assert kubernetes_service_ip() == "10.96.0.1"
    assert dns_service_ip() == "10.96.0.10"
    assert IPRange().indexed_ip(10) == "10.96.0.10"


def test_same_seed_same_ips_and_another_seed_other_ips():
    def run(seed):
        r = IPRange(seed=seed)
        return [r.allocate_next() for _ in range(5)]

    assert run(1) == run(1)
    assert run(1) != run(2)


@pytest.mark.parametrize(
    ("text", "band", "free"),
    [
        ("30000-32767", (30000, 30085), 2768),
        ("30000-30015", None, 16),
        ("1-65535", (1, 128), 65535),
    ],
)
def test_port_ranges(text, band, free):
    p = PortRange(text)
    assert p.static_band == band
    assert p.free == free


def test_port_errors():
    p = PortRange()
    p.allocate(30080)
    with pytest.raises(AllocationError, match="^provided port is already allocated$"):
        p.allocate(30080)
    with pytest.raises(AllocationError) as err:
        p.allocate(8080)
    assert str(err.value) == (
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    )
    with pytest.raises(AllocationError, match="unable to parse port range: 32767-30000"):
        PortRange("32767-30000")


def svc(name, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def test_service_create_fills_ips_and_node_ports():
    a = ServiceAllocator(seed=0)
    dns = a.allocate(svc("kube-dns", clusterIP="10.96.0.10", ports=[{"port": 53}]))
    assert dns["spec"]["clusterIPs"] == ["10.96.0.10"]
    assert dns["spec"]["ipFamilies"] == ["IPv4"]
    assert dns["spec"]["ipFamilyPolicy"] == "SingleStack"
    web = a.allocate(
        svc("web", type="NodePort", ports=[{"port": 80}, {"port": 81, "nodePort": 30001}])
    )
    ip = ipaddress.ip_address(web["spec"]["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12") and int(ip) > int(
        ipaddress.ip_address("10.96.1.0")
    )
    assert 30086 <= web["spec"]["ports"][0]["nodePort"] <= 32767
    assert web["spec"]["ports"][1]["nodePort"] == 30001
    assert (
        a.allocate(svc("ext", type="ExternalName", externalName="example.com"))["spec"].get(
            "clusterIP"
        )
        is None
    )
    assert a.allocate(svc("headless", clusterIP="None"))["spec"]["clusterIPs"] == ["None"]


@pytest.mark.parametrize(
    ("service", "message"),
    [
        pytest.param(svc("dns2", clusterIP="10.96.0.10"),
                     'Service "dns2" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: '
                     "failed to allocate IP 10.96.0.10: provided IP is already allocated",
                     id="a taken ClusterIP"),
        pytest.param(svc("x", clusterIP="10.0.0.5"),
                     'Service "x" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed '
                     "to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid "
                     "range. The range of valid IPs is 10.96.0.0/12",
                     id="a ClusterIP outside the range"),
        pytest.param(svc("np", type="NodePort", ports=[{"port": 80, "nodePort": 30010}]),
                     'Service "np" is invalid: spec.ports[0].nodePort: Invalid value: 30010: '
                     "provided port is already allocated", id="a taken nodePort"),
        pytest.param(svc("np", type="LoadBalancer", ports=[{"port": 80, "nodePort": 80}]),
                     'Service "np" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided '
                     "port is not in the valid range. The range of valid ports is 30000-32767",
                     id="a nodePort outside the range"),
    ],
)  # fmt: skip
def test_service_create_errors_leave_nothing_reserved(service, message):
    a = ServiceAllocator()
    a.allocate(svc("kube-dns", clusterIP="10.96.0.10"))
    a.allocate(
        svc(
            "taken", type="NodePort", clusterIP="10.96.0.11", ports=[{"port": 1, "nodePort": 30010}]
        )
    )
    used, free_ports = a.ips.used, a.ports.free
    with pytest.raises(StatusError) as err:
        a.allocate(service)
    assert err.value.code == 422 and str(err.value) == message
    assert (a.ips.used, a.ports.free) == (used, free_ports)


def test_a_full_range_is_an_internal_error_and_release_frees():
    a = ServiceAllocator("192.168.0.0/30")
    first = a.allocate(svc("a"))
    a.allocate(svc("b"))
    with pytest.raises(StatusError) as err:
        a.allocate(svc("c"))
    assert err.value.code == 500
    assert (
        str(err.value) == "Internal error occurred: failed to allocate a serviceIP: range is full"
    )
    a.release(first)
    assert a.allocate(svc("c"))["spec"]["clusterIP"] == first["spec"]["clusterIP"]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 14))
def test_allocations_are_distinct_and_in_range(seed, n):
    r = IPRange("10.1.0.0/28", seed=seed)
    ips = [r.allocate_next() for _ in range(n)]
    assert len(set(ips)) == n
    assert all(r.contains(ip) and r.has(ip) for ip in ips)
    assert r.free == 14 - n


def test_load_balancers_may_skip_node_ports():
    a = ServiceAllocator()
    lb = a.allocate(svc("lb", type="LoadBalancer", allocateLoadBalancerNodePorts=False,
                        ports=[{"port": 80}, {"port": 81, "nodePort": 30005}]))  # fmt: skip
    assert [p.get("nodePort") for p in lb["spec"]["ports"]] == [None, 30005]
    assert a.ports.free == 2767


def test_bad_input_is_a_clear_error():
    with pytest.raises(AllocationError, match="a Service must be a dict"):
        ServiceAllocator().allocate("web")
    with pytest.raises(AllocationError, match="invalid CIDR '10.96.0.0/40'"):
        IPRange("10.96.0.0/40")
