"""localcloud's network: loopback addresses, listeners that serve or black-hole, small HTTP and TCP plumbing."""
