"""A billing meter reads a counter some meter profile produces (contract/registers.py): a
meter naming another register is refused where it is configured — the register API, a meter
replacement, the sample community file — instead of holding every bill for want of readings."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from cloud.db.models import Device, Meter, Site
from cloud.sample_community import LoadError
from tests.billing.conftest import load_sample, sample_doc
from tests.records.conftest import Console, error_of
from tests.records.test_records_api import _unit


async def test_the_register_api_refuses_a_register_no_profile_produces(
        console: Console) -> None:
    c = console
    await _unit(c)
    base = {"site": "garden", "utility": "water", "unit": "1-1-101", "device_key": "wm-1",
            "installed_at": "2025-01-01"}
    bad = await c.call("POST", "/api/meters", 400, {**base, "code": "W-1", "register": "water_m3"})
    assert error_of(bad)["field"] == "register"
    assert '"water_m3"' in bad["error"]["message"]
    assert "water_forward_m3" in bad["error"]["message"]
    wrong_utility = await c.call("POST", "/api/meters", 400, {
        **base, "code": "W-1", "register": "energy_import_kwh"})
    assert error_of(wrong_utility)["field"] == "register"
    meter = await c.call("POST", "/api/meters", 201, {**base, "code": "W-1",
                                                      "register": "water_forward_m3"})
    bad = await c.call("PATCH", f"/api/meters/{meter['id']}", 400, {"register": "water_m3"})
    assert error_of(bad)["field"] == "register"
    bad = await c.call("POST", f"/api/meters/{meter['id']}/replace", 400, {
        "final_reading": "10", "at": "2026-11-01T09:00:00+08:00", "code": "W-1b",
        "initial_reading": "0", "register": "water_m3"})
    assert error_of(bad)["field"] == "register"
    done = await c.call("POST", f"/api/meters/{meter['id']}/replace", 201, {
        "final_reading": "10", "at": "2026-11-01T09:00:00+08:00", "code": "W-1b",
        "initial_reading": "0"})
    assert done["new"]["register"] == "water_forward_m3"


async def test_the_sample_file_names_the_meter_whose_register_nobody_produces(
        console: Console) -> None:
    doc = sample_doc()
    water = [m for m in doc["meters"] if m["utility"] == "water"]
    assert water and all("register" not in m for m in water)  # the default: water_forward_m3
    assert {doc["readings"][m["device"]][0] for m in water} == {"water_forward_m3"}

    bad = copy.deepcopy(doc)
    i = next(i for i, m in enumerate(bad["meters"]) if m["code"] == "W-2-101")
    bad["meters"][i]["register"] = "water_m3"
    with pytest.raises(LoadError) as err:
        await load_sample(console.sessions, bad)
    assert str(err.value).startswith(f"meters[{i}].register (W-2-101): ")
    assert '"water_m3"' in str(err.value) and "water_forward_m3" in str(err.value)

    bad = copy.deepcopy(doc)
    bad["readings"]["wm-2-101"][0] = "water_m3"
    with pytest.raises(LoadError) as err:
        await load_sample(console.sessions, bad)
    assert "readings.wm-2-101" in str(err.value)
    assert "meter W-2-101 reads water_forward_m3, these readings are water_m3" in str(err.value)


async def test_a_device_that_has_reported_is_held_to_the_names_it_sends(
        console: Console) -> None:
    c = console
    await _unit(c)
    async with c.sessions() as session, session.begin():
        site = (await session.execute(select(Site).where(Site.slug == "garden"))).scalar_one()
        lake = (await session.execute(select(Site).where(Site.slug == "lake"))).scalar_one()
        # the other site's em-9 sends energy_total_kwh: only the meter's own site counts
        for s, extra in ((site, {}), (lake, {"energy_total_kwh": "13"})):
            dev = Device(site_id=s.id, key="em-9", kind="meter", profile="chint_dtsu666")
            session.add(dev)
            await session.flush()
            session.add(Meter(device_id=dev.id, profile="chint_dtsu666", last_values={
                "energy_import_kwh": "12.5", "power_w": "300", **extra}))
    base = {"site": "garden", "utility": "electricity", "unit": "1-1-101", "device_key": "em-9",
            "installed_at": "2025-01-01"}
    bad = await c.call("POST", "/api/meters", 400, {**base, "code": "E-9",
                                                    "register": "energy_total_kwh"})
    assert error_of(bad)["field"] == "register"
    message = bad["error"]["message"]
    assert 'device em-9 (profile chint_dtsu666) does not produce "energy_total_kwh"' in message
    assert "it sends energy_import_kwh, power_w" in message
    meter = await c.call("POST", "/api/meters", 201, {**base, "code": "E-9",
                                                      "register": "energy_import_kwh"})
    bad = await c.call("PATCH", f"/api/meters/{meter['id']}", 400,
                       {"register": "energy_export_kwh"})
    assert error_of(bad)["field"] == "register"
    bad = await c.call("POST", f"/api/meters/{meter['id']}/replace", 400, {
        "final_reading": "20", "at": "2026-11-01T09:00:00+08:00", "code": "E-9b",
        "initial_reading": "0", "register": "energy_export_kwh"})
    assert error_of(bad)["field"] == "register"
    # a device not heard from yet: only the names some profile may produce are checked
    await c.call("POST", "/api/meters", 201, {**base, "code": "E-10", "device_key": "em-10",
                                              "register": "energy_export_kwh"})
