"""Reading a project folder from disk and packing files into a zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from apps.projects.uploads import DEFAULT_LIMITS, Limits, UploadError
from demo import HARBOR_BANK

DEMO_DIR = HARBOR_BANK
SKIPPED_DIRS = {".git", ".rasa", "models", "results", "__pycache__", "tests", "actions"}


def read_project_dir(root: Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Every file of a Rasa project folder, by relative path (skipping models, tests...)."""
    if not root.is_dir():
        raise UploadError(f"{root} is not a folder")
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.is_symlink() or SKIPPED_DIRS & set(relative.parts[:-1]):
            continue
        if relative.parts[0].startswith(".") or path.suffix.lower() not in (
            ".yml",
            ".yaml",
            ".jinja2",
            ".jinja",
            ".txt",
        ):
            continue
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise UploadError(f"larger than {limits.max_file_bytes} bytes", str(relative))
        total += size
        if total > limits.max_total_bytes:
            raise UploadError(f"the folder holds more than {limits.max_total_bytes} bytes")
        files[relative.as_posix()] = path.read_bytes()
    return files


def zip_files(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
