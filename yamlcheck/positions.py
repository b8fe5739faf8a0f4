"""Read YAML keeping the file, line and column of every key and value.

PyYAML's `safe_load` forgets positions and silently keeps the last of two equal keys; an
installer then sees a setting ignored with no hint why. Composing nodes keeps the marks, so
every later check can point at the exact spot. `${NAME}` / `${NAME:-default}` are expanded
here, at the scalar's position, and plain scalars are re-typed as YAML would have typed the
expanded text (so `port: ${PORT:-1883}` is an int).

Checkers that are easier to write over plain dicts and lists (the elevator profiles, the alarm
policy) take ``plain(node)``: the same data ``safe_load`` would give, each mapping and list
still knowing where it and each of its entries stand.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from yamlcheck.problems import ConfigError, Pos, Problem, bi

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(slots=True)
class YScalar:
    value: Any
    text: str  # the scalar as written (after ${} expansion): what a text field keeps
    pos: Pos
    plain: bool  # unquoted, so YAML chose its type from the text


@dataclass(slots=True)
class YMap:
    pos: Pos
    entries: dict[str, tuple[YScalar, YNode]] = field(default_factory=dict)


@dataclass(slots=True)
class YSeq:
    pos: Pos
    items: list[YNode] = field(default_factory=list)


YNode = YScalar | YMap | YSeq


def _pos(file: str, mark: yaml.Mark | None) -> Pos:
    if mark is None:
        return Pos(file, 0, 0)
    return Pos(file, mark.line + 1, mark.column + 1)


def expand_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ${NAME} and ${NAME:-default}; return the text and the names left unset."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _VAR.sub(sub, text), missing


class _Builder:
    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()
        self._resolver = Resolver()
        self._open: set[int] = set()

    def node(self, n: yaml.Node) -> YNode:
        pos = _pos(self.file, n.start_mark)
        if id(n) in self._open:  # an alias inside its own anchor (`a: &x [*x]`) never ends
            self.problems.append(Problem.at(
                pos, bi("别名引用了自身", "an alias refers to itself"),
                bi("去掉这个 * 别名，直接写出内容", "write the content out instead")))
            return YScalar(None, "", pos, False)
        self._open.add(id(n))
        try:
            if isinstance(n, yaml.MappingNode):
                return self._mapping(n, pos)
            if isinstance(n, yaml.SequenceNode):
                return YSeq(pos, [self.node(item) for item in n.value])
            assert isinstance(n, yaml.ScalarNode)
            return self._scalar(n, pos)
        finally:
            self._open.discard(id(n))

    def _mapping(self, n: yaml.MappingNode, pos: Pos) -> YMap:
        out = YMap(pos)
        for knode, vnode in n.value:
            kpos = _pos(self.file, knode.start_mark)
            if not isinstance(knode, yaml.ScalarNode):
                self.problems.append(Problem.at(
                    kpos, bi("键必须是简单文本", "a key must be plain text"),
                    bi("把它改成一个名称", "replace it with a name")))
                continue
            key = YScalar(knode.value, knode.value, kpos, knode.style is None)
            if knode.value in out.entries:
                first = out.entries[knode.value][0].pos
                self.problems.append(Problem.at(
                    kpos, bi(f'重复的键 "{knode.value}"（第 {first.line} 行已有）',
                             f'duplicate key "{knode.value}" (already at line {first.line})'),
                    bi("删除其中一个；YAML 只会保留最后一个",
                       "remove one; YAML would keep only the last")))
                continue
            out.entries[knode.value] = (key, self.node(vnode))
        return out

    def _scalar(self, n: yaml.ScalarNode, pos: Pos) -> YScalar:
        text, plain, tag = n.value, n.style is None, n.tag
        if "${" in text:
            text, missing = expand_env(text, self.env)
            for name in missing:
                self.problems.append(Problem.at(
                    pos, bi(f"环境变量 {name} 未设置", f"environment variable {name} is not set"),
                    bi(f"设置 {name}，或写成 ${{{name}:-默认值}}",
                       f"set {name}, or write ${{{name}:-default}}")))
            if "${" in text:
                self.problems.append(Problem.at(
                    pos, bi(f'无法识别的变量写法 "{n.value}"',
                            f'unreadable variable in "{n.value}"'),
                    bi("写成 ${NAME} 或 ${NAME:-默认值}", "write ${NAME} or ${NAME:-default}")))
            if plain:
                tag = self._resolver.resolve(yaml.ScalarNode, text, (True, False))
        try:
            value = self._constructor.construct_object(yaml.ScalarNode(tag, text, style=n.style))
        except yaml.YAMLError as exc:
            self.problems.append(Problem.at(
                pos, bi(f"无法读取的值 {text!r}", f"unreadable value {text!r}"),
                str(getattr(exc, "problem", exc))))
            value = text
        return YScalar(value, text, pos, plain)


_EMPTY_FIX = bi("参照示例文件填写", "start from the commented example")


def parse_yaml(text: str, file: str, env: Mapping[str, str] | None = None, *,
               allow_empty: bool = False, empty_fix: str = _EMPTY_FIX) -> YNode:
    """Parse one YAML document into positioned nodes; raise ConfigError with all problems.

    An empty document is a problem (``empty_fix`` says where to start), unless
    ``allow_empty``: then it reads as an empty mapping (a file of overrides that overrides
    nothing)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = (exc.problem or "syntax error").strip()
        raise ConfigError([Problem.at(
            _pos(file, mark), bi(f"YAML 语法错误：{what}", f"YAML syntax error: {what}"),
            bi("检查这一行及上一行的缩进、冒号和引号（不能用 Tab 缩进）",
               "check indentation, colons and quotes on this line and the one above (no tabs)"))]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file, 0, 0, bi("YAML 错误", "YAML error"), str(exc))]) from None
    if root is None:
        if allow_empty:
            return YMap(Pos(file, 1, 1))
        raise ConfigError([Problem(file, 0, 0, bi("文件是空的", "the file is empty"), empty_fix)])
    builder = _Builder(file, os.environ if env is None else env)
    tree = builder.node(root)
    if builder.problems:
        raise ConfigError(builder.problems)
    return tree


def read_yaml(path: Path, env: Mapping[str, str] | None = None, *, allow_empty: bool = False,
              empty_fix: str = _EMPTY_FIX) -> YNode:
    """Read and parse a YAML file; a missing or unreadable file is one clear problem."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(file, 0, 0, bi("文件不存在", "file not found"),
                                   bi("检查路径是否正确", "check the path"))]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(
            file, line, 1, bi("文件不是 UTF-8 编码", "the file is not UTF-8"),
            bi("用 UTF-8 编码重新保存", "save it again as UTF-8"))]) from None
    except OSError as exc:
        raise ConfigError([Problem(file, 0, 0, bi("无法读取文件", "cannot read the file"),
                                   exc.strerror or str(exc))]) from None
    return parse_yaml(text, file, env, allow_empty=allow_empty, empty_fix=empty_fix)


class PMap(dict[Any, Any]):
    """A plain mapping that remembers where it stands and where each of its keys does."""

    pos: Pos
    key_pos: dict[Any, Pos]

    def pos_of(self, key: Any) -> Pos:
        """Where ``key`` is written, or the mapping itself when the key is absent."""
        return self.key_pos.get(key, self.pos)


class PSeq(list[Any]):
    """A plain list that remembers where it stands and where each item does."""

    pos: Pos
    item_pos: list[Pos]


_KEY_RESOLVER = Resolver()
_KEY_CONSTRUCTOR = SafeConstructor()


def _key(key: YScalar) -> Any:
    """The key as ``safe_load`` would type it (``1: up`` has the int key 1)."""
    if not key.plain:
        return key.text
    tag = _KEY_RESOLVER.resolve(yaml.ScalarNode, key.text, (True, False))
    try:
        return _KEY_CONSTRUCTOR.construct_object(yaml.ScalarNode(tag, key.text))
    except yaml.YAMLError:
        return key.text


def plain(node: YNode) -> Any:
    """The data ``safe_load`` would return, with ``PMap`` / ``PSeq`` keeping positions."""
    if isinstance(node, YMap):
        out = PMap()
        out.pos, out.key_pos = node.pos, {}
        for key, value in node.entries.values():
            k = _key(key)
            out[k] = plain(value)
            out.key_pos[k] = key.pos
        return out
    if isinstance(node, YSeq):
        seq = PSeq(plain(item) for item in node.items)
        seq.pos, seq.item_pos = node.pos, [item.pos for item in node.items]
        return seq
    return node.value


def where_is(data: Any, root: str, path: str) -> Pos | None:
    """Where a checker's dotted path (``root.rules.fire.alarm.severity``, ``root.chain[0]``)
    is written in ``plain`` data: the deepest key or item it names, found by walking down.

    For checkers written over plain dicts that name what they refuse by path; keys may hold
    dots themselves (``fire.alarm``), so each step tries the keys actually present.
    """
    if path != root and not path.startswith(root):
        return None
    rest = path[len(root):]
    node, found = data, getattr(data, "pos", None)
    while rest:
        step: tuple[Any, Pos, str] | None = None
        if isinstance(node, PMap) and rest.startswith("."):
            for key in node:
                text = f".{key}"
                if rest == text or rest.startswith((f"{text}.", f"{text}[")):
                    if step is None or len(text) > len(step[2]):
                        step = (node[key], node.pos_of(key), text)
        elif isinstance(node, PSeq) and rest.startswith("["):
            index, _, _ = rest[1:].partition("]")
            if index.isdigit() and int(index) < len(node):
                i = int(index)
                step = (node[i], node.item_pos[i], f"[{index}]")
        if step is None:
            break
        node, found, taken = step
        rest = rest[len(taken):]
    return found
