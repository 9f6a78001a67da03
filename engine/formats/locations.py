"""Where a project's files are, as ``rasa train`` is told: ``--config``, ``--domain``, ``--data``
and ``--endpoints``.

Rasa reads ``config.yml``, ``domain.yml`` (or the ``domain/`` folder), ``data/`` and
``endpoints.yml`` unless it is told otherwise. A project that keeps them elsewhere (its config in
``config/assistant.yml``, its domain in ``bot/domain/``, its data in two folders) names them on
the command line. These functions read the named locations and map them into the layout the rest
of `engine.formats` expects:

==================  =============================================================
``config``          the named file becomes ``config.yml``
``endpoints``       the named file becomes ``endpoints.yml``
``domain``          a file becomes ``domain.yml``; a folder's files ``domain/<rel>``
                    (their names kept)
``data``            each named file or folder goes under ``data/``: a path inside the
                    project keeps its path (less a leading ``data/``), one outside it
                    goes to ``data/<its name>/...``
==================  =============================================================

Every other file of the project root (prompts, credentials.yml, docs/...) is kept as it is.
What a named location replaces is left out, as Rasa does not read it either: the root
``config.yml`` when ``config`` names another file, ``domain.yml`` and ``domain/`` when
``domain`` is given, the rest of ``data/`` when ``data`` is given. `Located.left_out` lists
those files with the reason. A location that does not exist is a `FormatError` naming the
option and the path.

`collect_project_files` reads from disk (paths relative to the root, or absolute);
`locate_files` applies the same options to files already read, such as an uploaded zip
(paths inside it only).
"""

from __future__ import annotations

import argparse
import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.formats.errors import FormatError, Problem
from engine.formats.project import FolderFiles, file_count, read_project_folder

__all__ = [
    "CLI_OPTION_NAMES",
    "LOCATION_OPTIONS",
    "Located",
    "collect_project",
    "collect_project_files",
    "locate_files",
]

#: The options, in the order they are applied.
LOCATION_OPTIONS = ("config", "endpoints", "domain", "data")

#: How each option is called on a command line (an API names them by field instead).
CLI_OPTION_NAMES: Mapping[str, str] = {name: f"--{name}" for name in LOCATION_OPTIONS}

#: The canonical paths each option stands in for.
_DEFAULT_FILES = {
    "config": ("config.yml", "config.yaml"),
    "endpoints": ("endpoints.yml", "endpoints.yaml"),
    "domain": ("domain.yml", "domain.yaml"),
    "data": (),
}
_DEFAULT_DIRS = {"config": (), "endpoints": (), "domain": ("domain",), "data": ("data",)}


@dataclass
class Located:
    """The project's files in the canonical layout, and what the locations left out."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: Files of the project that are not used with these locations, each with the reason.
    left_out: dict[str, str] = field(default_factory=dict)

    def left_out_warning(self) -> Problem | None:
        """One warning naming every file left out, or None."""
        if not self.left_out:
            return None
        listed = "; ".join(f"{path} ({why})" for path, why in sorted(self.left_out.items()))
        message = f"{file_count(len(self.left_out))} not used with the locations given: {listed}"
        return Problem(None, None, "", message, "warning")


@dataclass
class _Location:
    option: str
    given: str
    #: The project-relative POSIX path when the location is inside the project, else None.
    inside: str | None
    is_dir: bool
    #: The location's files, by path relative to it (a file: its own name).
    files: dict[str, bytes]


def _wanted(
    config: str | os.PathLike[str] | None,
    domain: str | os.PathLike[str] | None,
    data: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None,
    endpoints: str | os.PathLike[str] | None,
) -> list[tuple[str, str]]:
    """(option, path) for every location given, in `LOCATION_OPTIONS` order."""
    wanted: list[tuple[str, str]] = []
    for option, value in (("config", config), ("endpoints", endpoints), ("domain", domain)):
        if value is not None and str(value) != "":
            wanted.append((option, os.fspath(value)))
    if data is not None:
        paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
        wanted.extend(("data", os.fspath(path)) for path in paths if str(path) != "")
    return wanted


def _problem(names: Mapping[str, str], option: str, given: str, message: str) -> Problem:
    """An error about one location: `file` is the path given, `path` the option's name
    (shown as ``config/bot.yml (--config): no such file or folder``)."""
    return Problem(given, None, names.get(option, option), message)


# ------------------------------------------------------------------------------------------
# Reading from disk


def collect_project_files(
    root: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    domain: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
    endpoints: str | os.PathLike[str] | None = None,
) -> dict[str, bytes]:
    """The files of the project in `root`, with the named locations in the canonical layout.

    Locations are relative to `root` or absolute. Raises `FormatError` when one does not exist.
    """
    return collect_project(root, config=config, domain=domain, data=data, endpoints=endpoints).files


def collect_project(
    root: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    domain: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
    endpoints: str | os.PathLike[str] | None = None,
    names: Mapping[str, str] = CLI_OPTION_NAMES,
) -> Located:
    """`collect_project_files`, with the files the locations leave out."""
    base = Path(root)
    if not base.is_dir():
        raise FormatError([Problem(str(base), None, "", "no such project folder")])
    files = read_project_folder(base)
    problems: list[Problem] = []
    locations: list[_Location] = []
    for option, given in _wanted(config, domain, data, endpoints):
        try:
            locations.append(_disk_location(base, option, given, names))
        except FormatError as exc:
            problems.extend(exc.problems)
    if problems:
        raise FormatError(problems)
    located = _relocate(files, locations, names)
    # What the folder reader did not read is reported by `load_project_files`, as without
    # locations.
    kept = FolderFiles()
    kept.update(located.files)
    kept.skipped.update(files.skipped)
    located.files = kept
    return located


def _disk_location(root: Path, option: str, given: str, names: Mapping[str, str]) -> _Location:
    target = Path(given)
    if not target.is_absolute():
        target = root / target
    if not target.exists():
        raise FormatError([_problem(names, option, given, "no such file or folder")])
    inside = _inside(root, target)
    if target.is_dir():
        # Read whole, even a folder the project reader skips (a hidden folder named here);
        # its links may lead anywhere inside the project.
        files = read_project_folder(target, within=root if inside is not None else target)
        return _Location(option, given, inside, True, dict(files))
    return _Location(option, given, inside, False, {target.name: target.read_bytes()})


def _inside(root: Path, target: Path) -> str | None:
    """`target` relative to `root` (POSIX, ``.`` for the root itself), or None when outside.

    The path as written counts first (``conf/bot.yml`` through a link ``conf`` stays
    ``conf/bot.yml``); then where it leads."""
    for candidate, base in (
        (Path(os.path.abspath(target)), Path(os.path.abspath(root))),
        (target.resolve(), root.resolve()),
    ):
        try:
            rel = candidate.relative_to(base)
        except ValueError:
            continue
        return rel.as_posix() if rel.parts else "."
    return None


# ------------------------------------------------------------------------------------------
# Files already read (an upload)


def locate_files(
    files: Mapping[str, bytes],
    *,
    config: str | None = None,
    domain: str | None = None,
    data: str | Iterable[str] | None = None,
    endpoints: str | None = None,
    names: Mapping[str, str] = CLI_OPTION_NAMES,
) -> Located:
    """`files` (by project-relative path) with the named locations in the canonical layout.

    The locations are paths inside `files`; one that is absolute, leaves the project or names
    nothing in it is a `FormatError` naming the option (as `names` calls it) and the path.
    """
    problems: list[Problem] = []
    locations: list[_Location] = []
    for option, given in _wanted(config, domain, data, endpoints):
        try:
            locations.append(_file_location(files, option, given, names))
        except FormatError as exc:
            problems.extend(exc.problems)
    if problems:
        raise FormatError(problems)
    return _relocate(dict(files), locations, names)


def _file_location(
    files: Mapping[str, bytes], option: str, given: str, names: Mapping[str, str]
) -> _Location:
    raw = given.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise FormatError(
            [_problem(names, option, given, "give a path inside the project, not an absolute one")]
        )
    norm = posixpath.normpath(raw)
    if norm == ".." or norm.startswith("../"):
        raise FormatError([_problem(names, option, given, "the path leaves the project")])
    if norm in files:
        return _Location(option, given, norm, False, {posixpath.basename(norm): files[norm]})
    prefix = "" if norm == "." else f"{norm}/"
    inner = {p.removeprefix(prefix): c for p, c in files.items() if p.startswith(prefix)}
    if not inner:
        raise FormatError([_problem(names, option, given, "no such file or folder")])
    return _Location(option, given, norm, True, inner)


# ------------------------------------------------------------------------------------------
# Mapping into the canonical layout


def _relocate(
    files: dict[str, bytes], locations: list[_Location], names: Mapping[str, str]
) -> Located:
    problems: list[Problem] = []
    targets: dict[str, tuple[str, bytes]] = {}  # canonical path -> (where from, content)
    for location in locations:
        try:
            placed = _targets(location, names)
        except FormatError as exc:
            problems.extend(exc.problems)
            continue
        for path, (source, content) in placed.items():
            if path in targets and targets[path][0] != source:
                problems.append(
                    _problem(
                        names,
                        location.option,
                        location.given,
                        f"{source} and {targets[path][0]} would both become {path}",
                    )
                )
            targets[path] = (source, content)
    if problems:
        raise FormatError(problems)

    kept = dict(files)
    for location in locations:
        for source in _sources(location):
            kept.pop(source, None)
    given: dict[str, list[str]] = {}
    for location in locations:
        given.setdefault(location.option, []).append(location.given)
    left_out: dict[str, str] = {}
    for location in locations:
        for path in _replaced(kept, location):
            named = ", ".join(given[location.option])
            left_out[path] = f"not used: {names.get(location.option)} names {named}"
            kept.pop(path)
    kept.update({path: content for path, (_source, content) in targets.items()})
    return Located(dict(sorted(kept.items())), left_out)


def _sources(location: _Location) -> list[str]:
    """The project paths a location inside the project moves (none for one outside)."""
    if location.inside is None or _is_whole_project(location):
        return []
    if not location.is_dir:
        return [location.inside]
    return [f"{location.inside}/{rel}" for rel in location.files]


def _is_whole_project(location: _Location) -> bool:
    return location.inside == "." and location.option == "data"


def _replaced(kept: Mapping[str, bytes], location: _Location) -> list[str]:
    """The files of the project a location stands in for (Rasa reads the location instead)."""
    if _is_whole_project(location):
        return []
    dirs = tuple(f"{d}/" for d in _DEFAULT_DIRS[location.option])
    return [
        path
        for path in kept
        if path in _DEFAULT_FILES[location.option] or path.startswith(dirs or ("\0",))
    ]


def _targets(location: _Location, names: Mapping[str, str]) -> dict[str, tuple[str, bytes]]:
    """Canonical path -> (where it comes from, content) for one location."""
    option, given = location.option, location.given
    if option in ("config", "endpoints"):
        if location.is_dir:
            raise FormatError([_problem(names, option, given, "name a file, not a folder")])
        (content,) = location.files.values()
        return {f"{option}.yml": (given, content)}
    if option == "domain":
        if location.inside == ".":
            raise FormatError(
                [
                    _problem(
                        names,
                        option,
                        given,
                        "name the domain file or folder, not the project folder itself",
                    )
                ]
            )
        if not location.is_dir:
            (content,) = location.files.values()
            return {"domain.yml": (given, content)}
        return {f"domain/{rel}": (_join(given, rel), c) for rel, c in location.files.items()}
    return _data_targets(location)


def _data_targets(location: _Location) -> dict[str, tuple[str, bytes]]:
    if _is_whole_project(location):
        return {}
    if location.inside is not None:
        base = location.inside
        if base == "data" or base.startswith("data/"):
            base = base[len("data") :].lstrip("/")
    else:
        base = Path(location.given).name
    if not location.is_dir:
        folder = posixpath.dirname(base)
        (name,) = location.files
        return {posixpath.join("data", folder, name): (location.given, location.files[name])}
    return {
        posixpath.join("data", base, rel): (_join(location.given, rel), content)
        for rel, content in location.files.items()
    }


def _join(base: str, rel: str) -> str:
    return posixpath.join(base.replace("\\", "/"), rel)


def add_location_arguments(parser: argparse.ArgumentParser, root_name: str) -> None:
    """``--config``, ``--domain``, ``--data`` and ``--endpoints``, as ``rasa train`` takes them,
    on a command whose project folder argument is `root_name`."""
    where = parser.add_argument_group(
        f"where the project's files are (paths relative to {root_name}, or absolute)"
    )
    where.add_argument("--config", help="the config file (default: config.yml)")
    where.add_argument(
        "--domain", help="the domain file or folder (default: domain.yml or domain/)"
    )
    where.add_argument(
        "--data", nargs="+", help="files or folders holding the training data (default: data/)"
    )
    where.add_argument("--endpoints", help="the endpoints file (default: endpoints.yml)")
