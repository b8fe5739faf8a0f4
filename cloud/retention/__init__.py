"""Retention windows, the purge and the pseudonymisation of former residents (issue 16 §2)."""
