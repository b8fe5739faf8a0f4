"""Preventive maintenance: the equipment ledger, plans with tiers, due dates and statistics.

Pure functions over dataclasses; the database and the API build on them (issue 6 item 4).
"""
