"""OpenAPI paths and schemas: auth (being built)."""
