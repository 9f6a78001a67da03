"""A remote training cache over HTTP, behind the local one (`engine.cache`).

The protocol is two requests per entry, relative to a base URL:

    GET {base}/{component}/{key}   the entry as a tar of its files and manifest.json; 404: none
    PUT {base}/{component}/{key}   store one (the same tar); 2xx: stored, or one was there

`ComponentCache` asks the remote for an entry its directory lacks before training the
component, and sends each entry it stores. What comes back is checked against its manifest like
any local entry; a remote that fails costs only the reuse (a warning, never the training).
Studio's training pods use it with a signed link of the training (`python -m engine train
--cache DIR --cache-url-env NAME`).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

__all__ = ["HttpCache", "RemoteCacheError"]

TIMEOUT = 120


class RemoteCacheError(OSError):
    """The remote cache could not be read or written; the message says why."""


class HttpCache:
    def __init__(self, base_url: str, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _url(self, component: str, key: str) -> str:
        return f"{self.base_url}/{component}/{key}"

    def fetch(self, component: str, key: str, into: Path) -> bool:
        """Unpack the remote entry into the empty directory `into`; False when it has none."""
        try:
            with urllib.request.urlopen(self._url(component, key), timeout=self.timeout) as answer:
                data = answer.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise RemoteCacheError(f"HTTP {exc.code} {exc.read(300)!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteCacheError(str(exc)) from None
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                for member in tar.getmembers():
                    if member.isdir():
                        continue
                    name = PurePosixPath(member.name)
                    if not member.isfile() or name.is_absolute() or ".." in name.parts:
                        raise RemoteCacheError(f"the entry holds {member.name!r}")
                    target = into.joinpath(*name.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    with target.open("wb") as out:
                        if source is not None:
                            shutil.copyfileobj(source, out)
        except tarfile.TarError as exc:
            raise RemoteCacheError(f"not a tar archive ({exc})") from None
        return True

    def store(self, component: str, key: str, entry: Path) -> None:
        """Send the entry in the directory `entry` (its files and manifest)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(entry.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=path.relative_to(entry).as_posix())
        body = buffer.getvalue()
        request = urllib.request.Request(
            self._url(component, key),
            data=body,
            method="PUT",
            headers={"Content-Type": "application/x-tar", "Content-Length": str(len(body))},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            raise RemoteCacheError(f"HTTP {exc.code} {exc.read(300)!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteCacheError(str(exc)) from None
