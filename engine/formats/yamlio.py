"""Safe YAML reading with line numbers, and deterministic YAML writing.

Reading composes the YAML node graph with ruamel.yaml (no object construction at all) and builds
plain Python values from it ourselves, so that:

* only the standard YAML 1.2 core tags are accepted (an ``!!python/...`` or any custom tag is an
  error, never a constructor call);
* duplicate mapping keys are an error with the line of the second occurrence;
* an alias bomb ("billion laughs") stops at `MAX_YAML_NODES` expanded nodes;
* every mapping key and sequence item gets its 1-based line, stored by key path
  (``flows.transfer.steps[2]``), which is how problems find their lines later.

`load_yaml` with ``fast=True`` composes with libyaml (PyYAML's C parser) instead, resolving
plain scalars with ruamel's own YAML 1.2 rules, for large machine-written files such as
hundreds of stories; a document libyaml rejects, or one it could read differently (a ``%YAML``
directive, Unicode line separators), goes through ruamel.yaml as always, so errors and values
are the same either way.

Writing uses ruamel.yaml's round-trip emitter on plain dicts and lists, in the indentation Rasa
itself writes (``mapping=2, sequence=4, offset=2``), with multi-line strings in ``|`` block style.
"""

from __future__ import annotations

import collections
import hashlib
import io
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import implicit_resolvers as _RUAMEL_RESOLVERS
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from engine.formats.errors import FormatError, Problem, join_path

#: Largest accepted file, in bytes.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Largest accepted project (all files together), in bytes.
MAX_PROJECT_BYTES = 50 * 1024 * 1024
#: Most YAML nodes one document may expand to (aliases counted every time they are used).
MAX_YAML_NODES = 1_000_000

_TAG = "tag:yaml.org,2002:"
_INT_RE = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
#: What libyaml (YAML 1.1) could read otherwise than ruamel's YAML 1.2 reader.
_NOT_FOR_LIBYAML = ("%YAML", "\x85", "\u2028", "\u2029")

try:  # PyYAML built with libyaml
    import yaml as _pyyaml
    from yaml._yaml import CParser as _CParser
    from yaml.resolver import BaseResolver as _BaseResolver

    class _LibyamlComposer(_CParser, _BaseResolver):
        """libyaml's composer, with YAML 1.2's implicit tags (ruamel's table)."""

        yaml_implicit_resolvers: dict[Any, Any] = {}

    for _versions, _tag, _regexp, _first in _RUAMEL_RESOLVERS:
        if (1, 2) in _versions:
            _LibyamlComposer.add_implicit_resolver(_tag, _regexp, _first)
    _FAST_NODES: tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]] = (
        (ScalarNode, _pyyaml.ScalarNode),
        (SequenceNode, _pyyaml.SequenceNode),
        (MappingNode, _pyyaml.MappingNode),
    )
except ImportError:  # pragma: no cover - PyYAML without libyaml: ruamel.yaml only
    _LibyamlComposer = None  # type: ignore[assignment,misc]
    _FAST_NODES = ((ScalarNode,), (SequenceNode,), (MappingNode,))
_SCALAR_NODES, _SEQUENCE_NODES, _MAPPING_NODES = _FAST_NODES


@dataclass
class YamlDocument:
    """A parsed YAML file: its plain value plus the line of every key path in it."""

    file: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)


def decode_text(raw: bytes | str, file: str) -> str:
    """Decode file content as UTF-8 (a leading BOM is dropped), enforcing `MAX_FILE_BYTES`.

    Raises `FormatError` naming the line and byte offset of the first invalid byte.
    """
    if isinstance(raw, str):
        size = len(raw.encode("utf-8", errors="surrogatepass"))
        text = raw
    else:
        size = len(raw)
        text = None
    if size > MAX_FILE_BYTES:
        raise FormatError(
            [
                Problem(
                    file,
                    None,
                    "",
                    f"file is {size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes",
                )
            ]
        )
    if text is None:
        assert isinstance(raw, bytes)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise FormatError(
                [
                    Problem(
                        file,
                        line,
                        "",
                        f"file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset "
                        f"{exc.start} (line {line}); save the file as UTF-8",
                    )
                ]
            ) from None
    return text.removeprefix("\ufeff")


def _yaml_problem(file: str, exc: YAMLError) -> Problem:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "; ".join(parts) or str(exc)
        if "\\t" in message or "'\\t'" in message:
            message += " (YAML does not allow tab characters for indentation; use spaces)"
        return Problem(file, line, "", f"YAML syntax error: {message}")
    return Problem(file, None, "", f"YAML syntax error: {exc}")


def _compose_with_libyaml(text: str) -> tuple[bool, Any]:
    """``(True, the node graph)`` as libyaml composes it, or ``(False, None)`` when ruamel.yaml
    is to read the text."""
    if _LibyamlComposer is None or any(marker in text for marker in _NOT_FOR_LIBYAML):
        return False, None
    composer = _LibyamlComposer(text)
    try:
        return True, composer.get_single_node()
    except Exception:  # any complaint: ruamel.yaml reads it and words the error
        return False, None
    finally:
        composer.dispose()


def load_yaml(raw: bytes | str, file: str, *, fast: bool = False) -> YamlDocument:
    """Parse one YAML document safely. Raises `FormatError` on any problem.

    An empty file gives ``data=None``. `fast`: compose with libyaml when it can (see the
    module docstring); the result is the same.
    """
    text = decode_text(raw, file)
    composed, node = _compose_with_libyaml(text) if fast else (False, None)
    if not composed:
        node = _compose(text, file)
    doc = YamlDocument(file=file, data=None)
    if node is None:
        return doc
    doc.lines[""] = node.start_mark.line + 1
    builder = _Builder(file, doc.lines)
    try:
        doc.data = builder.build(node, "", ())
    except RecursionError:
        raise FormatError([Problem(file, None, "", "YAML document is nested too deeply")]) from None
    if builder.problems:
        raise FormatError(builder.problems)
    return doc


def _compose(text: str, file: str) -> Any:
    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.compose(io.StringIO(text))
    except YAMLError as exc:
        raise FormatError([_yaml_problem(file, exc)]) from None
    except RecursionError:
        raise FormatError([Problem(file, None, "", "YAML document is nested too deeply")]) from None


class _Abort(Exception):
    pass


class _Builder:
    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.count = 0
        self.problems: list[Problem] = []

    def fail(self, node: Node, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, path, message))

    def build(self, node: Node, path: str, stack: tuple[int, ...]) -> Any:
        try:
            return self._build(node, path, stack)
        except _Abort:
            return None

    def _build(self, node: Node, path: str, stack: tuple[int, ...]) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            self.problems.append(
                Problem(
                    self.file,
                    None,
                    "",
                    f"YAML document expands to more than {MAX_YAML_NODES} nodes "
                    "(too many aliases, e.g. a 'billion laughs' document)",
                )
            )
            raise _Abort
        if id(node) in stack:
            self.fail(node, path, "recursive YAML alias")
            raise _Abort
        if isinstance(node, _SCALAR_NODES):
            return self._scalar(node, path)
        if isinstance(node, _SEQUENCE_NODES):
            if node.tag != _TAG + "seq":
                self.fail(node, path, f"unsupported YAML tag {node.tag!r}")
                raise _Abort
            items = []
            for index, child in enumerate(node.value):
                child_path = join_path(path, index)
                self.lines.setdefault(child_path, child.start_mark.line + 1)
                items.append(self._build(child, child_path, (*stack, id(node))))
            return items
        if isinstance(node, _MAPPING_NODES):
            if node.tag not in (_TAG + "map", _TAG + "omap"):
                self.fail(node, path, f"unsupported YAML tag {node.tag!r}")
                raise _Abort
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _TAG + "merge":
                    merged = self._build(value_node, path, (*stack, id(node)))
                    sources = merged if isinstance(merged, list) else [merged]
                    for source in sources:
                        if not isinstance(source, dict):
                            self.fail(value_node, path, "a YAML merge key needs a mapping")
                            raise _Abort
                        for k, v in source.items():
                            result.setdefault(k, v)
                    continue
                key = self._build(key_node, path, (*stack, id(node)))
                if isinstance(key, (list, dict)):
                    self.fail(key_node, path, "a mapping key must be a plain value")
                    raise _Abort
                if key is None:
                    key = "null"
                key_text = key if isinstance(key, str) else str(key)
                child_path = join_path(path, key_text)
                if key in result:
                    self.fail(
                        key_node,
                        child_path,
                        f"duplicate key {key_text!r} (first defined on line "
                        f"{self.lines.get(child_path, '?')})",
                    )
                    continue
                self.lines[child_path] = key_node.start_mark.line + 1
                result[key] = self._build(value_node, child_path, (*stack, id(node)))
            return result
        self.fail(node, path, "unsupported YAML node")
        raise _Abort

    def _scalar(self, node: Any, path: str) -> Any:
        tag, value = node.tag, node.value
        if tag == _TAG + "str" or tag == _TAG + "timestamp":
            return value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return value.lower() in ("true", "yes", "on")
        if tag == _TAG + "int":
            text = value.replace("_", "")
            sign = -1 if text.startswith("-") else 1
            body = text.lstrip("+-")
            if body.startswith(("0x", "0X")):
                return sign * int(body[2:], 16)
            if body.startswith(("0o", "0O")):
                return sign * int(body[2:], 8)
            if body.startswith(("0b", "0B")):
                return sign * int(body[2:], 2)
            return int(text)
        if tag == _TAG + "float":
            text = value.replace("_", "").lower()
            if text in (".inf", "+.inf"):
                return math.inf
            if text == "-.inf":
                return -math.inf
            if text == ".nan":
                return math.nan
            return float(text)
        self.fail(node, path, f"unsupported YAML tag {tag!r}; only plain YAML values are allowed")
        raise _Abort


# --------------------------------------------------------------------------------------------
# Writing


# Strings that YAML 1.1 readers would take for booleans or null; quoted for portability even
# though the YAML 1.2 reader Rasa uses treats them as strings.
_AMBIGUOUS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ""}


class _Representer(RoundTripRepresenter):
    pass


def _represent_str(representer: RoundTripRepresenter, data: str) -> Any:
    if "\n" in data and not isinstance(data, LiteralScalarString) and _literal_ok(data):
        return representer.represent_scalar(_TAG + "str", data, style="|")
    if data.lower() in _AMBIGUOUS or any(
        ch in "\x85\u2028\u2029" or not (ch.isprintable() or ch == "\n") for ch in data
    ):
        # Unicode line separators would be read back as line breaks in plain or single-quoted
        # style; double quotes escape them.
        return representer.represent_scalar(_TAG + "str", data, style='"')
    return representer.represent_str(data)


def _literal_ok(text: str) -> bool:
    # Block scalars cannot hold trailing spaces on lines faithfully or some control characters.
    lines = text.split("\n")
    return all(not line.endswith((" ", "\t")) for line in lines) and all(
        line.isprintable() for line in lines
    )


def _represent_none(representer: RoundTripRepresenter, data: None) -> Any:
    return representer.represent_scalar(_TAG + "null", "null")


_Representer.add_representer(str, _represent_str)
_Representer.add_representer(type(None), _represent_none)
_Representer.add_representer(
    LiteralScalarString, RoundTripRepresenter.represent_literal_scalarstring
)
_Representer.add_representer(
    DoubleQuotedScalarString, RoundTripRepresenter.represent_double_quoted_scalarstring
)


def _new_dumper() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Representer = _Representer
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.allow_unicode = True
    yaml.default_flow_style = False
    return yaml


#: How many recent documents `dump_yaml` remembers the text of.
DUMP_MEMORY = 16
_dumped: collections.OrderedDict[str, str] = collections.OrderedDict()
_dumped_lock = threading.Lock()


def dump_yaml(data: Any) -> str:
    """Serialise plain data (dicts keep their order) to YAML text, deterministically.

    The emitter is slow, and a project is dumped again after every edit with most of its
    documents unchanged (an edited response changes the domain, not the flows or the NLU data):
    the text of the last few documents is remembered by a digest of exactly what the text
    depends on (every value and its type, keys in order), so an unchanged document gives the
    same text without emitting it again."""
    key = _dump_key(data)
    if key is not None:
        with _dumped_lock:
            text = _dumped.get(key)
            if text is not None:
                _dumped.move_to_end(key)
                return text
    stream = io.StringIO()
    _new_dumper().dump(data, stream)
    text = stream.getvalue()
    if key is not None:
        with _dumped_lock:
            _dumped[key] = text
            while len(_dumped) > DUMP_MEMORY:
                _dumped.popitem(last=False)
    return text


class _NotRemembered(Exception):
    """A list or dict appears twice (the emitter writes an anchor and an alias), or a value
    of another kind than plain data: not remembered, as the text may depend on more than
    the values."""


_REMEMBERED_SCALARS = (str, bool, int, float, type(None))


def _dump_key(data: Any) -> str | None:
    seen: set[int] = set()
    digest = hashlib.sha256()

    def walk(value: Any) -> None:
        kind = type(value)
        if kind is dict or kind is list or isinstance(value, (dict, list)):
            if id(value) in seen:
                raise _NotRemembered
            seen.add(id(value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            digest.update(f"{kind.__module__}.{kind.__qualname__}({len(value)}".encode())
            for index, item in items:
                if isinstance(value, dict):
                    walk(index)
                walk(item)
            digest.update(b")")
            return
        if not isinstance(value, _REMEMBERED_SCALARS):
            raise _NotRemembered
        text = value if isinstance(value, str) else repr(value)
        digest.update(f"{kind.__module__}.{kind.__qualname__}:{len(text)}:".encode())
        digest.update(text.encode("utf-8", "surrogatepass"))

    try:
        walk(data)
    except (_NotRemembered, RecursionError):
        return None
    return digest.hexdigest()


def double_quoted(text: str) -> DoubleQuotedScalarString:
    """Mark a string to be written in double quotes (as Rasa writes ``version: "3.1"``)."""
    return cast(DoubleQuotedScalarString, DoubleQuotedScalarString(text))


def literal(text: str) -> LiteralScalarString:
    """Mark a string to be written in ``|`` block style."""
    return cast(LiteralScalarString, LiteralScalarString(text))
