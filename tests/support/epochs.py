"""One outbox epoch for tests that hand-build batches of a single edge (``contract.batch``)."""

TEST_EPOCH = "test-epoch-0000000000000000"
"""A well-formed epoch (``contract.batch.EPOCH_RE``) shared by hand-built batches."""
