"""Parking at the edge: the lanes' decision chain, durable sessions, the booth API, datasets."""
