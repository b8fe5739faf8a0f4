"""Schemathesis against the console's own OpenAPI document: no request it describes, valid or
not, makes the console answer 5xx.

The console runs for real on PostgreSQL (a thread with its own event loop, a real port), with
a little data so that list and get operations reach the database; every operation gets
positive and negative examples with an admin token. Failures are collected across all
operations and reported together with the request that caused each.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate
from cloud.db.engine import session_factory as make_sessions
from cloud.openapi_doc import document
from cloud.settings import Settings
from tests.support import services
from tests.support.auth import token_headers

pytestmark = pytest.mark.slow

#: Examples per operation and mode; the document has ~100 operations.
EXAMPLES = 6
#: Operations that are not plain request/response (WebSocket upgrade) or end the caller.
SKIP = {"GET /api/alarms/live", "POST /api/logout"}


@dataclass
class Console:
    base: str
    headers: dict[str, str]


async def _seed(url: str) -> dict[str, str]:
    await migrate(url)
    engine = make_engine(url)
    try:
        return await token_headers(make_sessions(engine), "admin", sites=["demo"])
    finally:
        await engine.dispose()


@pytest.fixture
def console(pg_url: str) -> Iterator[Console]:
    headers = asyncio.run(_seed(pg_url))
    port = services.free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        engine = make_engine(pg_url)
        app = create_app(Settings(database_url=pg_url), make_sessions(engine))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        holder.update(runner=runner, engine=engine)
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="console", daemon=True)
    thread.start()
    assert ready.wait(30), "console did not start"
    try:
        yield Console(f"http://127.0.0.1:{port}", headers)
    finally:
        async def stop() -> None:
            await holder["runner"].cleanup()  # type: ignore[attr-defined]
            await holder["engine"].dispose()  # type: ignore[attr-defined]

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _examples(label: str, strategy: st.SearchStrategy[schemathesis.Case], console: Console,
              http: requests.Session, failures: list[str]) -> Callable[[], None]:
    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case: schemathesis.Case) -> None:
        headers: dict[str, Any] = {**dict(case.headers or {}), **console.headers}
        response = case.call(base_url=console.base, session=http, headers=headers, timeout=30)
        if response.status_code >= 500:
            failures.append(f"{label} → {response.status_code}: "
                            f"{case.as_curl_command()}\n  {response.text[:300]}")

    return call


def test_no_operation_of_the_document_answers_5xx(console: Console) -> None:
    schema = schemathesis.openapi.from_dict(document())
    http = requests.Session()
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]
        if op.label in SKIP:
            continue
        strategy = st.one_of(op.as_strategy(GenerationMode.POSITIVE),
                             op.as_strategy(GenerationMode.NEGATIVE))

        call = _examples(op.label, strategy, console, http, failures)
        call()
        ran += 1
    assert ran > 50, f"only {ran} operations in the document"
    assert not failures, "\n".join(failures[:20])


def test_the_fuzzer_reaches_the_database(console: Console) -> None:
    """Guards the test above: with the token, a list operation really answers 200."""
    r = requests.get(f"{console.base}/api/sites", headers=console.headers, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.get(f"{console.base}/api/sites", timeout=10)
    assert r.status_code == 401
