"""The controllers of kube-controller-manager, as pure decision cores over Kubernetes JSON dicts.

Each module takes objects as the informer cache holds them, plus the current time, and returns
what upstream's controller would write in one sync; a host (informers, workqueue, API client)
runs them. Time is always passed in, as seconds since the Unix epoch (float), never read.
Modules: deployment, replicaset, hpa, disruption, node_lifecycle (and their helpers).
"""
