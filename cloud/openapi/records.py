"""OpenAPI paths and schemas: records (being built)."""
