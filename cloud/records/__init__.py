"""The property register as a service: checking input, writing with audit, and queries.

The API (``cloud.api.records``), the spreadsheet import (``cloud.imports``) and the CLI all go
through the same field rules (``cloud.records.fields``) and resource descriptions
(``cloud.records.kinds``), so a bad value is refused with the same message everywhere.
"""
