"""Assistant files as bytes: reading an upload (a zip archive or loose files) or a project folder
within limits, and packing files into a zip.

Everything that comes from a user is checked before it is parsed: the number of files, each
file's size and the total (as declared in the zip and as actually read, so a lying header does
not help a zip bomb), paths that would leave the project folder, links, and nested archives.
A link (in a zip or a folder) to a file or folder inside the project is read as a copy of what
it points to, as Rasa reads it; a link that points outside the project is refused.
"""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine import formats

MAX_FILES = 2000
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, per entry, past which an entry is a bomb

#: Archive formats refused inside an upload (a project is one archive or loose files).
ARCHIVE_SUFFIXES = (".zip", ".jar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf")


def is_archive(name: str, content: bytes) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES) or content.startswith(ARCHIVE_MAGIC)


class UploadError(ValueError):
    """A problem with the upload as a whole; `file` names the entry when there is one."""

    def __init__(self, message: str, file: str | None = None):
        super().__init__(message)
        self.file = file
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" if self.file else self.message


@dataclass(frozen=True)
class Limits:
    max_files: int = MAX_FILES
    max_file_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = MAX_TOTAL_BYTES


DEFAULT_LIMITS = Limits()


def clean_path(raw: str) -> str:
    """A relative POSIX path inside the project, or UploadError."""
    path = raw.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UploadError("absolute paths are not allowed in an upload", raw)
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../") or "/../" in f"/{normal}/":
        raise UploadError("the path leaves the project folder", raw)
    if "\x00" in normal:
        raise UploadError("the path contains a NUL character", raw)
    return normal


def _common_root(paths) -> str:
    """Archives often wrap the project in one folder (my-bot/domain.yml): that folder's
    prefix ("my-bot/"), or ""."""
    project = [path for path in paths if not path.startswith("__MACOSX/")]
    tops = {path.split("/", 1)[0] for path in project}
    if len(tops) == 1 and all("/" in path for path in project):
        return f"{tops.pop()}/"
    return ""


MAX_LINK_DEPTH = 20


def _resolve_links(
    files: dict[str, bytes], links: dict[str, tuple[str, str]], skipped: dict[str, str]
) -> None:
    """Put a copy of what each link points to under the link's path (links to links too).

    `links` maps the link's path to (its target as written, the entry's name in the archive).
    A target outside the project is refused; one that is not in the archive is reported in
    `skipped`."""
    targets: dict[str, str] = {}
    for link, (target, entry) in links.items():
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
        if target.startswith("/") or joined == ".." or joined.startswith("../"):
            raise UploadError(
                f"the link {link} points to {target}, outside the project folder; put what it "
                "points to into the archive, or remove the link",
                entry,
            )
        targets[link] = joined
    pending = dict(targets)
    for _ in range(MAX_LINK_DEPTH):
        if not pending:
            return
        for link, target in list(pending.items()):
            if target in files:
                files[link] = files[target]
                del pending[link]
                continue
            inside = {p: d for p, d in files.items() if p.startswith(f"{target}/")}
            if inside and target not in pending:
                for path, data in inside.items():
                    files[f"{link}/{path.removeprefix(target + '/')}"] = data
                del pending[link]
    for link in pending:
        skipped[link] = f"a link to {links[link][0]}, which is not in the archive"


def read_zip(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(f"not a readable zip archive ({exc})") from None
    files: dict[str, bytes] = {}
    links: dict[str, tuple[str, str]] = {}
    total = 0
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > limits.max_files:
            raise UploadError(
                f"the archive has {len(entries)} files; the limit is {limits.max_files}"
            )
        for info in entries:
            if "\x00" in info.orig_filename:
                # zipfile cuts the name at the NUL: refuse rather than import a different name.
                raise UploadError(
                    "the name contains a NUL character", info.orig_filename.replace("\x00", "\\0")
                )
            name = clean_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                links[name] = (_link_target(archive, info), info.filename)
                continue
            if info.file_size > limits.max_file_bytes:
                raise UploadError(
                    f"{info.file_size} bytes uncompressed; the limit is {limits.max_file_bytes}",
                    info.filename,
                )
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise UploadError("compressed suspiciously well (a zip bomb?)", info.filename)
            try:
                with archive.open(info) as handle:
                    content = handle.read(limits.max_file_bytes + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                raise UploadError(f"cannot be extracted ({exc})", info.filename) from None
            if len(content) > limits.max_file_bytes:
                raise UploadError(f"larger than {limits.max_file_bytes} bytes", info.filename)
            if is_archive(name, content):
                raise UploadError(
                    "archives inside the archive are not allowed; unpack it into the project",
                    info.filename,
                )
            total += len(content)
            if total > limits.max_total_bytes:
                raise UploadError(f"the archive holds more than {limits.max_total_bytes} bytes")
            if name in files:
                raise UploadError("appears twice in the archive", info.filename)
            files[name] = content
    if not files:
        raise UploadError("the archive is empty")
    root = _common_root([*files, *links])
    read = formats.FolderFiles()
    read.update({path.removeprefix(root): data for path, data in files.items()})
    _resolve_links(
        read, {path.removeprefix(root): link for path, link in links.items()}, read.skipped
    )
    return read


def _link_target(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """What a link entry points to (the entry's content)."""
    if info.file_size > 4096:
        raise UploadError("a link whose target is longer than 4096 bytes", info.filename)
    try:
        return archive.read(info).decode("utf-8")
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise UploadError(f"cannot be extracted ({exc})", info.filename) from None
    except UnicodeDecodeError:
        raise UploadError("a link whose target is not UTF-8", info.filename) from None


def read_files(
    uploads: list[tuple[str, bytes]], limits: Limits = DEFAULT_LIMITS
) -> dict[str, bytes]:
    """Loose files (name, content), or a single zip among them."""
    if len(uploads) == 1 and (
        uploads[0][0].lower().endswith(".zip") or uploads[0][1][:4] == b"PK\x03\x04"
    ):
        return read_zip(uploads[0][1], limits)
    if not uploads:
        raise UploadError("no files were uploaded")
    if len(uploads) > limits.max_files:
        raise UploadError(f"{len(uploads)} files uploaded; the limit is {limits.max_files}")
    files: dict[str, bytes] = {}
    total = 0
    for raw_name, content in uploads:
        if "\x00" in raw_name:
            raise UploadError("the name contains a NUL character", raw_name.replace("\x00", "\\0"))
        name = clean_path(raw_name)
        if is_archive(name, content):
            raise UploadError("upload a zip archive on its own, not with other files", raw_name)
        if len(content) > limits.max_file_bytes:
            raise UploadError(f"larger than {limits.max_file_bytes} bytes", raw_name)
        total += len(content)
        if total > limits.max_total_bytes:
            raise UploadError(f"the files hold more than {limits.max_total_bytes} bytes")
        if name in files:
            raise UploadError("uploaded twice", raw_name)
        files[name] = content
    return files


# --------------------------------------------------------------------------------------------
# Project folders and zips


def read_project_dir(root: Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Every file of a Rasa project folder that Studio keeps, by relative path (links inside
    the folder followed; `formats.FolderFiles.skipped` names what was not read, with why)."""
    if not root.is_dir():
        raise UploadError(f"{root} is not a folder")
    try:
        files = formats.read_project_folder(root)
    except formats.FormatError as exc:
        problem = exc.problems[0]
        raise UploadError(problem.message, problem.file) from None
    if len(files) > limits.max_files:
        raise UploadError(f"the folder has {len(files)} files; the limit is {limits.max_files}")
    total = 0
    for path, content in files.items():
        if len(content) > limits.max_file_bytes:
            raise UploadError(f"larger than {limits.max_file_bytes} bytes", path)
        total += len(content)
    if total > limits.max_total_bytes:
        raise UploadError(f"the folder holds more than {limits.max_total_bytes} bytes")
    return files


def zip_files(files: Mapping[str, str | bytes]) -> bytes:
    """A zip of the files (text is written as UTF-8, bytes as they are)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content.encode("utf-8") if isinstance(content, str) else content)
    return buffer.getvalue()
