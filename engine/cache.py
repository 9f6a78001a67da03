"""The component cache: train only what changed.

Every trained component (the NLU intent classifier, the entity extractor, the response
selectors, the flow retrieval index, the classic policies) is stored under
``<cache>/<component>/<key>/`` where the key is a SHA-256 over a canonical JSON serialisation of
exactly the inputs the component reads (the data it learns from, its config) together with the
source code of the modules that train it, so a code change invalidates the entries it affects.

An entry holds the files the component persists plus ``manifest.json`` (each file's size and
SHA-256, the lines the training logged). It is written into a temporary directory next to the
final one and renamed into place, so a reader never sees half an entry and two trainings writing
the same key at once leave one complete entry. An entry whose files do not match its manifest, or
that fails to load, is removed and the component trained again.

`train_ahead` trains a component that a later step needs in a forked process while the caller
goes on with another (an NLU edit retrains the intent classifier, the entity extractor and the
flow retrieval index, which learn from the same examples but not from each other): on a machine
with a core to spare they train side by side, and `fetch_or_train` then takes the entry the
process stored. A process that fails leaves no entry, and the component is trained in line.

`prune` bounds the cache by age (entries not used for so many days) and size (oldest use first).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

__all__ = [
    "CACHE_FORMAT_VERSION",
    "ComponentCache",
    "Outcome",
    "Parts",
    "build_component",
    "canonical_key",
    "code_version",
    "prune",
    "train_ahead",
]

#: Bumped when the layout of an entry changes.
CACHE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-"

T = TypeVar("T")
Report = Callable[[str], None]
#: What `train_ahead` and `build_component` take after the cache: the component, its inputs,
#: the modules of its code, how to train it and how to persist it.
Parts = tuple[str, Any, Iterable[str], Callable[[Report], Any], Callable[[Any, Path], None]]

_ENGINE_ROOT = Path(__file__).resolve().parent


def code_version(modules: Iterable[str]) -> str:
    """SHA-256 of the source files of `modules` (dotted names under ``engine``)."""
    digest = hashlib.sha256()
    for module in sorted(set(modules)):
        parts = module.split(".")
        if parts[0] != "engine":
            raise ValueError(f"{module}: not a module of the engine")
        path = _ENGINE_ROOT.joinpath(*parts[1:]).with_suffix(".py")
        digest.update(module.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def canonical_key(component: str, inputs: Any, code: str) -> str:
    """The cache key of `component` trained on `inputs` by code of version `code`."""
    payload = {
        "cache_format": CACHE_FORMAT_VERSION,
        "component": component,
        "code": code,
        "inputs": inputs,
    }
    blob = json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files_of(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(directory).as_posix(): {
            "size": path.stat().st_size,
            "sha256": _file_digest(path),
        }
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


@dataclass
class Outcome:
    """What the cache did for one component: ``reused`` or ``trained`` (with the seconds)."""

    component: str
    key: str
    reused: bool
    seconds: float
    alongside: bool = False  # trained in a process of its own (`ComponentCache.train_ahead`)


class Remote(Protocol):
    """A cache behind the directory (`engine.remote_cache.HttpCache`): entries the directory
    lacks are fetched from it, new ones sent to it."""

    def fetch(self, component: str, key: str, into: Path) -> bool: ...

    def store(self, component: str, key: str, entry: Path) -> None: ...


class ComponentCache:
    """A cache directory (with an optional `remote` behind it); `fetch_or_train` is the one
    entry point training uses."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        report: Report | None = None,
        remote: Remote | None = None,
    ) -> None:
        self.root = Path(root)
        self.report: Report = report or (lambda _line: None)
        self.outcomes: list[Outcome] = []
        self.remote = remote
        self._reused: dict[int, tuple[object, Path]] = {}  # id -> (component, its entry)
        self._ahead: dict[tuple[str, str], Ahead] = {}  # (component, key) -> its process

    def persist_reused(self, value: object, directory: Path) -> bool:
        """Write `value`, a component this cache gave back from an entry, into `directory` as
        a copy of the entry's files (what its persist wrote when it was trained) instead of
        persisting it again. False when `value` was not reused or its entry is gone (the
        caller persists it then)."""
        reused = self._reused.get(id(value))
        if reused is None or reused[0] is not value:
            return False
        entry = reused[1]
        try:
            manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
            for name in sorted(manifest["files"]):
                target = directory / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(entry / name, target)
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return True

    def entry(self, component: str, key: str) -> Path:
        return self.root / component / key

    def train_ahead(
        self,
        component: str,
        key: str,
        *,
        train: Callable[[Report], T],
        persist: Callable[[T, Path], None],
    ) -> bool:
        """Start training `component` for `key` in a forked process that stores its entry,
        unless the cache holds one (or a remote might): `fetch_or_train` for the same key waits
        for it. False when nothing was started."""
        if (
            # Linux only: elsewhere (macOS) a forked child that calls the BLAS a parent used
            # may hang on the parent's thread pools.
            not sys.platform.startswith("linux")
            or self.remote is not None
            or (component, key) in self._ahead
            or self.entry(component, key).is_dir()
        ):
            return False
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # or the child would print what is buffered a second time
        began = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: trains, stores the entry, never returns
            code = 1
            try:
                gc.freeze()  # the parent's objects: no copy of their pages for a collection
                _die_with_parent()
                quiet = os.open(os.devnull, os.O_WRONLY)
                os.dup2(quiet, 1)
                os.dup2(quiet, 2)
                log: list[str] = []
                value = train(log.append)
                seconds = time.perf_counter() - began
                self._store(component, key, lambda d: persist(value, d), log, seconds=seconds)
                code = 0
            finally:
                os._exit(code)
        self._ahead[(component, key)] = Ahead(pid)
        return True

    def stop_ahead(self) -> None:
        """Stop the processes `train_ahead` started that nobody waited for (the training
        failed before their turn); an entry one was writing stays a temporary directory, which
        `prune` removes."""
        for ahead in self._ahead.values():
            ahead.stop()
        self._ahead.clear()

    def fetch_or_train(
        self,
        component: str,
        key: str,
        *,
        train: Callable[[Report], T],
        persist: Callable[[T, Path], None],
        load: Callable[[Path], T],
        progress: Report | None = None,
    ) -> T:
        """The component of `key`: loaded from its entry when there is a sound one, else trained
        (its progress lines go to `progress`, by default the report) and stored. Logs one line
        either way."""
        relay: Report = progress or self.report
        began = time.perf_counter()
        ahead = self._ahead.pop((component, key), None)
        trained_ahead = ahead is not None and ahead.wait()
        found = self._load(component, key, load)
        if found is not None and trained_ahead:
            value, manifest = found
            for line in manifest.get("log", []):
                relay(str(line))
            seconds = float(manifest.get("seconds", 0.0))
            self._done(component, key, reused=False, began=began, alongside=True)
            self.report(f"component {component}: trained ({seconds:.1f} s)")
            self._reused[id(value)] = (value, self.entry(component, key))  # its files: as stored
            return value
        if found is not None:
            value, manifest = found
            for line in map(str, manifest.get("log", [])):  # its warnings concern this model
                if line.lstrip().startswith("Warning:"):
                    relay(line)
            self._done(component, key, reused=True, began=began)
            self.report(f"component {component}: reused (key {key[:8]})")
            self._reused[id(value)] = (value, self.entry(component, key))
            return value
        lines: list[str] = []

        def say(line: str) -> None:
            lines.append(line)
            relay(line)

        value = train(say)
        seconds = time.perf_counter() - began
        try:
            self._store(component, key, lambda directory: persist(value, directory), lines)
        except OSError as exc:  # a full or read-only cache must not fail the training
            self.report(f"Warning: could not store {component} in the training cache ({exc})")
        else:
            self._send(component, key)
        self._done(component, key, reused=False, began=began)
        self.report(f"component {component}: trained ({seconds:.1f} s)")
        return value

    def _done(
        self, component: str, key: str, *, reused: bool, began: float, alongside: bool = False
    ) -> None:
        seconds = time.perf_counter() - began
        self.outcomes.append(Outcome(component, key, reused, seconds, alongside))

    # -- reading ------------------------------------------------------------------------------

    def _load(
        self, component: str, key: str, load: Callable[[Path], T]
    ) -> tuple[T, dict[str, Any]] | None:
        """The entry's component and its manifest (its log, its training's seconds), or None
        when there is no sound entry."""
        entry = self.entry(component, key)
        if not entry.is_dir() and self.remote is not None:
            self._fetch(component, key)
        if not entry.is_dir():
            return None
        problem = self._check(entry)
        if problem is None:
            try:
                value = load(entry)
            except Exception as exc:  # any unreadable entry is trained again
                problem = f"it does not load ({type(exc).__name__}: {exc})"
            else:
                manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
                _touch(entry / MANIFEST)
                return value, manifest
        self.report(f"Warning: the cached {component} (key {key[:8]}) is unusable: {problem}")
        _remove(entry)
        return None

    def _fetch(self, component: str, key: str) -> None:
        """Bring the remote's entry in (into a temporary directory renamed into place)."""
        assert self.remote is not None
        final = self.entry(component, key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{key[:8]}-", dir=final.parent))
        except OSError as exc:
            self.report(f"Warning: could not fetch the cached {component} ({exc})")
            return
        try:
            if self.remote.fetch(component, key, tmp):
                tmp.rename(final)
        except OSError as exc:  # another training brought it in, or the remote failed
            if not final.is_dir():
                self.report(f"Warning: could not fetch the cached {component} ({exc})")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _send(self, component: str, key: str) -> None:
        if self.remote is None:
            return
        try:
            self.remote.store(component, key, self.entry(component, key))
        except OSError as exc:  # the next training trains it again, nothing worse
            self.report(f"Warning: could not send {component} to the remote training cache ({exc})")

    @staticmethod
    def _check(entry: Path) -> str | None:
        """Why the entry cannot be trusted, or None."""
        try:
            manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"no readable manifest ({exc})"
        if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT_VERSION:
            return "its manifest is of another format"
        expected = manifest.get("files")
        try:
            actual = _files_of(entry)
        except OSError as exc:
            return f"its files cannot be read ({exc})"
        if actual != expected:
            return "its files do not match its manifest"
        return None

    # -- writing ------------------------------------------------------------------------------

    def _store(
        self,
        component: str,
        key: str,
        write: Callable[[Path], None],
        log: list[str],
        *,
        seconds: float | None = None,
    ) -> None:
        final = self.entry(component, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{key[:8]}-", dir=final.parent))
        try:
            write(tmp)
            manifest = {
                "format": CACHE_FORMAT_VERSION,
                "component": component,
                "key": key,
                "created": time.time(),
                "files": _files_of(tmp),
                "log": log,
            }
            if seconds is not None:
                manifest["seconds"] = round(seconds, 3)
            (tmp / MANIFEST).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True),
                encoding="utf-8",
            )
            try:
                tmp.rename(final)
            except OSError:
                # Another training stored the same key first (same inputs, same component): keep
                # theirs. A broken one left behind is replaced.
                if self._check(final) is not None:
                    _remove(final)
                    tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


class Ahead:
    """A forked process training one component (`ComponentCache.train_ahead`)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def wait(self) -> bool:
        """Wait for it to end; whether it stored the entry."""
        try:
            _pid, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return False
        return os.waitstatus_to_exitcode(status) == 0


def _die_with_parent() -> None:
    """A training's helper process ends with the training that forked it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _remove(entry: Path) -> None:
    """Remove an entry: renamed aside first, so no reader sees it half deleted."""
    aside = entry.with_name(f"{_TMP_PREFIX}gone-{entry.name}-{os.getpid()}-{time.time_ns()}")
    try:
        entry.rename(aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def prune(
    root: str | os.PathLike[str],
    *,
    max_bytes: int | None = None,
    max_age_seconds: float | None = None,
    now: float | None = None,
) -> list[Path]:
    """Evict entries of the cache at `root` not used for `max_age_seconds`, then the least
    recently used until the cache holds at most `max_bytes`; returns the removed entries.
    Temporary directories of trainings that died more than an hour ago are removed too."""
    base = Path(root)
    if not base.is_dir():
        return []
    moment = time.time() if now is None else now
    entries: list[tuple[float, int, Path]] = []
    removed: list[Path] = []
    for component in sorted(p for p in base.iterdir() if p.is_dir()):
        for entry in sorted(p for p in component.iterdir() if p.is_dir()):
            try:
                if entry.name.startswith(_TMP_PREFIX):
                    if moment - entry.stat().st_mtime > 3600:
                        shutil.rmtree(entry, ignore_errors=True)
                    continue
                manifest = entry / MANIFEST
                used = manifest.stat().st_mtime if manifest.exists() else entry.stat().st_mtime
                entries.append((used, _size(entry), entry))
            except OSError:
                continue
    entries.sort()
    kept: list[tuple[float, int, Path]] = []
    for used, size, entry in entries:
        if max_age_seconds is not None and moment - used > max_age_seconds:
            _remove(entry)
            removed.append(entry)
        else:
            kept.append((used, size, entry))
    if max_bytes is not None:
        total = sum(size for _used, size, _entry in kept)
        for _used, size, entry in kept:
            if total <= max_bytes:
                break
            _remove(entry)
            removed.append(entry)
            total -= size
    return removed


def train_ahead(
    cache: ComponentCache | None,
    component: str,
    inputs: Any,
    code: Iterable[str],
    train: Callable[[Report], T],
    persist: Callable[[T, Path], None],
) -> bool:
    """`ComponentCache.train_ahead` for what `build_component` later builds with the same
    arguments (nothing without a cache)."""
    if cache is None:
        return False
    key = canonical_key(component, inputs, code_version(code))
    return cache.train_ahead(component, key, train=train, persist=persist)


def build_component(
    cache: ComponentCache | None,
    report: Report,
    component: str,
    inputs: Any,
    code: Iterable[str],
    train: Callable[[Report], T],
    persist: Callable[[T, Path], None],
    load: Callable[[Path], T],
) -> T:
    """Train `component` (its progress lines to `report`), through `cache` when there is one:
    keyed by exactly its `inputs` and the source of the `code` modules that train it."""
    if cache is None:
        return train(report)
    key = canonical_key(component, inputs, code_version(code))
    return cache.fetch_or_train(
        component, key, train=train, persist=persist, load=load, progress=report
    )
