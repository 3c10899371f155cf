"""The seed's policies as connectivity matrices, the AND/OR pitfall, and the explorer's views."""

import pytest

from kube_teach.network.examples import NAMESPACES, seed_pods, seed_policies
from kube_teach.network.explorer import PolicyExplorer, matrix_svg
from kube_teach.network.policy import connectivity_matrix

PODS = [
    "production/frontend",
    "production/backend",
    "production/database",
    "production/monitoring",
    "staging/frontend",
]


def reachable(matrix):
    return sorted((s, d) for (s, d), ok in matrix.allowed.items() if ok and s != d)


ALL_INTO_PRODUCTION = sorted((s, d) for s in PODS for d in PODS[:4] if s != d)
SEED = ["default-deny-ingress", "allow-frontend-to-backend", "allow-backend-to-database"]


@pytest.mark.parametrize(
    ("names", "port", "into_production"),
    [
        pytest.param([], 8080, ALL_INTO_PRODUCTION, id="no policy: everything is open"),
        pytest.param(SEED[:1], 8080, [], id="default deny: nothing gets in"),
        pytest.param(SEED, 8080, [("production/frontend", "production/backend")],
                     id="the seed's set on 8080: frontend -> backend only"),
        pytest.param(SEED, 5432, [("production/backend", "production/database")],
                     id="the seed's set on 5432: backend -> database only"),
        pytest.param(SEED, 80, [], id="the seed's set on 80: nothing into production"),
        pytest.param(SEED[1:], 9090, [(s, d) for s, d in ALL_INTO_PRODUCTION if d != "production/backend"
                                      and d != "production/database"],
                     id="allow rules without default deny still isolate the pods they select"),
    ],
)  # fmt: skip
def test_seed_matrices(names, port, into_production):
    chosen = [p for p in seed_policies() if p["metadata"]["name"] in names]
    m = connectivity_matrix(seed_pods(), chosen, NAMESPACES, port=port)
    assert [(s, d) for s, d in reachable(m) if d.startswith("production/")] == into_production
    assert all(m.can(s, "staging/frontend") for s in PODS)  # staging has no policy: open


def _allow(from_items):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow", "namespace": "production"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "backend"}},
            "ingress": [{"from": from_items}],
        },
    }


STAGING = {"matchLabels": {"env": "staging"}}
FRONTEND = {"matchLabels": {"app": "frontend"}}


@pytest.mark.parametrize(
    ("from_items", "sources"),
    [
        pytest.param([{"namespaceSelector": STAGING, "podSelector": FRONTEND}], ["staging/frontend"],
                     id="one item: frontends IN staging (AND)"),
        pytest.param([{"namespaceSelector": STAGING}, {"podSelector": FRONTEND}],
                     ["production/frontend", "staging/frontend"],
                     id="two items: anything in staging OR frontends here (OR)"),
        pytest.param([{"podSelector": FRONTEND}], ["production/frontend"],
                     id="a bare podSelector means the policy's own namespace"),
        pytest.param([{"namespaceSelector": {}, "podSelector": FRONTEND}],
                     ["production/frontend", "staging/frontend"], id="frontends in every namespace"),
    ],
)  # fmt: skip
def test_and_versus_or_on_the_seed_pods(from_items, sources):
    m = connectivity_matrix(
        seed_pods(), [seed_policies()[0], _allow(from_items)], NAMESPACES, port=8080
    )
    assert [s for s, d in reachable(m) if d == "production/backend"] == sources


def test_explorer_toggles_and_ports():
    ex = PolicyExplorer(seed_pods(), seed_policies(), NAMESPACES, ports=[8080, 5432])
    assert ex.matrix().can("production/frontend", "production/backend")
    ex.toggle("production/allow-frontend-to-backend", False)
    assert not ex.matrix().can("production/frontend", "production/backend")
    ex.select_port(5432)
    assert ex.matrix().can("production/backend", "production/database")
    assert "[ ] production/allow-frontend-to-backend" in ex.text()
    assert "&#9744; production/allow-frontend-to-backend" in ex.snapshot()["text/html"]
    with pytest.raises(ValueError, match="no policy 'x'"):
        ex.toggle("x", True)
    with pytest.raises(ValueError, match="unknown policies"):
        PolicyExplorer(seed_pods(), seed_policies(), enabled=["nope"])


def test_the_widget_builds_and_follows_the_state():
    pytest.importorskip("ipywidgets")
    ex = PolicyExplorer(seed_pods(), seed_policies(), NAMESPACES, ports=[8080, 5432])
    box = ex.widget()
    checkboxes = box.children[0].children[0].children
    checkboxes[1].value = False  # allow-frontend-to-backend
    assert not ex.enabled["production/allow-frontend-to-backend"]
    assert ex._live.value == ex.matrix()._repr_html_()


def test_svg_is_byte_stable_and_marks_each_cell():
    m = connectivity_matrix(seed_pods(), seed_policies(), NAMESPACES, port=8080)
    a, b = matrix_svg(m, "8080"), matrix_svg(m, "8080")
    assert a.data == b.data and a.data.startswith("<svg")
    assert a.data.count("&#10003;") == sum(m.allowed.values())
    assert repr(a) == "<connectivity matrix: 8080>"
