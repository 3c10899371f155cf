"""Networking as the cluster's pods see it, in pure models fed with Kubernetes JSON.

policy.py decides which connections NetworkPolicies allow (explorer.py draws the matrix);
dns.py writes a pod's resolv.conf and lists the queries a lookup sends; service.py and proxy.py
are kube-proxy's view of Services and EndpointSlices and its iptables choice of a backend;
coredns.py models the DNS servers and the stub resolver; traffic.py puts them together as a
request load on the simulated clock. examples.py holds the seed article's policies.
"""
