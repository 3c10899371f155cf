"""Bind the pod to the chosen node: the Binding the API server receives.

Semantics: kube-scheduler's DefaultBinder plugin (Bind). The pure core only says what to bind;
the scheduler host sends the request.
"""

from __future__ import annotations

from ..framework import CycleState, PodInfo, Status


class DefaultBinder:
    """Bind: records the binding to send (`state` key "Binding": (namespace, name, node))."""

    name = "DefaultBinder"

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        state.write("Binding", (pod.namespace, pod.name, node_name))
        return Status.success()
