"""Alembic migrations of the cloud database (run with ``cloud.db.migrate``)."""
