"""Backup and restore of the whole console: its database and its blob store in one archive.

``courtyard cloud backup FILE`` writes a tar (gzip when FILE ends in ``.gz``/``.tgz``) holding
the database (``pg_dump -Fc``, or a SQLite copy through the online backup API), every blob of
the store, and a ``manifest.json`` naming the schema revision, the row count of every table,
the blobs and the sha256 of every member. ``courtyard cloud restore FILE`` checks all of that
before it touches the target, and checks the counts again after (docs/data-lifecycle.md §5).
"""
