"""Virtual licence-plate cameras speaking the Vzenith and Hikvision push protocols.

Import from ``simulators.lpr.camera`` (kept out of this package's namespace so that
``python -m simulators.lpr.camera`` runs without a double import)."""
