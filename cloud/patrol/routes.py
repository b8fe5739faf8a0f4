"""Patrol's own routes under ``/api/sites/{site}/patrol/``: checkpoints, routes and plans
(``routes_setup``), tags and their handover (``routes_tags``), the day's and the live rounds
(``routes_rounds``) and the edge's dataset pull (``pull``, public to the staff guard: the
site credential is checked there)."""

from __future__ import annotations

from aiohttp import web

from cloud.auth.guard import PUBLIC, requires
from cloud.auth.site_pull import install_pull_limits
from cloud.patrol.pull import patrol_dataset
from cloud.patrol.routes_rounds import add_round_routes
from cloud.patrol.routes_setup import add_setup_routes
from cloud.patrol.routes_tags import add_tag_routes
from cloud.patrol.write import PREFIX


def add_patrol_routes(app: web.Application) -> None:
    install_pull_limits(app)
    add_setup_routes(app)
    add_tag_routes(app)
    add_round_routes(app)
    app.router.add_get(f"{PREFIX}/dataset", requires(PUBLIC)(patrol_dataset),
                       name="patrol_dataset")
