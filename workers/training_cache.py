"""The training cache of the local runner (see `engine.cache`), kept next to the models.

The authoritative copy of an assistant's cache is in the default storage under
``cache/<assistant id>/<component>/<key>/`` (so it works with S3 as with the filesystem); the
engine reads and writes a working copy in ``STUDIO_TRAINING_CACHE_DIR/<assistant id>/``. Before
a training the entries the working copy lacks are downloaded, after it the new ones uploaded (the
manifest last: an entry without one is incomplete and ignored), then the working copy is pruned
to ``STUDIO_TRAINING_CACHE_MAX_MB`` and ``STUDIO_TRAINING_CACHE_MAX_AGE_DAYS`` and what was
evicted is deleted from the storage too. A damaged entry is found by the engine (its files do not
match its manifest) and trained again.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from engine.cache import MANIFEST, prune

__all__ = ["TrainingCache", "training_cache"]

PREFIX = "cache"


def training_cache(assistant_id: int | str) -> TrainingCache | None:
    """The assistant's cache, or None when STUDIO_TRAINING_CACHE is off."""
    if not settings.STUDIO_TRAINING_CACHE:
        return None
    return TrainingCache(str(assistant_id), Path(settings.STUDIO_TRAINING_CACHE_DIR).resolve())


def _walk(prefix: str) -> list[str]:
    """Every file name under `prefix` in the default storage."""
    if not default_storage.exists(prefix):
        return []
    directories, files = default_storage.listdir(prefix)
    found = [f"{prefix}/{name}" for name in files]
    for directory in directories:
        found.extend(_walk(f"{prefix}/{directory}"))
    return found


class TrainingCache:
    def __init__(self, assistant: str, root: Path) -> None:
        self.assistant = assistant
        self.local = root / assistant
        self.prefix = f"{PREFIX}/{assistant}"

    def _stored_entries(self) -> list[tuple[str, str]]:
        """``(component, key)`` of the complete entries in the storage."""
        entries: list[tuple[str, str]] = []
        if not default_storage.exists(self.prefix):
            return entries
        for component in sorted(default_storage.listdir(self.prefix)[0]):
            base = f"{self.prefix}/{component}"
            for key in sorted(default_storage.listdir(base)[0]):
                if default_storage.exists(f"{base}/{key}/{MANIFEST}"):
                    entries.append((component, key))
        return entries

    def _local_entries(self) -> list[tuple[str, str]]:
        if not self.local.is_dir():
            return []
        return [
            (component.name, entry.name)
            for component in sorted(self.local.iterdir())
            if component.is_dir()
            for entry in sorted(component.iterdir())
            if entry.is_dir() and (entry / MANIFEST).is_file()
        ]

    def download(self, say: Callable[[str], None]) -> Path:
        """Bring the working copy up to date with the storage; returns its directory (a storage
        that fails only costs the reuse of what it holds)."""
        self.local.mkdir(parents=True, exist_ok=True)
        try:
            self._download(say)
        except Exception as exc:  # the storage's own errors (S3...) are not OSErrors
            say(f"Could not fetch the training cache from the storage: {exc}")
        return self.local

    def upload(self, say: Callable[[str], None]) -> None:
        """Store the entries the storage lacks, prune the working copy and mirror the eviction
        (a storage that fails only costs the reuse elsewhere)."""
        try:
            self._upload(say)
        except Exception as exc:
            say(f"Could not store the training cache: {exc}")

    def _download(self, say: Callable[[str], None]) -> None:
        have = set(self._local_entries())
        fetched = 0
        for component, key in self._stored_entries():
            if (component, key) in have or (self.local / component / key).exists():
                continue
            base = f"{self.prefix}/{component}/{key}"
            target = self.local / component
            target.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-download-", dir=target))
            try:
                for name in _walk(base):
                    out = tmp / name[len(base) + 1 :]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with default_storage.open(name, "rb") as source, out.open("wb") as handle:
                        shutil.copyfileobj(source, handle)
                tmp.rename(target / key)
                fetched += 1
            except OSError:
                pass  # another training brought it in, or the storage failed: trained again
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        if fetched:
            say(f"Fetched {fetched} cached components from the storage")

    def _upload(self, say: Callable[[str], None]) -> None:
        stored = set(self._stored_entries())
        sent = 0
        for component, key in self._local_entries():
            if (component, key) in stored:
                continue
            entry = self.local / component / key
            base = f"{self.prefix}/{component}/{key}"
            files = sorted(p for p in entry.rglob("*") if p.is_file() and p.name != MANIFEST)
            for path in [*files, entry / MANIFEST]:  # the manifest last: it marks the entry whole
                name = f"{base}/{path.relative_to(entry).as_posix()}"
                if default_storage.exists(name):
                    default_storage.delete(name)
                saved = default_storage.save(name, ContentFile(path.read_bytes()))
                if saved != name:  # a concurrent upload of the same entry: one copy is enough
                    default_storage.delete(saved)
            sent += 1
        if sent:
            say(f"Stored {sent} new cached components")
        max_mb = settings.STUDIO_TRAINING_CACHE_MAX_MB
        max_days = settings.STUDIO_TRAINING_CACHE_MAX_AGE_DAYS
        removed = prune(
            self.local,
            max_bytes=max_mb * 1024 * 1024 if max_mb else None,
            max_age_seconds=max_days * 86400 if max_days else None,
        )
        for entry in removed:
            base = f"{self.prefix}/{entry.parent.name}/{entry.name}"
            if default_storage.exists(f"{base}/{MANIFEST}"):  # first: the rest is then ignored
                default_storage.delete(f"{base}/{MANIFEST}")
            for name in _walk(base):
                default_storage.delete(name)
        if removed:
            say(f"Evicted {len(removed)} cached components (size and age bounds)")
