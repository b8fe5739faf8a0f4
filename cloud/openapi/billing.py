"""OpenAPI paths and schemas: billing (being built)."""
