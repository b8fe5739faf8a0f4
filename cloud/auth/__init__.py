"""Staff accounts, API tokens, roles scoped to sites, and the request guard."""
