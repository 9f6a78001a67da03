"""The training cache of the training consumers (see `engine.cache`), kept next to the models.

The authoritative copy of an assistant's cache is in the default storage under
``cache/<assistant id>/<component>/<key>/`` (so it works with S3 as with the filesystem); the
engine reads and writes a working copy in ``STUDIO_TRAINING_CACHE_DIR/<assistant id>/``. Before
a training the entries the working copy lacks (or holds with another manifest) are downloaded,
after it the new ones uploaded (the manifest last: an entry without one is incomplete and
ignored; the working copy's index of what the storage holds spares the upload a listing),
then the working copy is pruned to ``STUDIO_TRAINING_CACHE_MAX_MB`` and
``STUDIO_TRAINING_CACHE_MAX_AGE_DAYS`` and what was evicted is deleted from the storage too. A
damaged entry is found by the engine (its files do not match its manifest) and trained again.

Training pods (the Kubernetes runner) keep no working copy: their engine fetches and stores one
entry at a time through the web (`apps.training.pods`), and after each of their trainings the
consumer prunes the storage itself (`prune_stored`), by the same bounds.
"""

from __future__ import annotations

import hashlib
import json
import os
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


#: The working copy's index of the entries it knows the storage holds, with their manifests'
#: SHA-256: an upload sends only what the index lacks, without listing the storage.
INDEX = ".stored.json"


def _manifest_digest(entry: Path) -> str:
    try:
        return hashlib.sha256((entry / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return ""


class TrainingCache:
    def __init__(self, assistant: str, root: Path) -> None:
        self.assistant = assistant
        self.local = root / assistant
        self.prefix = f"{PREFIX}/{assistant}"

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

    # -- the index ----------------------------------------------------------------------

    def _read_index(self) -> dict[str, str]:
        """``{"component/key": the stored manifest's SHA-256}`` (empty when there is none or
        it is unreadable: the storage is then asked, entry by entry)."""
        try:
            index = json.loads((self.local / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(index, dict):
            return {}
        return {str(k): str(v) for k, v in index.items()}

    def _write_index(self, index: dict[str, str]) -> None:
        self.local.mkdir(parents=True, exist_ok=True)
        tmp = self.local / f"{INDEX}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
            tmp.replace(self.local / INDEX)
        except OSError:
            tmp.unlink(missing_ok=True)  # only costs a look at the storage next time

    # -- syncing ------------------------------------------------------------------------

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
        """Fetch each stored entry the working copy lacks, or holds with another manifest (the
        stored one replaces it); an entry whose manifest matches is not downloaded. The index
        then lists what the storage holds."""
        index: dict[str, str] = {}
        fetched = 0
        for (component, key), body in cache_storage.stored_manifests(self.assistant).items():
            digest = hashlib.sha256(body).hexdigest()
            entry = self.local / component / key
            if entry.exists() and _manifest_digest(entry) == digest:
                index[f"{component}/{key}"] = digest
                continue
            if self._fetch(component, key, body):
                index[f"{component}/{key}"] = digest
                fetched += 1
        self._write_index(index)
        if fetched:
            say(f"Fetched {fetched} cached components from the storage")

    def _fetch(self, component: str, key: str, body: bytes) -> bool:
        """Download the stored entry whose manifest is `body` into the working copy (in a
        temporary directory renamed into place). False when it could not be."""
        try:
            manifest = json.loads(body)
        except ValueError:
            return False
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            return False
        base = f"{self.prefix}/{component}/{key}"
        target = self.local / component
        target.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-download-", dir=target))
        try:
            for name, content in cache_storage.entry_files(base, manifest):
                out = tmp / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(content)
            old = target / key
            if old.exists():  # another manifest: the stored entry replaces it
                shutil.rmtree(old)
            tmp.rename(old)
            return True
        except OSError:
            return False  # another training brought it in, or the storage failed: trained again
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _upload(self, say: Callable[[str], None]) -> None:
        index = self._read_index()
        sent = 0
        for component, key in self._local_entries():
            name = f"{component}/{key}"
            entry = self.local / component / key
            digest = _manifest_digest(entry)
            if index.get(name) == digest:
                continue  # the storage holds it (the index says so): no look at the storage
            base = f"{self.prefix}/{name}"
            if name not in index and default_storage.exists(f"{base}/{MANIFEST}"):
                index[name] = digest  # stored by another consumer meanwhile
                continue
            files = sorted(p for p in entry.rglob("*") if p.is_file() and p.name != MANIFEST)
            for path in [*files, entry / MANIFEST]:  # the manifest last: it marks the entry whole
                stored = f"{base}/{path.relative_to(entry).as_posix()}"
                if default_storage.exists(stored):
                    default_storage.delete(stored)
                saved = default_storage.save(stored, ContentFile(path.read_bytes()))
                if saved != stored:  # a concurrent upload of the same entry: one copy is enough
                    default_storage.delete(saved)
            index[name] = digest
            sent += 1
        if sent:
            say(f"Stored {sent} new cached components")
        max_bytes, max_age = _bounds()
        removed = prune(self.local, max_bytes=max_bytes, max_age_seconds=max_age)
        for entry in removed:
            cache_storage.delete_entry(f"{self.prefix}/{entry.parent.name}/{entry.name}")
            index.pop(f"{entry.parent.name}/{entry.name}", None)
        self._write_index(index)
        if removed:
            say(f"Evicted {len(removed)} cached components (size and age bounds)")
