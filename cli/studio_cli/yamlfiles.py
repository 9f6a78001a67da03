"""Reading and writing the YAML files of the configuration and of a project.

Errors name the file (and the line, when the YAML itself is broken), and writes go through a
temporary file that replaces the target, so a failed write never leaves half a file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from studio_cli.errors import CliError, ExitCode


class _Loader(yaml.SafeLoader):
    """SafeLoader without the YAML 1.1 timestamps: Rasa reads dates as text."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_text(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        problem = getattr(exc, "problem", None) or str(exc)
        raise CliError(f"{where}: not valid YAML ({problem}).", ExitCode.REFUSED) from exc


def read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot be read ({exc}).", ExitCode.REFUSED) from exc
    return load_text(text, str(path))


def read_mapping(path: Path) -> dict[str, Any]:
    """A file whose top level must be a mapping (an empty file counts as an empty one)."""
    document = read(path)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise CliError(f"{path}: the file must hold a mapping at its top level.", ExitCode.REFUSED)
    return document


def dump(document: Any) -> str:
    """Block style, keys in the order they were read, Unicode as is."""
    return yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def write_text(path: Path, text: str, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        if private:
            os.chmod(partial, 0o600)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def write(path: Path, document: Any) -> None:
    write_text(path, dump(document))


def write_private(path: Path, document: Any) -> None:
    """Files that hold credentials are readable by their owner only."""
    write_text(path, dump(document), private=True)
