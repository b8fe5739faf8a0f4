"""Access control at the edge: credentials in force and the local decision for its own readers."""
