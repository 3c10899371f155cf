"""Networking decisions without a network: which connections NetworkPolicies allow, and what a
pod's resolv.conf holds and which DNS queries a lookup sends. Pure functions over Kubernetes
JSON; the simulated services, CoreDNS and traffic hosts build on them.
"""
