"""The model archive: a ``.tar.gz`` laid out as Rasa's.

::

    metadata.json          domain, model_id, assistant_id, trained_at, engine, fingerprint...
    components/
      nlu/                 engine.nlu.NluModel.persist
      flow_classifier/     engine.dialogue.FlowClassifier.persist
      dialogue/            engine.dialogue.DialogueModel.persist
      llm/                 engine.llm.LlmComponent.persist (optional: archives written
                           before it load without it)
      policies/            engine.policies.PolicyEnsemble.persist (optional, likewise)

Archives come from storage that other people can write to, so reading is defensive: only
regular files and directories are extracted, every name must stay inside the target directory,
and the number of members and the unpacked size are bounded. Components are pickled
scikit-learn models (joblib): load only archives that this engine trained.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ARCHIVE_FORMAT_VERSION",
    "COMPONENTS_DIR",
    "METADATA_FILE",
    "REQUIRED_METADATA_KEYS",
    "ArchiveError",
    "LoadedModel",
    "extract_archive",
    "load_model",
    "read_metadata",
    "write_archive",
]

ARCHIVE_FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
COMPONENTS_DIR = "components"
NLU_COMPONENT = "nlu"
FLOW_CLASSIFIER_COMPONENT = "flow_classifier"
DIALOGUE_COMPONENT = "dialogue"
LLM_COMPONENT = "llm"
POLICIES_COMPONENT = "policies"

#: Largest archive we open, and largest total size of its members once unpacked.
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_METADATA_BYTES = 64 * 1024 * 1024

REQUIRED_METADATA_KEYS = (
    "domain",
    "trained_at",
    "model_id",
    "assistant_id",
    "engine",
    "project_fingerprint",
    "language",
    "training_type",
)


class ArchiveError(Exception):
    """The file is not a model archive this engine can load; the message says why."""


@dataclass
class LoadedModel:
    """A trained model, ready to serve."""

    metadata: dict[str, Any]
    dialogue_model: Any
    nlu: Any
    flow_classifier: Any
    path: str = ""
    #: The LLM components' settings and prompt files (`engine.llm.LlmComponent`), or None.
    llm: Any = None
    #: The classic dialogue policies (`engine.policies.PolicyEnsemble`), or None.
    policies: Any = None

    @property
    def model_id(self) -> str:
        return str(self.metadata.get("model_id") or "")

    @property
    def assistant_id(self) -> str:
        return str(self.metadata.get("assistant_id") or "")

    @property
    def fingerprint(self) -> str:
        return str(self.metadata.get("project_fingerprint") or "")


# --------------------------------------------------------------------------------------------
# Writing


def write_archive(path: str | os.PathLike[str], metadata: dict[str, Any], components: Path) -> Path:
    """Pack `metadata` and the `components` directory into a gzip tar at `path`.

    Written to a temporary file next to `path` and renamed, so a reader never sees half an
    archive. Members are added in sorted order with neutral owners.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".", suffix=".tar.gz.part", dir=target.parent)
    os.close(fd)
    try:
        # The fastest gzip level: the archive is on the path from an edit to its first reply
        # (issue 20), and level 9 takes about three times as long for a few percent less.
        with tarfile.open(tmp_name, "w:gz", compresslevel=1) as tar:
            blob = json.dumps(metadata, ensure_ascii=False, indent=2, sort_keys=True).encode()
            _add_bytes(tar, METADATA_FILE, blob, time.time())
            _add_tree(tar, Path(components), COMPONENTS_DIR)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _normalised(info: tarfile.TarInfo, mtime: float | None = None) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if mtime is not None:
        info.mtime = int(mtime)
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float | None) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(_normalised(info, mtime), io.BytesIO(data))


def _add_tree(tar: tarfile.TarFile, root: Path, arcname: str) -> None:
    tar.addfile(_normalised(tar.gettarinfo(str(root), arcname)))
    for item in sorted(root.rglob("*")):
        if item.is_symlink():
            raise ArchiveError(f"component files may not be symlinks: {item}")
        name = posixpath.join(arcname, item.relative_to(root).as_posix())
        info = _normalised(tar.gettarinfo(str(item), name))
        if item.is_file():
            with item.open("rb") as handle:
                tar.addfile(info, handle)
        elif item.is_dir():
            tar.addfile(info)


# --------------------------------------------------------------------------------------------
# Reading


def _open(path: str | os.PathLike[str]) -> tarfile.TarFile:
    file = Path(path)
    if not file.is_file():
        raise ArchiveError(f"{file}: no such model archive")
    if file.stat().st_size > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"{file}: larger than the limit of {MAX_ARCHIVE_BYTES} bytes")
    try:
        return tarfile.open(file, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{file}: not a gzip tar archive ({exc})") from exc


#: What a tar adds to its members' bytes: a 512-byte header per member, padding to 512 bytes,
#: and the end-of-archive blocks (tarfile writes up to a 10 KiB record).
_TAR_OVERHEAD = MAX_MEMBERS * 1024 + 20 * 512


def _unpacked_tar(path: str | os.PathLike[str], into: Path) -> tarfile.TarFile:
    """The archive decompressed once into the file `into`, opened as a plain tar.

    Listing the members of a gzip tar and then extracting them seeks back to the start, which
    decompresses the whole archive again: this reads it once (a bot loads a model on the path
    from an edit to its first reply, issue 20). The copy stops at the unpacked size limit."""
    _open(path).close()  # the archive's own checks and errors
    limit = MAX_UNPACKED_BYTES + _TAR_OVERHEAD
    written = 0
    try:
        with gzip.open(path, "rb") as source, into.open("wb") as target:
            while chunk := source.read(1024 * 1024):
                written += len(chunk)
                if written > limit:
                    raise ArchiveError(
                        f"the archive unpacks to more than the limit of {MAX_UNPACKED_BYTES} bytes"
                    )
                target.write(chunk)
        return tarfile.open(into, "r:")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"the archive is corrupt ({exc})") from exc


def _safe_name(name: str) -> str:
    """The member's normalised relative path; raises for anything that could escape."""
    clean = name.replace("\\", "/")
    while clean.startswith("./"):
        clean = clean[2:]
    norm = posixpath.normpath(clean) if clean else "."
    if (
        clean.startswith("/")
        or (len(clean) > 1 and clean[1] == ":")
        or norm == ".."
        or norm.startswith("../")
        or "\x00" in clean
    ):
        raise ArchiveError(f"unsafe path in the archive: {name!r}")
    return norm


def _checked_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    total = 0
    try:
        for info in tar:
            if len(members) >= MAX_MEMBERS:
                raise ArchiveError(f"the archive has more than {MAX_MEMBERS} members")
            name = _safe_name(info.name)
            if name == ".":
                continue
            if not (info.isfile() or info.isdir()):
                raise ArchiveError(f"the archive member {info.name!r} is not a file or directory")
            total += info.size
            if total > MAX_UNPACKED_BYTES:
                raise ArchiveError(
                    f"the archive unpacks to more than the limit of {MAX_UNPACKED_BYTES} bytes"
                )
            members.append(info)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"the archive is corrupt ({exc})") from exc
    return members


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``metadata.json`` of an archive, without unpacking the components."""
    with _open(path) as tar:
        for info in _checked_members(tar):
            if _safe_name(info.name) == METADATA_FILE and info.isfile():
                if info.size > MAX_METADATA_BYTES:
                    raise ArchiveError(f"{METADATA_FILE} is larger than {MAX_METADATA_BYTES} bytes")
                handle = tar.extractfile(info)
                assert handle is not None
                return _parse_metadata(handle.read())
    raise ArchiveError(f"{path}: no {METADATA_FILE} (not a model archive)")


def _parse_metadata(blob: bytes) -> dict[str, Any]:
    try:
        metadata = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"{METADATA_FILE} is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise ArchiveError(f"{METADATA_FILE} must hold an object")
    missing = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
    if missing:
        raise ArchiveError(f"{METADATA_FILE} lacks {', '.join(missing)}")
    engine = metadata.get("engine")
    if not isinstance(engine, dict) or engine.get("format_version") != ARCHIVE_FORMAT_VERSION:
        raise ArchiveError(
            "the archive was not written by this engine's archive format "
            f"{ARCHIVE_FORMAT_VERSION} (a Rasa model cannot be served by the built-in engine)"
        )
    return metadata


def extract_archive(path: str | os.PathLike[str], target: str | os.PathLike[str]) -> dict[str, Any]:
    """Unpack an archive into the directory `target` (checked as described above).

    Returns the metadata.
    """
    dest = Path(target).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="engine-archive-") as tmp,
        _unpacked_tar(path, Path(tmp) / "model.tar") as tar,
    ):
        _extract_checked(path, tar, dest)
    return _parse_metadata((dest / METADATA_FILE).read_bytes())


def _extract_checked(path: str | os.PathLike[str], tar: tarfile.TarFile, dest: Path) -> None:
    """Extract `tar`'s members into `dest` once every member passed the checks."""
    members = _checked_members(tar)
    names = {_safe_name(m.name) for m in members}
    if METADATA_FILE not in names:
        raise ArchiveError(f"{path}: no {METADATA_FILE} (not a model archive)")
    if "fingerprint.json" in names:
        raise ArchiveError(f"{path}: a Rasa 2.x model, not a model of this engine")
    for info in members:
        name = _safe_name(info.name)
        out = (dest / name).resolve()
        if out != dest and dest not in out.parents:
            raise ArchiveError(f"unsafe path in the archive: {info.name!r}")
        if info.isdir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(info)
        if source is None:
            raise ArchiveError(f"cannot read {info.name!r} from the archive")
        with out.open("wb") as handle:
            shutil.copyfileobj(source, handle)


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Unpack and load a model archive (components are read into memory)."""
    from engine.dialogue import DialogueModel, FlowClassifier
    from engine.llm import LlmComponent
    from engine.nlu import NluModel
    from engine.policies import PolicyEnsemble

    llm = policies = None
    with tempfile.TemporaryDirectory(prefix="engine-model-") as tmp:
        metadata = extract_archive(path, tmp)
        components = Path(tmp) / COMPONENTS_DIR
        for name in (NLU_COMPONENT, FLOW_CLASSIFIER_COMPONENT, DIALOGUE_COMPONENT):
            if not (components / name).is_dir():
                raise ArchiveError(f"{path}: the component {COMPONENTS_DIR}/{name} is missing")
        try:
            nlu = NluModel.load(components / NLU_COMPONENT)
            flow_classifier = FlowClassifier.load(components / FLOW_CLASSIFIER_COMPONENT)
            dialogue_model = DialogueModel.load(components / DIALOGUE_COMPONENT)
            if (components / LLM_COMPONENT).is_dir():
                llm = LlmComponent.load(components / LLM_COMPONENT)
            if (components / POLICIES_COMPONENT).is_dir():
                policies = PolicyEnsemble.load(components / POLICIES_COMPONENT)
        except ArchiveError:
            raise
        except Exception as exc:
            raise ArchiveError(f"{path}: cannot load the model's components ({exc})") from exc
    return LoadedModel(
        metadata=metadata,
        dialogue_model=dialogue_model,
        nlu=nlu,
        flow_classifier=flow_classifier,
        path=str(path),
        llm=llm,
        policies=policies,
    )
