"""The seed article's NetworkPolicies and a small set of pods to try them on.

The three policies are the article's, as written there: default-deny ingress in `production`,
then frontend -> backend on 8080 and backend -> database on 5432. The pods add what a policy
must not let in: another app in the same namespace and a `frontend` in another namespace.
"""

from __future__ import annotations

from typing import Any

import yaml

SEED_POLICIES_YAML = """\
# Default deny all ingress
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: production
spec:
  podSelector: {}
  policyTypes:
  - Ingress
---
# Allow frontend to backend
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
---
# Allow backend to database
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-backend-to-database
  namespace: production
spec:
  podSelector:
    matchLabels:
      app: database
  policyTypes:
  - Ingress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: backend
    ports:
    - protocol: TCP
      port: 5432
"""

NAMESPACES = {"production": {"env": "production"}, "staging": {"env": "staging"}}


def seed_policies() -> list[dict[str, Any]]:
    """The article's three NetworkPolicies as dicts, in its order."""
    return [d for d in yaml.safe_load_all(SEED_POLICIES_YAML) if d]


def default_deny() -> dict[str, Any]:
    """Only the article's `default-deny-ingress` policy."""
    return seed_policies()[0]


def _pod(namespace: str, name: str, app: str, ip: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {"containers": [{"name": app, "ports": [{"containerPort": port}]}]},
        "status": {"podIP": ip},
    }


def seed_pods() -> list[dict[str, Any]]:
    """frontend, backend, database and monitoring in `production`; a frontend in `staging`."""
    return [
        _pod("production", "frontend", "frontend", "10.244.1.10", 80),
        _pod("production", "backend", "backend", "10.244.2.20", 8080),
        _pod("production", "database", "database", "10.244.3.30", 5432),
        _pod("production", "monitoring", "monitoring", "10.244.1.40", 9090),
        _pod("staging", "frontend", "frontend", "10.244.2.50", 80),
    ]
