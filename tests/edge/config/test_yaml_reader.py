"""The positioned YAML reader: syntax errors, duplicate keys, ${} expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError
from tests.edge.config.conftest import DATA
from yamlcheck.positions import YMap, YScalar, YSeq, parse_yaml, read_yaml


def _value(tree: YMap, key: str) -> YScalar:
    node = tree.entries[key][1]
    assert isinstance(node, YScalar)
    return node


def test_positions_are_one_based_for_keys_and_values() -> None:
    tree = parse_yaml("a: 1\nlist:\n  - x: hello\n", "f.yaml", env={})
    assert isinstance(tree, YMap)
    key, value = tree.entries["a"]
    assert (key.pos.line, key.pos.col) == (1, 1)
    assert (value.pos.line, value.pos.col) == (1, 4)
    seq = tree.entries["list"][1]
    assert isinstance(seq, YSeq) and isinstance(seq.items[0], YMap)
    assert seq.items[0].entries["x"][1].pos.line == 3
    assert seq.items[0].entries["x"][1].pos.col == 8


def test_syntax_error_reports_line_and_column_from_the_parser() -> None:
    with pytest.raises(ConfigError) as err:
        read_yaml(DATA / "syntax_error.yaml")
    [problem] = err.value.problems
    assert problem.file.endswith("syntax_error.yaml")
    assert (problem.line, problem.col) == (4, 2)  # the mis-indented " cloud:"
    assert "YAML 语法错误" in problem.what and "syntax error" in problem.what


def test_tab_indentation_is_a_positioned_syntax_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("site:\n\tid: x\n", "tabs.yaml", env={})
    assert err.value.problems[0].line == 2


def test_duplicate_key_is_refused_at_the_second_occurrence() -> None:
    text = "site:\n  id: a\n  name: b\n  id: c\n"
    with pytest.raises(ConfigError) as err:
        parse_yaml(text, "dup.yaml", env={})
    [problem] = err.value.problems
    assert (problem.line, problem.col) == (4, 3)
    assert 'duplicate key "id"' in problem.what and "line 2" in problem.what
    assert str(problem).startswith("dup.yaml:4:3: 重复的键")


def test_env_variables_expand_with_and_without_default() -> None:
    text = "url: ${URL}\nport: ${PORT:-1883}\nsecret: '${SECRET:-42}'\nmix: a-${URL}-b\n"
    tree = parse_yaml(text, "env.yaml", env={"URL": "mqtt://h:1"})
    assert isinstance(tree, YMap)
    assert _value(tree, "url").value == "mqtt://h:1"
    assert _value(tree, "port").value == 1883  # plain scalar re-typed as YAML would
    assert _value(tree, "secret").value == "42"  # quoted stays text
    assert _value(tree, "mix").value == "a-mqtt://h:1-b"
    tree = parse_yaml(text, "env.yaml", env={"URL": "x", "PORT": "true", "SECRET": "s"})
    assert isinstance(tree, YMap)
    assert _value(tree, "port").value is True
    assert _value(tree, "secret").value == "s"


def test_unset_variable_without_default_is_an_error_at_its_position() -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("a: 1\nb:\n  password: ${SITE_SECRET}\n", "env.yaml", env={})
    [problem] = err.value.problems
    assert (problem.line, problem.col) == (3, 13)
    assert "SITE_SECRET" in problem.what and "${SITE_SECRET:-" in problem.fix


def test_malformed_variable_is_reported() -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("a: ${1BAD}\n", "env.yaml", env={})
    assert "${1BAD}" in err.value.problems[0].what


def test_empty_file_is_a_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_yaml(path)
    assert "empty" in err.value.problems[0].what
