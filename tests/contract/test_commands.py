"""``down/cmd`` and ``up/cmd-reply``: round trips, expiry, and refusals that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract import ContractError, jsoncodec, topics
from contract.commands import (
    ARGS,
    Command,
    CommandKind,
    CommandReply,
    CommandResult,
    cmd_id_of,
    decode_command,
    decode_reply,
    encode_command,
    encode_reply,
    new_cmd_id,
)

NOW = datetime(2026, 11, 23, 1, 2, 3, 123456, tzinfo=UTC)
CMD_ID = "6f1c2e1a-3b0d-4c8e-9a51-2f7d7c7b9e10"


def _command(**over: object) -> dict[str, object]:
    doc: dict[str, object] = {"cmd_id": CMD_ID, "kind": "gate.open", "args": {"gate": "g1"},
                              "issued_by": "staff:王伟", "not_after": "2026-11-23T01:02:33Z"}
    doc.update(over)
    return doc


#: One valid set of arguments per kind (all of them, the optional ones included).
FULL_ARGS: dict[CommandKind, dict[str, object]] = {
    CommandKind.GATE_OPEN: {"gate": "gate-in-1", "reason": "访客车辆"},
    CommandKind.GATE_CLOSE: {"gate": "gate-in-1"},
    CommandKind.DOOR_OPEN: {"door": "b1.lobby"},
    CommandKind.DOOR_MODE: {"door": "b1.lobby", "mode": "normally_open"},
    CommandKind.LINKAGE_RESET: {"building": "1", "reason": "误报，已现场确认"},
    CommandKind.ELEVATOR_RECALL: {"elevator": "elev-1-a"},
    CommandKind.DATASET_RESYNC: {"dataset": "parking"},
    CommandKind.DEVICE_RECONNECT: {"device": "uitd-1"},
    CommandKind.PATROL_SCAN: {"checkpoint": "cp-gate", "guard": "张保安",
                              "at": "2026-12-07T22:05:00+08:00", "scan": "17"},
}


def test_command_round_trip_for_every_kind() -> None:
    assert set(FULL_ARGS) == set(CommandKind) == set(ARGS)
    for kind in CommandKind:
        cmd = Command(cmd_id=new_cmd_id(), kind=kind, issued_by="staff:42",
                      not_after=NOW + timedelta(seconds=30), args=FULL_ARGS[kind])
        assert decode_command(encode_command(cmd)) == cmd


def test_the_kinds_of_issues_13_and_14_are_all_there() -> None:
    assert {str(k) for k in CommandKind} == {
        "door.open", "door.mode", "gate.open", "gate.close", "linkage.reset",
        "elevator.recall", "dataset.resync", "device.reconnect", "patrol.scan"}


@pytest.mark.parametrize(("kind", "missing"), [
    ("gate.open", "gate"), ("gate.close", "gate"), ("door.open", "door"),
    ("door.mode", "door"), ("door.mode", "mode"), ("elevator.recall", "elevator"),
    ("device.reconnect", "device"), ("dataset.resync", "dataset"),
])
def test_a_required_argument_missing_is_refused_naming_it(kind: str, missing: str) -> None:
    args = dict(FULL_ARGS[CommandKind(kind)])
    del args[missing]
    with pytest.raises(ContractError) as err:
        decode_command(jsoncodec.dumpb(_command(kind=kind, args=args)))
    assert err.value.field == f"cmd.args.{missing}"
    assert err.value.reason == f"required for {kind}"


def test_linkage_reset_needs_no_building_and_reason_is_optional_everywhere() -> None:
    cmd = decode_command(jsoncodec.dumpb(_command(kind="linkage.reset", args={})))
    assert cmd.args == {}


@pytest.mark.parametrize(("kind", "args", "bad"), [
    ("gate.open", {"gate": 7}, "gate"),
    ("gate.open", {"gate": ""}, "gate"),
    ("gate.open", {"gate": "门 1"}, "gate"),
    ("gate.open", {"gate": "g" * 65}, "gate"),
    ("gate.open", {"gate": "g1", "gat": "g2"}, "gat"),
    ("gate.open", {"gate": "g1", "reason": "x" * 201}, "reason"),
    ("gate.open", {"gate": "g1", "reason": 3}, "reason"),
    ("door.mode", {"door": "d1", "mode": "open"}, "mode"),
    ("door.mode", {"door": "d1", "mode": None}, "mode"),
    ("linkage.reset", {"building": ["1"]}, "building"),
    ("device.reconnect", {"device": "uitd-1", "force": "yes"}, "force"),
])
def test_a_bad_argument_is_refused_naming_it(kind: str, args: dict[str, object],
                                             bad: str) -> None:
    with pytest.raises(ContractError) as err:
        decode_command(jsoncodec.dumpb(_command(kind=kind, args=args)))
    assert err.value.field == f"cmd.args.{bad}"


def test_door_mode_takes_the_three_modes() -> None:
    for mode in ("normally_open", "normally_closed", "controlled"):
        cmd = decode_command(jsoncodec.dumpb(
            _command(kind="door.mode", args={"door": "d1", "mode": mode})))
        assert cmd.args["mode"] == mode


def test_reply_round_trip_for_every_result() -> None:
    for result in CommandResult:
        reply = CommandReply(cmd_id=CMD_ID, result=result, at=NOW, detail="道闸已抬起 / opened")
        assert decode_reply(encode_reply(reply)) == reply


def test_a_command_past_not_after_is_expired_and_one_before_is_not() -> None:
    cmd = decode_command(jsoncodec.dumpb(_command()))
    assert cmd.not_after == datetime(2026, 11, 23, 1, 2, 33, tzinfo=UTC)
    assert not cmd.expired(cmd.not_after - timedelta(microseconds=1))
    assert not cmd.expired(cmd.not_after)
    assert cmd.expired(cmd.not_after + timedelta(microseconds=1))


def test_args_default_to_empty_and_the_cmd_id_is_kept_as_sent() -> None:
    doc = _command(cmd_id=CMD_ID.upper(), kind="linkage.reset")
    del doc["args"]
    cmd = decode_command(jsoncodec.dumpb(doc))
    assert cmd.args == {} and cmd.cmd_id == CMD_ID.upper()


@pytest.mark.parametrize("missing", ["cmd_id", "kind", "issued_by", "not_after"])
def test_a_command_missing_a_field_is_refused_naming_it(missing: str) -> None:
    doc = _command()
    del doc[missing]
    with pytest.raises(ContractError) as err:
        decode_command(jsoncodec.dumpb(doc))
    assert err.value.field == f"cmd.{missing}"


@pytest.mark.parametrize(("key", "value"), [
    ("cmd_id", 17), ("cmd_id", "c1"), ("kind", "gate.explode"), ("kind", ["gate.open"]),
    ("args", [1, 2]), ("issued_by", ""), ("issued_by", 42), ("not_after", 1700000000),
    ("not_after", "2026-11-23T01:02:33"), ("not_after", "tomorrow"),
])
def test_a_command_with_a_wrong_type_is_refused_naming_the_field(key: str,
                                                                 value: object) -> None:
    with pytest.raises(ContractError) as err:
        decode_command(jsoncodec.dumpb(_command(**{key: value})))
    assert err.value.field == f"cmd.{key}"


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1]", b"null", b"x" * 70_000])
def test_a_payload_that_is_no_json_object_is_refused(payload: bytes) -> None:
    with pytest.raises(ContractError) as err:
        decode_command(payload)
    assert err.value.field == "cmd"


@pytest.mark.parametrize(("key", "value"), [
    ("cmd_id", None), ("result", "done"), ("detail", 3), ("at", "now"),
])
def test_a_reply_with_a_wrong_field_is_refused_naming_it(key: str, value: object) -> None:
    doc: dict[str, object] = {"cmd_id": CMD_ID, "result": "ok", "detail": "",
                              "at": "2026-11-23T01:02:04Z"}
    doc[key] = value
    with pytest.raises(ContractError) as err:
        decode_reply(jsoncodec.dumpb(doc))
    assert err.value.field == f"reply.{key}"


def test_the_encoders_refuse_what_the_decoders_would() -> None:
    with pytest.raises(ContractError):
        encode_command(Command(cmd_id="not-a-uuid", kind=CommandKind.GATE_OPEN,
                               issued_by="staff:1", not_after=NOW))
    with pytest.raises(ContractError):
        encode_reply(CommandReply(cmd_id=CMD_ID, result=CommandResult.OK, at=NOW,
                                  detail="x" * 2000))


def test_a_refused_command_still_yields_its_cmd_id_when_it_has_one() -> None:
    assert cmd_id_of(jsoncodec.dumpb(_command(kind="gate.explode"))) == CMD_ID
    assert cmd_id_of(b'{"cmd_id": "c1"}') is None
    assert cmd_id_of(b"garbage") is None


def test_command_topics() -> None:
    assert topics.down_cmd("demo") == "courtyard/v1/demo/down/cmd"
    assert topics.up_cmd_reply("demo") == "courtyard/v1/demo/up/cmd-reply"
    assert topics.parse(topics.up_cmd_reply("demo")) == ("demo", "up", "cmd-reply")
