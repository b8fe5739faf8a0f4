"""Attacks on every trust boundary, each shown to fail."""
