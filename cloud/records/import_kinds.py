"""What the spreadsheet import handles, in template order. A module of its own, importing
nothing, so the command line can offer the choices without loading the register."""

IMPORT_KINDS: tuple[str, ...] = ("units", "owners", "tenants", "vehicles", "spaces", "meters")
