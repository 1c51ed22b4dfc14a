"""The client side every component shares: REST client, informers (list+watch caches), work queues, leases."""
