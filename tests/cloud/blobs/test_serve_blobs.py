"""``courtyard cloud serve`` keeps plate images in its blob store (``COURTYARD_BLOB_DIR``): a
read published by the edge over MQTT is acked, its image is a file in the store, and the
lanes page's link serves it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from cloud.blobs import ref_of
from contract import decode_ack, topics
from tests.cloud.blobs.plates import envelope, files, jpeg, payload, read_data
from tests.cloud.test_serve import Console, start_console
from tests.support.epochs import TEST_EPOCH


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(tmp_path, COURTYARD_BLOB_DIR=str(tmp_path / "images"))
    try:
        yield c
    finally:
        if c.proc.returncode is None:
            c.proc.kill()
            await c.proc.wait()


async def test_served_console_stores_plate_images_as_blobs(console: Console,
                                                           tmp_path: Path) -> None:
    await console.wait_healthy()
    image = jpeg(140)
    async with aiomqtt.Client("127.0.0.1", console.mqtt, username="demo",
                              password="demo-secret-0001", identifier="edge-demo-blobs",
                              clean_session=False, timeout=5) as edge:
        await edge.subscribe(topics.down_ack("demo"), qos=1)
        await edge.publish(topics.up_events("demo"), payload(
            "demo", envelope(1, "plate.read", read_data("粤B12345", image))), qos=1)
        async with asyncio.timeout(10):
            async for message in edge.messages:
                assert isinstance(message.payload, bytes)
                assert decode_ack(message.payload) == (TEST_EPOCH, 1)
                break

    digest = ref_of(image).removeprefix("sha256:")
    assert files(tmp_path / "images") == [tmp_path / "images" / digest[:2] / digest[2:4] / digest]
    status, lanes = await console.get("/api/sites/demo/parking/lanes")
    assert status == 200
    [read] = lanes["lanes"][0]["reads"]
    headers = await console._auth(read["evidence_url"])
    async with aiohttp.ClientSession() as http, \
            http.get(console.url + read["evidence_url"], headers=headers) as resp:
        assert resp.status == 200 and await resp.read() == image
    _, health = await console.get("/healthz")
    assert health["ingest"]["counters"]["ingest_images_stored"] == 1

    console.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        _, err = await console.proc.communicate()
    assert console.proc.returncode == 0, err.decode()[-2000:]
