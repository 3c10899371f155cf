"""A simulated etcd: a Raft group (raft.py, log.py, quorum.py, messages.py) that stores bytes.

Knows nothing of Kubernetes and imports only `kube_teach.sim`. Kept import-light: submodules are
imported where they are used.
"""
