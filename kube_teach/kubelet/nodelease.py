"""The node lease: the kubelet's heartbeat, a Lease in kube-node-lease renewed every 10 s.

Semantics: pkg/kubelet/nodelease (controller.go: ensure the Lease, renew it, retry once on a
conflict after reading it again; the Node becomes its owner once it exists). A mixin of the
Kubelet host.
"""

from __future__ import annotations

from typing import Any

from kube_teach.api.kinds import KINDS
from kube_teach.api.objects import Obj
from kube_teach.api.rest import Response, collection_path, object_path
from kube_teach.client.leaderelection import format_micro_time

NODE_LEASE_DURATION_SECONDS = 40  # nodeLeaseDurationSeconds
NODE_LEASE_RENEW_INTERVAL = 10  # seconds: 0.25 x the lease duration
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASES = KINDS["Lease"]


class NodeLease:
    """Lease renewal for the Kubelet (needs client, clock, node_name, _node, running)."""

    _lease: dict[str, Any] | None
    _node: Obj | None
    lease_renewals: int

    # -- node lease ----------------------------------------------------------------------------
    def _renew_lease(self) -> None:
        """nodelease controller: ensure the Lease exists, then update it with a new renewTime;
        on a conflict read it again and retry once."""
        if not self.running:
            return
        if self._lease is None:
            path = object_path(LEASES, self.node_name, NODE_LEASE_NAMESPACE)
            self.client.request("GET", path, callback=self._got_lease)
        else:
            self._update_lease(retry=True)

    def _lease_spec(self) -> dict[str, Any]:
        return {"holderIdentity": self.node_name, "leaseDurationSeconds": NODE_LEASE_DURATION_SECONDS,
                "renewTime": format_micro_time(self.epoch_ns + self.clock.now_ns)}  # fmt: skip

    def _got_lease(self, resp: Response, retry: bool = False) -> None:
        if resp.ok:
            self._lease = dict(resp.body)
            self._update_lease(retry=retry)
        elif resp.code == 404:
            lease = {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE},
                "spec": self._lease_spec(),
            }  # fmt: skip
            if self._node is not None:
                lease["metadata"]["ownerReferences"] = self._owner()
            self.client.request("POST", collection_path(LEASES, NODE_LEASE_NAMESPACE), lease,
                                self._lease_written)  # fmt: skip

    def _owner(self) -> list[dict[str, Any]]:
        assert self._node is not None
        uid = self._node.metadata.get("uid", "")
        return [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": uid}]

    def _update_lease(self, retry: bool) -> None:
        assert self._lease is not None
        body = dict(self._lease)
        body["spec"] = {**(body.get("spec") or {}), **self._lease_spec()}
        meta = body["metadata"] = dict(body.get("metadata") or {})
        if not meta.get("ownerReferences") and self._node is not None:
            meta["ownerReferences"] = self._owner()  # setNodeOwnerFunc, once the Node exists
        path = object_path(LEASES, self.node_name, NODE_LEASE_NAMESPACE)

        def done(resp: Response) -> None:
            if resp.ok:
                self._lease_written(resp)
            elif retry and self.running:
                self._lease = None
                self.client.request("GET", path, callback=lambda r: self._got_lease(r, False))
            else:
                self._lease = None

        self.client.request("PUT", path, body, done)

    def _lease_written(self, resp: Response) -> None:
        if resp.ok:
            self._lease = dict(resp.body)
            self.lease_renewals += 1
            self._emit("lease-renewed", renewTime=resp.body["spec"].get("renewTime", ""))
