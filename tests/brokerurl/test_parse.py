"""Broker URLs as an operator writes them: defaults that match the brokers', errors that say
which part to fix and never echo the password."""

from __future__ import annotations

import pytest

from brokerurl import BrokerURL, BrokerURLError, parse


@pytest.mark.parametrize(("url", "host", "port", "tls"), [
    ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False),
    ("mqtt://broker.example", "broker.example", 1883, False),
    ("mqtts://broker.example", "broker.example", 8883, True),
    ("mqtts://broker.example:8884/", "broker.example", 8884, True),
    ("MQTT://Broker.Example:1884", "broker.example", 1884, False),
    ("mqtt://[::1]:1884", "::1", 1884, False),
])
def test_host_port_and_tls(url: str, host: str, port: int, tls: bool) -> None:
    b = parse(url)
    assert (b.host, b.port, b.tls) == (host, port, tls)
    assert (b.username, b.password) == (None, None)


def test_credentials_are_percent_decoded() -> None:
    b = parse("mqtts://site%2Da:p%40ss%3Aw%2Fd@broker.example")
    assert (b.username, b.password) == ("site-a", "p@ss:w/d")
    assert parse("mqtt://only-user@h").username == "only-user"
    assert parse("mqtt://only-user@h").password is None


def test_logs_and_status_never_show_the_password() -> None:
    b = parse("mqtts://cloud:s3cret@broker.example:8884")
    assert b.address == "broker.example:8884"
    assert str(b) == "mqtts://broker.example:8884"
    assert "s3cret" not in repr(b)
    assert parse("mqtt://[::1]:1884").address == "[::1]:1884"
    assert str(BrokerURL("h", 1883)) == "mqtt://h:1883"


@pytest.mark.parametrize(("url", "part", "says"), [
    ("http://broker:1883", "scheme", "must start with mqtt:// or mqtts://"),
    ("tcp://broker:1883", "scheme", "must start with mqtt:// or mqtts://"),
    ("broker:1883", "scheme", "must start with mqtt:// or mqtts://"),
    ("", "scheme", "must start with mqtt:// or mqtts://"),
    ("mqtt://", "host", "needs a host"),
    ("mqtt://:1883", "host", "needs a host"),
    ("mqtt://user:pw@", "host", "needs a host"),
    ("mqtt://[::1", "host", "invalid host"),
    ("mqtt://broker:eighty", "port", "invalid port"),
    ("mqtt://broker:70000", "port", "invalid port"),
    ("mqtt://broker:0", "port", "invalid port"),
    ("mqtt://broker:", "port", "needs a port"),
    ("mqtt://broker:1883/topic", "path", "must not have a path"),
    ("mqtt://broker:1883?x=1", "path", "must not have a path"),
])
def test_errors_name_the_bad_part(url: str, part: str, says: str) -> None:
    with pytest.raises(BrokerURLError) as info:
        parse(url)
    assert info.value.part == part
    assert says in info.value.en and info.value.zh
    assert str(info.value).index(info.value.zh) < str(info.value).index(info.value.en)


def test_password_never_in_an_error() -> None:
    with pytest.raises(BrokerURLError) as info:
        parse("mqtt://cloud:s3cret@broker:99999")
    assert "s3cret" not in str(info.value)


def test_a_port_can_be_required() -> None:
    with pytest.raises(BrokerURLError) as info:
        parse("mqtt://broker", require_port=True)
    assert info.value.part == "port"
    assert parse("mqtt://broker:1", require_port=True).port == 1


def test_is_a_value_error_for_callers_that_only_know_that() -> None:
    with pytest.raises(ValueError, match="must start with mqtt:"):
        parse("amqp://broker")


def test_older_spellings_are_read_where_asked() -> None:
    assert parse("tcp://broker", aliases=True) == BrokerURL("broker", 1883)
    assert parse("ssl://broker", aliases=True) == BrokerURL("broker", 8883, tls=True)
