"""Staff accounts, API tokens, roles scoped to sites, the request guard and the audit log.

Beneath the features: every handler declares its permission with ``cloud.auth.guard.requires``
and writes changes and views of personal data with ``cloud.auth.audit.record``. Like the rest
of the kit this package imports nothing when imported, so a tool that only needs the role table
(``courtyard cloud token create --role …``) does not load the console; its routes join the app
through ``cloud.auth.routes.setup``.
"""
