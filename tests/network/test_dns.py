"""Pod resolv.conf after pkg/kubelet/network/dns/dns_test.go, and the queries a lookup sends:
the seed's DNS meltdown, ndots:5 against ndots:1."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.network.dns import (
    ResolvConf,
    ResolvConfError,
    parse_resolv_conf,
    queries_for_lookup,
    resolv_conf,
)


def pod(policy=None, namespace="testNS", host_network=False, dns_config=None):
    spec = {"hostNetwork": host_network}
    if policy is not None:
        spec["dnsPolicy"] = policy
    if dns_config is not None:
        spec["dnsConfig"] = dns_config
    return {"metadata": {"name": "test_pod", "namespace": namespace}, "spec": spec}


# -- TestParseResolvConf ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "nameservers", "searches", "options"),
    [
        ("", [], [], []),
        (" ", [], [], []),
        ("\n", [], [], []),
        ("\t\n\t", [], [], []),
        ("#comment\n", [], [], []),
        (" #comment\n", [], [], []),
        ("#comment\n#comment", [], [], []),
        ("#comment\nnameserver 1.2.3.4\nsearch", ["1.2.3.4"], [], []),
        ("nameserver 1.2.3.4", ["1.2.3.4"], [], []),
        (" nameserver 1.2.3.4", ["1.2.3.4"], [], []),
        ("\tnameserver 1.2.3.4", ["1.2.3.4"], [], []),
        ("nameserver\t1.2.3.4", ["1.2.3.4"], [], []),
        ("nameserver \t 1.2.3.4", ["1.2.3.4"], [], []),
        ("nameserver 1.2.3.4\nnameserver 5.6.7.8", ["1.2.3.4", "5.6.7.8"], [], []),
        ("nameserver 1.2.3.4 #comment", ["1.2.3.4"], [], []),
        ("search ", [], [], []),
        ("search foo", [], ["foo"], []),
        ("search foo bar", [], ["foo", "bar"], []),
        ("search foo. bar", [], ["foo", "bar"], []),
        ("search foo bar bat\n", [], ["foo", "bar", "bat"], []),
        ("search foo\nsearch bar", [], ["bar"], []),
        ("nameserver 1.2.3.4\nsearch foo bar", ["1.2.3.4"], ["foo", "bar"], []),
        ("nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar", ["1.2.3.4", "5.6.7.8"], ["bar"], []),
        ("#comment\nnameserver 1.2.3.4\n#comment\nsearch foo\ncomment", ["1.2.3.4"], ["foo"], []),
        ("options ", [], [], []),
        ("options ndots:5 attempts:2", [], [], ["ndots:5", "attempts:2"]),
        ("options ndots:1\noptions ndots:5 attempts:3", [], [], ["ndots:5", "attempts:3"]),
        ("nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar\noptions ndots:5 attempts:4",
         ["1.2.3.4", "5.6.7.8"], ["bar"], ["ndots:5", "attempts:4"]),
    ],
)  # fmt: skip
def test_parse_resolv_conf(data, nameservers, searches, options):
    conf = parse_resolv_conf(data)
    assert (list(conf.nameservers), list(conf.searches), list(conf.options)) == (
        nameservers,
        searches,
        options,
    )


@pytest.mark.parametrize("data", ["#comment\nnameserver", "#comment\nnameserver\nsearch"])
def test_parse_resolv_conf_errors(data):
    with pytest.raises(ResolvConfError, match="^nameserver list is empty $"):
        parse_resolv_conf(data)


# -- TestFormDNSSearchFitsLimits (through dnsPolicy Default, so the host list passes as is) -----
LIST_2048 = ["A" * 128] + ["A" * 127] * 15
NUMBERED = ["testNS.svc.TEST", "svc.TEST", "TEST"] + [str(i) for i in range(4, 34)]


@pytest.mark.parametrize(
    ("host", "want", "expanded", "event"),
    [
        pytest.param(["testNS.svc.TEST", "svc.TEST", "TEST"], None, False, False, id="valid: 3 search paths"),
        pytest.param(["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB"], None, False, False,
                     id="valid: 5 search paths"),
        pytest.param(["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "B" * 256, "BBB"],
                     ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB"], False, True,
                     id="invalid: longer than 256 characters in search path list"),
        pytest.param(LIST_2048, None, True, False, id="valid ExpandedDNSConfig: 2048 characters"),
        pytest.param(LIST_2048 + ["B"], LIST_2048, True, True, id="invalid ExpandedDNSConfig: 2050 characters"),
        pytest.param(["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "B" * 256, "BBB"],
                     ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB"], True, True,
                     id="invalid ExpandedDNSConfig: 256 characters search path"),
        pytest.param(["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB", "CCC", "DDD"],
                     ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB", "CCC"], False, True,
                     id="invalid: 7 search paths"),
        pytest.param(NUMBERED[:32], None, True, False, id="valid ExpandedDNSConfig: 32 search paths"),
        pytest.param(NUMBERED, NUMBERED[:32], True, True, id="invalid ExpandedDNSConfig: 33 search paths"),
    ],
)  # fmt: skip
def test_search_line_limits(host, want, expanded, event):
    conf = resolv_conf(pod("Default"), host_search=host, expanded_dns_config=expanded)
    want = host if want is None else want
    assert list(conf.searches) == want
    if event:
        assert conf.events == (
            "DNSConfigForming: Search Line limits were exceeded, some search paths have been "
            f"omitted, the applied search line is: {' '.join(want)}",
        )
    else:
        assert conf.events == ()


@pytest.mark.parametrize(
    ("servers", "want", "event"),
    [
        (["127.0.0.1"], ["127.0.0.1"], False),
        (["127.0.0.1", "10.0.0.10", "8.8.8.8"], ["127.0.0.1", "10.0.0.10", "8.8.8.8"], False),
        (
            ["127.0.0.1", "10.0.0.10", "8.8.8.8", "1.2.3.4"],
            ["127.0.0.1", "10.0.0.10", "8.8.8.8"],
            True,
        ),
    ],
)
def test_nameserver_limits(servers, want, event):
    conf = resolv_conf(pod("None", dns_config={"nameservers": servers}))
    assert list(conf.nameservers) == want
    assert bool(conf.events) == event


@pytest.mark.parametrize(
    ("existing", "given", "want"),
    [
        pytest.param(["ndots:5", "debug"], None, {"ndots:5", "debug"}, id="Empty dnsConfigOptions"),
        pytest.param(["ndots:5", "debug"], [{"name": "single-request"}, {"name": "attempts", "value": "3"}],
                     {"ndots:5", "debug", "single-request", "attempts:3"}, id="No duplicated entries"),
        pytest.param(["ndots:5", "debug"],
                     [{"name": "ndots", "value": "3"}, {"name": "debug"}, {"name": "single-request"},
                      {"name": "attempts", "value": "3"}],
                     {"ndots:3", "debug", "single-request", "attempts:3"}, id="Overwrite duplicated entries"),
    ],
)  # fmt: skip
def test_merge_dns_options(existing, given, want):
    conf = resolv_conf(pod("Default", dns_config={"options": given}), host_options=existing)
    assert set(conf.options) == want


# -- TestGetPodDNSType / TestGetPodDNS / TestGetPodDNSCustom ------------------------------------------
HOST = "nameserver 8.8.8.8\nsearch host.domain\n"
CLUSTER = {
    "cluster_dns": ["10.0.0.10"],
    "cluster_domain": "kubernetes.io",
    "node_resolv_conf": HOST,
}
CUSTOM = {"nameservers": ["10.0.0.11"], "searches": ["my.domain"],
          "options": [{"name": "ndots", "value": "3"}, {"name": "debug"}]}  # fmt: skip
CLUSTER_SEARCH = ["testNS.svc.kubernetes.io", "svc.kubernetes.io", "kubernetes.io"]


@pytest.mark.parametrize(
    ("the_pod", "servers", "searches", "options"),
    [
        pytest.param(pod("None"), [], [], set(), id="DNSNone without DNSConfig should have empty DNS settings"),
        pytest.param(
            pod("None", dns_config={"nameservers": ["203.0.113.1"], "searches": ["my.domain", "second.domain"],
                                    "options": CUSTOM["options"]}),
            ["203.0.113.1"], ["my.domain", "second.domain"], {"ndots:3", "debug"},
            id="DNSNone with DNSConfig should have a merged DNS settings"),
        pytest.param(pod("ClusterFirst", dns_config=CUSTOM), ["10.0.0.10", "10.0.0.11"],
                     CLUSTER_SEARCH + ["host.domain", "my.domain"], {"ndots:3", "debug"},
                     id="DNSClusterFirst with DNSConfig should have a merged DNS settings"),
        pytest.param(pod("ClusterFirstWithHostNet", host_network=True, dns_config=CUSTOM),
                     ["10.0.0.10", "10.0.0.11"], CLUSTER_SEARCH + ["host.domain", "my.domain"],
                     {"ndots:3", "debug"}, id="DNSClusterFirstWithHostNet with DNSConfig"),
        pytest.param(pod("Default", dns_config=CUSTOM), ["8.8.8.8", "10.0.0.11"], ["host.domain", "my.domain"],
                     {"ndots:3", "debug"}, id="DNSDefault with DNSConfig should have a merged DNS settings"),
        pytest.param(pod("ClusterFirst", host_network=True), ["8.8.8.8"], ["host.domain"], set(),
                     id="DNSClusterFirst with hostnetwork falls back to DNSDefault"),
        pytest.param(pod(), ["10.0.0.10"], CLUSTER_SEARCH + ["host.domain"], {"ndots:5"},
                     id="dnsPolicy defaults to ClusterFirst"),
    ],
)  # fmt: skip
def test_get_pod_dns_custom(the_pod, servers, searches, options):
    conf = resolv_conf(the_pod, **CLUSTER)
    assert list(conf.nameservers) == servers
    assert list(conf.searches) == searches
    assert set(conf.options) == options


def test_get_pod_dns_without_a_resolver_config():
    # TestGetPodDNS: --resolv-conf="" makes host lookups go to 127.0.0.1 with search "."
    host_net = pod("ClusterFirstWithHostNet", namespace="", host_network=True)
    conf = resolv_conf(
        host_net, cluster_dns=["203.0.113.1"], cluster_domain="kubernetes.io", resolver_config=False
    )
    assert conf.nameservers == ("203.0.113.1",)
    assert conf.searches[0] == ".svc.kubernetes.io"  # upstream's test pods have no namespace
    fallback = resolv_conf(pod("ClusterFirst", host_network=True), resolver_config=False)
    assert (fallback.nameservers, fallback.searches) == (("127.0.0.1",), (".",))


def test_missing_cluster_dns_falls_back_to_default():
    conf = resolv_conf(pod(), cluster_dns=[], node_resolv_conf=HOST)
    assert conf.nameservers == ("8.8.8.8",)
    assert conf.events[0].startswith(
        "MissingClusterDNS: kubelet does not have ClusterDNS IP configured"
    )


def test_seed_pod_resolv_conf_text():
    conf = resolv_conf(pod(namespace="production"))
    assert conf.text() == (
        "search production.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )
    assert conf.ndots == 5


def test_seed_fix_lowers_ndots_and_sets_timeouts():
    fix = {"options": [{"name": "ndots", "value": "1"}, {"name": "timeout", "value": "2"},
                       {"name": "attempts", "value": "2"}]}  # fmt: skip
    conf = resolv_conf(pod("ClusterFirst", namespace="production", dns_config=fix))
    assert conf.options == ("ndots:1", "timeout:2", "attempts:2")
    assert (conf.ndots, conf.timeout, conf.attempts) == (1, 2, 2)


# -- queries per lookup ---------------------------------------------------------------------------------
PRODUCTION = resolv_conf(pod(namespace="production"))
NDOTS_1 = resolv_conf(
    pod(namespace="production", dns_config={"options": [{"name": "ndots", "value": "1"}]})
)


def names(queries):
    return [(q.name, q.qtype, q.rcode) for q in queries]


def test_the_dns_meltdown_with_ndots_5():
    got = queries_for_lookup("backend-service.production.svc.cluster.local", PRODUCTION)
    name = "backend-service.production.svc.cluster.local"
    assert names(got) == [
        (f"{name}.production.svc.cluster.local.", "A", "NXDOMAIN"),
        (f"{name}.production.svc.cluster.local.", "AAAA", "NXDOMAIN"),
        (f"{name}.svc.cluster.local.", "A", "NXDOMAIN"),
        (f"{name}.svc.cluster.local.", "AAAA", "NXDOMAIN"),
        (f"{name}.cluster.local.", "A", "NXDOMAIN"),
        (f"{name}.cluster.local.", "AAAA", "NXDOMAIN"),
        (f"{name}.", "A", "NOERROR"),
        (f"{name}.", "AAAA", "NOERROR"),
    ]


def test_the_same_lookup_with_ndots_1_is_two_queries():
    got = queries_for_lookup("backend-service.production.svc.cluster.local", NDOTS_1)
    assert names(got) == [
        ("backend-service.production.svc.cluster.local.", "A", "NOERROR"),
        ("backend-service.production.svc.cluster.local.", "AAAA", "NOERROR"),
    ]


@pytest.mark.parametrize(
    ("name", "conf", "total", "nxdomain"),
    [
        pytest.param("api.example.com", PRODUCTION, 8, 6, id="external name, ndots 5"),
        pytest.param("api.example.com", NDOTS_1, 2, 0, id="external name, ndots 1"),
        pytest.param("api.example.com.", PRODUCTION, 2, 0, id="a trailing dot skips the search list"),
        pytest.param("api.example.com", resolv_conf(pod(namespace="production"), host_search=["ec2.internal"]),
                     10, 8, id="a node search domain adds two more"),
    ],
)  # fmt: skip
def test_query_counts(name, conf, total, nxdomain):
    got = queries_for_lookup(name, conf)
    assert (len(got), sum(q.rcode == "NXDOMAIN" for q in got)) == (total, nxdomain)


def test_a_short_service_name_resolves_on_the_first_search_domain():
    existing = ["backend-service.production.svc.cluster.local"]
    got = queries_for_lookup("backend-service", PRODUCTION, existing=existing)
    assert names(got) == [
        ("backend-service.production.svc.cluster.local.", "A", "NOERROR"),
        ("backend-service.production.svc.cluster.local.", "AAAA", "NOERROR"),
    ]
    # from another namespace the short name needs <svc>.<ns>: one NXDOMAIN round first
    other = resolv_conf(pod(namespace="web"))
    got = queries_for_lookup("backend-service.production", other, existing=existing, qtypes=("A",))
    assert names(got) == [
        ("backend-service.production.web.svc.cluster.local.", "A", "NXDOMAIN"),
        ("backend-service.production.svc.cluster.local.", "A", "NOERROR"),
    ]


def test_musl_does_not_search_names_with_enough_dots():
    conf = ResolvConf(
        ("10.96.0.10",), ("default.svc.cluster.local", "svc.cluster.local"), ("ndots:2",)
    )
    glibc = queries_for_lookup("a.b.c", conf, existing=[], qtypes=("A",))
    musl = queries_for_lookup("a.b.c", conf, existing=[], qtypes=("A",), resolver="musl")
    assert [q.name for q in glibc] == [
        "a.b.c.",
        "a.b.c.default.svc.cluster.local.",
        "a.b.c.svc.cluster.local.",
    ]
    assert [q.name for q in musl] == ["a.b.c."]


def test_root_on_the_search_list_replaces_the_final_as_is_query():
    conf = parse_resolv_conf("nameserver 127.0.0.1\nsearch .\noptions ndots:5")
    assert [q.name for q in queries_for_lookup("a.b", conf, existing=[], qtypes=("A",))] == ["a.b."]


def test_ndots_is_capped_at_15():
    assert ResolvConf(options=("ndots:30",)).ndots == 15
    assert ResolvConf().ndots == 1


@given(st.lists(st.sampled_from(["a", "b", "svc"]), min_size=1, max_size=6), st.integers(1, 6))
def test_queries_are_two_per_candidate_and_end_at_the_answer(labels, ndots):
    name = ".".join(labels)
    conf = ResolvConf(("10.96.0.10",), ("ns.svc.cluster.local", "svc.cluster.local", "cluster.local"),
                      (f"ndots:{ndots}",))  # fmt: skip
    got = queries_for_lookup(name, conf)
    assert len(got) % 2 == 0 and got[-1].rcode == "NOERROR" and got[-1].name == f"{name}."
    dots = name.count(".")
    assert len(got) == (2 if dots >= ndots else 8)
