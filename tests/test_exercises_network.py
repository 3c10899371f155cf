"""Chapter 07's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the library they are built on."""

import pytest

from kube_teach.grading import check
from kube_teach.network.coredns import Zone, queries_per_lookup
from kube_teach.network.dns import resolv_conf
from kube_teach.network.proxy import KubeProxy
from kube_teach.network.service import endpoint_slice


def stub(*args):
    raise NotImplementedError


GOOD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend-to-backend
  namespace: production
spec:
  podSelector:
    matchLabels:
      app: backend
  policyTypes:
  - Ingress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: frontend
    ports:
    - protocol: TCP
      port: 8080
"""


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(GOOD, True, "", id="the seed's policy passes"),
        pytest.param(GOOD.replace("    ports:\n    - protocol: TCP\n      port: 8080\n", ""), False,
                     "also lets production/frontend reach production/backend on port 80",
                     id="no ports: every port"),
        pytest.param(GOOD.replace("    - podSelector:", "    - namespaceSelector: {}\n    - podSelector:"),
                     False, "also lets production/database reach production/backend on port 8080",
                     id="two peers: ORed, every namespace's pods"),
        pytest.param(GOOD.replace("    - podSelector:", "    - namespaceSelector: {}\n      podSelector:"),
                     False, "also lets staging/frontend reach production/backend on port 8080",
                     id="one peer ANDed over all namespaces: staging's frontend gets in"),
        pytest.param(GOOD.replace("app: backend", "app: frontend", 1), False,
                     "production/frontend still cannot reach production/backend on 8080",
                     id="the policy selects the wrong pods"),
        pytest.param(GOOD.replace("namespace: production", "namespace: default"), False,
                     "metadata.namespace is 'default'", id="wrong namespace"),
        pytest.param(GOOD.replace("port: 8080", "port: 80800"), False,
                     "must be between 1 and 65535, inclusive", id="an invalid port"),
        pytest.param(GOOD.replace("kind: NetworkPolicy", "kind: Service"), False,
                     "the exercise asks for a networking.k8s.io/v1 NetworkPolicy", id="not a policy"),
        pytest.param("a: [", False, "kubectl cannot read it", id="broken YAML"),
        pytest.param(..., False, "write the YAML of one NetworkPolicy", id="unsolved"),
    ],
)  # fmt: skip
def test_frontend_to_backend(answer, passed, says):
    result = check("07-frontend-to-backend", answer)
    assert result.passed is passed
    assert says in result.message


def dns_queries(name, ndots):
    if name.endswith(".") or name.count(".") >= ndots:
        return 2
    return 8


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(dns_queries, True, "", id="the rule passes"),
        pytest.param(lambda name, ndots: 8, False,
                     "dns_queries('api.example.com', 1) returned 8, but it is 2", id="always 8"),
        pytest.param(lambda name, ndots: 2 if name.count(".") >= ndots else 8, False,
                     "a trailing dot means the name is complete", id="forgets the trailing dot"),
        pytest.param(lambda name, ndots: 2 if name.count(".") > ndots else 8, False,
                     "at least ndots:", id="more than instead of at least"),
        pytest.param(stub, False, "replace `raise NotImplementedError` in dns_queries", id="stub"),
        pytest.param(8, False, "pass the function itself", id="not a function"),
    ],
)  # fmt: skip
def test_dns_queries(answer, passed, says):
    result = check("07-dns-queries", answer)
    assert result.passed is passed
    assert says in result.message


def test_the_dns_grader_agrees_with_the_server_model():
    zone = Zone(external={"api.example.com": "203.0.113.7"})
    for ndots in (1, 2, 5):
        conf = resolv_conf(
            {"metadata": {"namespace": "production"},
             "spec": {"dnsConfig": {"options": [{"name": "ndots", "value": str(ndots)}]}}}
        )  # fmt: skip
        assert queries_per_lookup("api.example.com", conf, zone) == dns_queries(
            "api.example.com", ndots
        )


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(lambda i, n: 1 / (n - i), True, "", id="1/(n-i) passes"),
        pytest.param(lambda i, n: 1 / n, False, "probability(1, 2) returned 0.5, but 1 endpoints",
                     id="1/n: later endpoints get less"),
        pytest.param(lambda i, n: "1/3", False, "returned '1/3'", id="a string"),
        pytest.param(stub, False, "replace `raise NotImplementedError` in probability", id="stub"),
    ],
)  # fmt: skip
def test_iptables_probability(answer, passed, says):
    result = check("07-iptables-probability", answer)
    assert result.passed is passed
    assert says in result.message


def test_the_probabilities_are_the_ones_kube_proxy_writes():
    p = KubeProxy("node-1")
    p.update_service(
        {"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80}]}}
    )
    p.update_endpoint_slice(
        endpoint_slice("web", [(f"10.244.0.{i}", "node-1") for i in range(4)], 80)
    )
    p.sync()
    written = [float(line.split("--probability ")[1].split()[0]) for line in p.iptables_rules().splitlines()
               if "--probability" in line]  # fmt: skip
    assert written == pytest.approx([1 / (4 - i) for i in range(3)])
