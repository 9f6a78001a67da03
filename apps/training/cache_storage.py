"""The training cache's entries in the default storage (see `engine.cache` for what they hold).

An entry lives under ``cache/<assistant id>/<component>/<key>/``: the files the component
persists and ``manifest.json`` (each file's size and SHA-256). The manifest is written last and
deleted first, so an entry without one is incomplete and ignored. A training consumer keeps its
working copy in sync with these (`workers.training_cache`); a training pod reads and writes them
one entry at a time through its signed cache link (`apps.training.pods`), as a tar of the entry.

Each entry also has a ``last-used`` marker, rewritten whenever a pod reuses it, so that pruning
the storage by age keeps what trainings still use.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from apps.projects.models import Assistant

PREFIX = "cache"
#: The name `engine.cache` gives an entry's manifest, and the format it writes.
MANIFEST = "manifest.json"
FORMAT = 1
LAST_USED = "last-used"
COMPONENT_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
KEY_RE = re.compile(r"[0-9a-f]{64}")
# One writer at a time per web process (threads); the assistant's row lock orders processes.
_WRITING = threading.Lock()


class BadEntry(ValueError):
    """A sent entry that cannot be stored; the message says why."""


def assistant_prefix(assistant_id: int | str) -> str:
    return f"{PREFIX}/{assistant_id}"


def entry_prefix(assistant_id: int | str, component: str, key: str) -> str:
    return f"{assistant_prefix(assistant_id)}/{component}/{key}"


def valid_name(component: str, key: str) -> bool:
    return bool(COMPONENT_RE.fullmatch(component) and KEY_RE.fullmatch(key))


def listdir(prefix: str) -> tuple[list[str], list[str]]:
    """The folders and files right under `prefix` (none when it does not exist: a bucket has
    no folders, only names that start with one)."""
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return [], []
    return list(directories), list(files)


def walk(prefix: str) -> list[str]:
    """Every file name under `prefix` in the default storage."""
    directories, files = listdir(prefix)
    found = [f"{prefix}/{name}" for name in files]
    for directory in directories:
        found.extend(walk(f"{prefix}/{directory}"))
    return found


def stored_entries(assistant_id: int | str) -> list[tuple[str, str]]:
    """``(component, key)`` of the complete entries (those with a manifest) in the storage."""
    base = assistant_prefix(assistant_id)
    entries: list[tuple[str, str]] = []
    for component in sorted(listdir(base)[0]):
        for key in sorted(listdir(f"{base}/{component}")[0]):
            if default_storage.exists(f"{base}/{component}/{key}/{MANIFEST}"):
                entries.append((component, key))
    return entries


def stored_manifests(assistant_id: int | str) -> dict[tuple[str, str], bytes]:
    """``{(component, key): its manifest as stored}`` of the complete entries in the storage:
    one read per entry, where `stored_entries` and `read_manifest` would look twice."""
    base = assistant_prefix(assistant_id)
    found: dict[tuple[str, str], bytes] = {}
    for component in sorted(listdir(base)[0]):
        for key in sorted(listdir(f"{base}/{component}")[0]):
            try:
                with default_storage.open(f"{base}/{component}/{key}/{MANIFEST}", "rb") as handle:
                    found[(component, key)] = handle.read()
            except Exception:  # no manifest: incomplete (the storage's errors are not OSErrors)
                continue
    return found


def read_manifest(prefix: str) -> dict[str, Any] | None:
    """The stored entry's manifest, or None when it has none (or an unreadable one)."""
    try:
        with default_storage.open(f"{prefix}/{MANIFEST}", "rb") as handle:
            manifest = json.loads(handle.read())
    except Exception:  # missing or unreadable (the storage's own errors are not OSErrors)
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def entry_files(prefix: str, manifest: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """The entry's files as its manifest lists them, then the manifest: ``(name, content)``.
    Raises OSError when one is missing."""
    for name in sorted(manifest["files"]):
        with default_storage.open(f"{prefix}/{name}", "rb") as handle:
            yield name, handle.read()
    with default_storage.open(f"{prefix}/{MANIFEST}", "rb") as handle:
        yield MANIFEST, handle.read()


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _matches(manifest: dict[str, Any], files: dict[str, bytes]) -> bool:
    listed = manifest.get("files") or {}
    return set(listed) == set(files) and all(
        isinstance(listed[name], dict)
        and listed[name].get("size") == len(content)
        and listed[name].get("sha256") == _digest(content)
        for name, content in files.items()
    )


def entry_tar(prefix: str) -> bytes | None:
    """The stored entry as an uncompressed tar (its files and manifest), or None when it is
    incomplete: no manifest, or a file missing or not matching it."""
    manifest = read_manifest(prefix)
    if manifest is None:
        return None
    try:
        files = dict(entry_files(prefix, manifest))
    except Exception:  # a file is missing: the entry is not whole
        return None
    body = files.pop(MANIFEST)
    if not _matches(manifest, files):
        return None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in [*files.items(), (MANIFEST, body)]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def mark_used(prefix: str) -> None:
    """Record that a training reused the entry now (for pruning by age)."""
    name = f"{prefix}/{LAST_USED}"
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(str(time.time()).encode()))
    if saved != name:  # another pod marked it at the same moment
        default_storage.delete(saved)


def read_tar(data: bytes, component: str, key: str) -> tuple[dict[str, bytes], bytes]:
    """The files and the manifest of an entry sent as a tar; BadEntry says what is wrong
    (a name outside the entry, no manifest, a manifest of another entry, files that do not
    match it)."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar.getmembers():
                if member.isdir():
                    continue
                path = PurePosixPath(member.name)
                if not member.isfile() or path.is_absolute() or ".." in path.parts:
                    raise BadEntry(f"the entry's archive holds {member.name!r}")
                handle = tar.extractfile(member)
                files[path.as_posix()] = handle.read() if handle else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadEntry(f"not a tar archive ({exc})") from None
    body = files.pop(MANIFEST, None)
    if body is None:
        raise BadEntry(f"the entry has no {MANIFEST}")
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise BadEntry(f"{MANIFEST} is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadEntry(f"{MANIFEST} is not of format {FORMAT}")
    if manifest.get("component") != component or manifest.get("key") != key:
        raise BadEntry(f"{MANIFEST} describes another entry")
    if not _matches(manifest, files):
        raise BadEntry(f"the entry's files do not match its {MANIFEST}")
    return files, body


def _whole(prefix: str) -> bool:
    return entry_tar(prefix) is not None


def store_entry(
    assistant_id: int | str, component: str, key: str, files: dict[str, bytes], manifest: bytes
) -> bool:
    """Store a checked entry unless a whole one is there already; True if it was written.

    Writers of one assistant take turns (the assistant's row is locked, and a lock per
    process), so two pods storing the same key never leave files of one beside the manifest of
    the other: the manifest goes first when an entry is replaced, and comes back last."""
    prefix = entry_prefix(assistant_id, component, key)
    with _WRITING, transaction.atomic():
        Assistant.objects.select_for_update().filter(pk=assistant_id).first()
        if _whole(prefix):
            return False
        for name in [f"{prefix}/{MANIFEST}", *walk(prefix)]:
            if default_storage.exists(name):
                default_storage.delete(name)
        for name, content in [*sorted(files.items()), (MANIFEST, manifest)]:
            default_storage.save(f"{prefix}/{name}", ContentFile(content))
    return True


def delete_entry(prefix: str) -> None:
    """Remove an entry: its manifest first (the rest is then ignored), then everything."""
    if default_storage.exists(f"{prefix}/{MANIFEST}"):
        default_storage.delete(f"{prefix}/{MANIFEST}")
    for name in walk(prefix):
        default_storage.delete(name)


def prune_stored(
    assistant_id: int | str,
    *,
    max_bytes: int | None,
    max_age_seconds: float | None,
    now: float | None = None,
) -> list[tuple[str, str]]:
    """Evict stored entries no training used for `max_age_seconds`, then the least recently
    used until the assistant's cache holds at most `max_bytes`. Returns what was evicted."""
    moment = time.time() if now is None else now
    entries: list[tuple[float, int, str, str]] = []
    for component, key in stored_entries(assistant_id):
        prefix = entry_prefix(assistant_id, component, key)
        manifest = read_manifest(prefix)
        if manifest is None:
            continue
        size = sum(int(item.get("size") or 0) for item in manifest["files"].values())
        used = float(manifest.get("created") or 0)
        for name in (MANIFEST, LAST_USED):
            try:
                used = max(used, default_storage.get_modified_time(f"{prefix}/{name}").timestamp())
            except Exception:  # no marker (the storage's own errors are not OSErrors)
                continue
        entries.append((used, size, component, key))
    entries.sort()
    removed: list[tuple[str, str]] = []
    kept: list[tuple[float, int, str, str]] = []
    for used, size, component, key in entries:
        if max_age_seconds is not None and moment - used > max_age_seconds:
            removed.append((component, key))
        else:
            kept.append((used, size, component, key))
    if max_bytes is not None:
        total = sum(size for _used, size, _c, _k in kept)
        for _used, size, component, key in kept:
            if total <= max_bytes:
                break
            removed.append((component, key))
            total -= size
    for component, key in removed:
        delete_entry(entry_prefix(assistant_id, component, key))
    return removed
