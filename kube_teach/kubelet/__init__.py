"""The node agent's pure decisions: QoS class and oom_score_adj, node allocatable, eviction
thresholds and ranking, restart and image-pull back-off, probe results and image garbage
collection. Each module takes plain Kubernetes JSON and times passed in; the simulated kubelet
host (sync loop, runtime, status) calls them and acts on what they return.
"""
