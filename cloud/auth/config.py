"""What the request guard needs from the settings, kept on the app under ``AUTH``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from cloud.auth.ratelimit import SharedWindow
from cloud.settings import Settings

SESSION_COOKIE = "courtyard_session"
CSRF_HEADER = "X-CSRF-Token"
#: Login attempts per remote address and per username within ``RATE_WINDOW``.
RATE_PER_ADDRESS = 20
RATE_PER_USERNAME = 10
RATE_WINDOW = timedelta(minutes=5)
#: A session's last_seen / a token's last_used is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class AuthConfig:
    cookie_secure: bool
    max_failures: int
    lockout: timedelta
    idle: timedelta
    absolute: timedelta
    by_address: SharedWindow
    by_username: SharedWindow

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        return cls(cookie_secure=settings.cookie_secure,
                   max_failures=settings.login_max_failures,
                   lockout=timedelta(minutes=settings.login_lockout_minutes),
                   idle=timedelta(minutes=settings.session_idle_minutes),
                   absolute=timedelta(hours=settings.session_max_hours),
                   by_address=SharedWindow("login-address", RATE_PER_ADDRESS, RATE_WINDOW),
                   by_username=SharedWindow("login-username", RATE_PER_USERNAME,
                                            RATE_WINDOW))


AUTH = web.AppKey("auth", AuthConfig)
