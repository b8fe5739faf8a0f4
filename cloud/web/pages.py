"""Staff pages: plain files from ``dashboards/`` served by the console itself.

Sites and guard rooms often have no internet, so nothing is loaded from a CDN, and the
Content-Security-Policy forbids it so a later edit cannot slip one in.
"""

from __future__ import annotations

#: Everything from the console itself; the WebSocket too ('self' covers ws:/wss: on the same
#: host in current browsers).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
