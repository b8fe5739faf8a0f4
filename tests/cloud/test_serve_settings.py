"""Settings the console is served with: defaults that work, errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud.app import create_app
from cloud.db.engine import make_engine, session_factory
from cloud.serve import startup_rules
from cloud.settings import (
    DEFAULT_INGEST_USER,
    Settings,
    SettingsError,
    ensure_database_dir,
    sqlite_path,
)
from tests.support.auth import admin_headers

RULES = """\
rules:
  - id: gate-now
    on: gate.fault
    then:
      work_order: {category: gate, priority: urgent, skill: gate,
                   title_zh: 道闸故障, title_en: Gate fault}
"""


def test_defaults_give_a_working_console_without_a_shared_site_secret() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite+aiosqlite:///var/cloud/courtyard.db"
    assert s.embedded_broker and s.effective_mqtt_url == "mqtt://127.0.0.1:18830"
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    # No site credential unless configured; only demo mode has the demo site's.
    assert dict(s.site_credentials) == {} and not s.demo
    demo = Settings.from_env({"COURTYARD_DEMO": "1"})
    assert dict(demo.site_credentials) == {"demo": "demo-secret"}
    assert s.mqtt_username == DEFAULT_INGEST_USER
    # The cloud's managed-broker password is made and kept by serve (cloud.broker.cloud_secret).
    assert s.mqtt_password is None and s.effective_data_dir == Path("var/cloud")
    assert s.timezone == "Asia/Shanghai" and not s.influx_enabled and not s.ingest_shared
    assert s.rules_path is None and s.alarm_policy_path is None
    assert (s.log_level, s.log_json, s.cookie_secure) == ("INFO", False, False)


def test_external_broker_and_everything_else_from_env() -> None:
    s = Settings.from_env({
        "COURTYARD_DATABASE_URL": "postgresql+asyncpg://u@db/courtyard",
        "COURTYARD_MQTT_URL": "mqtt://broker.example:1884",
        "COURTYARD_MQTT_USERNAME": "cloud", "COURTYARD_MQTT_PASSWORD": "pw",
        "COURTYARD_HTTP_HOST": "0.0.0.0", "COURTYARD_HTTP_PORT": "9000",
        "COURTYARD_SITE_CREDENTIALS": " a1:x , b-2:y:z ",
        "COURTYARD_INFLUX_URL": "http://influx:8086", "COURTYARD_INFLUX_TOKEN": "t",
        "COURTYARD_INFLUX_ORG": "o", "COURTYARD_INFLUX_BUCKET": "b",
        "COURTYARD_INGEST_SHARED": "true", "COURTYARD_TIMEZONE": "Asia/Urumqi",
        "COURTYARD_RULES": "configs/rules", "COURTYARD_ALARM_POLICY": "alarms.yaml",
        "COURTYARD_LOG_LEVEL": "debug", "COURTYARD_LOG_JSON": "1",
        "COURTYARD_COOKIE_SECURE": "yes",
    })
    assert (s.rules_path, s.alarm_policy_path) == ("configs/rules", "alarms.yaml")
    assert (s.log_level, s.log_json, s.cookie_secure) == ("DEBUG", True, True)
    assert not s.embedded_broker and s.effective_mqtt_url == "mqtt://broker.example:1884"
    assert (s.mqtt_username, s.mqtt_password) == ("cloud", "pw")
    assert (s.http_host, s.http_port) == ("0.0.0.0", 9000)
    assert dict(s.site_credentials) == {"a1": "x", "b-2": "y:z"}  # a secret may hold ':'
    assert s.influx_enabled and s.ingest_shared and s.timezone == "Asia/Urumqi"
    assert s.with_http(port=9100).http_port == 9100
    assert s.with_http(host="127.0.0.2").http_port == 9000


def test_a_credential_in_the_broker_url_is_used_unless_the_variables_say_otherwise() -> None:
    url = "mqtts://cloud%40ops:p%40ss@broker.example"
    s = Settings.from_env({"COURTYARD_MQTT_URL": url})
    assert (s.mqtt_username, s.mqtt_password) == ("cloud@ops", "p@ss")
    s = Settings.from_env({"COURTYARD_MQTT_URL": url, "COURTYARD_MQTT_USERNAME": "ingest",
                           "COURTYARD_MQTT_PASSWORD": "pw"})
    assert (s.mqtt_username, s.mqtt_password) == ("ingest", "pw")


@pytest.mark.parametrize(("url", "says"), [
    ("http://x", "must start with mqtt:// or mqtts://"),
    ("mqtt://broker:eighty", "invalid port"),
    ("mqtt://:1883", "needs a host"),
])
def test_a_bad_broker_url_says_which_part_to_fix(url: str, says: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"COURTYARD_MQTT_URL": url})
    assert info.value.variable == "COURTYARD_MQTT_URL" and says in str(info.value)


@pytest.mark.parametrize(("env", "variable"), [
    ({"COURTYARD_HTTP_PORT": "eighty"}, "COURTYARD_HTTP_PORT"),
    ({"COURTYARD_BROKER_PORT": "70000"}, "COURTYARD_BROKER_PORT"),
    ({"COURTYARD_MQTT_URL": "http://x"}, "COURTYARD_MQTT_URL"),
    ({"COURTYARD_SITE_CREDENTIALS": "demo"}, "COURTYARD_SITE_CREDENTIALS"),
    ({"COURTYARD_SITE_CREDENTIALS": "Demo Site:pw"}, "COURTYARD_SITE_CREDENTIALS"),
    ({"COURTYARD_SITE_CREDENTIALS": "a:1,a:2"}, "COURTYARD_SITE_CREDENTIALS"),
    ({"COURTYARD_TIMEZONE": "Mars/Olympus"}, "COURTYARD_TIMEZONE"),
    ({"COURTYARD_INGEST_SHARED": "maybe"}, "COURTYARD_INGEST_SHARED"),
    ({"COURTYARD_DATABASE_URL": "courtyard.db"}, "COURTYARD_DATABASE_URL"),
    ({"COURTYARD_INFLUX_URL": "influx:8086"}, "COURTYARD_INFLUX_URL"),
    ({"COURTYARD_MQTT_USERNAME": "demo",
      "COURTYARD_SITE_CREDENTIALS": "demo:demo-secret-0001"}, "COURTYARD_MQTT_USERNAME"),
    ({"COURTYARD_LOG_LEVEL": "loud"}, "COURTYARD_LOG_LEVEL"),
    ({"COURTYARD_LOG_JSON": "maybe"}, "COURTYARD_LOG_JSON"),
    ({"COURTYARD_COOKIE_SECURE": "sometimes"}, "COURTYARD_COOKIE_SECURE"),
])
def test_invalid_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(variable)


def test_sqlite_folder_is_created_on_use(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/a/b/cloud.db"
    assert sqlite_path(url) == tmp_path / "a" / "b" / "cloud.db"
    ensure_database_dir(url)
    assert (tmp_path / "a" / "b").is_dir()
    assert sqlite_path("postgresql+asyncpg://db/x") is None
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None


async def test_the_rules_the_console_starts_with_come_from_its_settings(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """COURTYARD_RULES picks the rules the engine decides by and the file the API shows; a
    feature never looks at the process environment itself."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("COURTYARD_RULES", str(tmp_path / "not-this-one.yaml"))
    settings = Settings.from_env({"COURTYARD_DATABASE_URL": db_url,
                                  "COURTYARD_RULES": str(rules)})
    assert [r.id for r in startup_rules(settings).rules] == ["gate-now"]
    assert len(startup_rules(Settings()).rules) > 1  # unset: the shipped defaults

    engine = make_engine(db_url)
    sessions = session_factory(engine)
    client = TestClient(TestServer(create_app(settings, sessions)),
                        headers=await admin_headers(sessions))
    await client.start_server()
    try:
        resp = await client.get("/api/rules")
        assert resp.status == 200
        body = await resp.json()
        assert (body["source"], body["file"], body["yaml"]) == ("file", str(rules), RULES)
    finally:
        await client.close()
        await engine.dispose()


def test_older_broker_url_spellings_still_work() -> None:
    settings = Settings.from_env({"COURTYARD_MQTT_URL": "tcp://u:p@broker.example:1884"})
    assert settings.effective_mqtt_url == "mqtt://u:p@broker.example:1884"
