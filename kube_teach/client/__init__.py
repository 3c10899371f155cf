"""client-go in miniature: rate limiters, work queues, and (as the API server moves onto the
network) the REST client and informers every component uses to reach the API server."""
