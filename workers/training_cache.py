"""The training cache of the training consumers (see `engine.cache`), kept next to the models.

The authoritative copy of an assistant's cache is in the default storage under
``cache/<assistant id>/<component>/<key>/`` (so it works with S3 as with the filesystem); the
engine reads and writes a working copy in ``STUDIO_TRAINING_CACHE_DIR/<assistant id>/``. Before
a training the entries the working copy lacks are downloaded, after it the new ones uploaded (the
manifest last: an entry without one is incomplete and ignored), then the working copy is pruned
to ``STUDIO_TRAINING_CACHE_MAX_MB`` and ``STUDIO_TRAINING_CACHE_MAX_AGE_DAYS`` and what was
evicted is deleted from the storage too. A damaged entry is found by the engine (its files do not
match its manifest) and trained again.

Training pods (the Kubernetes runner) keep no working copy: their engine fetches and stores one
entry at a time through the web (`apps.training.pods`), and after each of their trainings the
consumer prunes the storage itself (`prune_stored`), by the same bounds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.training import cache_storage
from engine.cache import MANIFEST, prune

__all__ = ["TrainingCache", "prune_stored", "training_cache"]

PREFIX = cache_storage.PREFIX


def training_cache(assistant_id: int | str) -> TrainingCache | None:
    """The assistant's cache, or None when STUDIO_TRAINING_CACHE is off."""
    if not settings.STUDIO_TRAINING_CACHE:
        return None
    return TrainingCache(str(assistant_id), Path(settings.STUDIO_TRAINING_CACHE_DIR).resolve())


def _bounds() -> tuple[int | None, int | None]:
    """STUDIO_TRAINING_CACHE_MAX_MB and _MAX_AGE_DAYS in bytes and seconds (None: no bound)."""
    max_mb = settings.STUDIO_TRAINING_CACHE_MAX_MB
    max_days = settings.STUDIO_TRAINING_CACHE_MAX_AGE_DAYS
    return (max_mb * 1024 * 1024 if max_mb else None, max_days * 86400 if max_days else None)


def prune_stored(assistant_id: int | str, say: Callable[[str], None]) -> None:
    """Cut the assistant's cache in the storage to the size and age bounds (after a training
    in a pod, which keeps no working copy to prune); a storage that fails is only reported."""
    if not settings.STUDIO_TRAINING_CACHE:
        return
    max_bytes, max_age = _bounds()
    try:
        removed = cache_storage.prune_stored(
            assistant_id, max_bytes=max_bytes, max_age_seconds=max_age
        )
    except Exception as exc:  # the storage's own errors (S3...) are not OSErrors
        say(f"Could not prune the training cache: {exc}")
        return
    if removed:
        say(f"Evicted {len(removed)} cached components (size and age bounds)")


class TrainingCache:
    def __init__(self, assistant: str, root: Path) -> None:
        self.assistant = assistant
        self.local = root / assistant
        self.prefix = f"{PREFIX}/{assistant}"

    def _stored_entries(self) -> list[tuple[str, str]]:
        """``(component, key)`` of the complete entries in the storage."""
        return cache_storage.stored_entries(self.assistant)

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
            manifest = cache_storage.read_manifest(base)
            if manifest is None:
                continue
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-download-", dir=target))
            try:
                for name, content in cache_storage.entry_files(base, manifest):
                    out = tmp / name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(content)
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
        max_bytes, max_age = _bounds()
        removed = prune(self.local, max_bytes=max_bytes, max_age_seconds=max_age)
        for entry in removed:
            cache_storage.delete_entry(f"{self.prefix}/{entry.parent.name}/{entry.name}")
        if removed:
            say(f"Evicted {len(removed)} cached components (size and age bounds)")
