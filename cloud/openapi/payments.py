"""OpenAPI paths and schemas: payments (being built)."""
