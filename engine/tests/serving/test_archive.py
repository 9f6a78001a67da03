"""Reading archives defensively: traversal, links, sizes, foreign or broken files."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from engine import archive
from engine.archive import ArchiveError, extract_archive, load_model, read_metadata


def _tar(path, members: dict[str, bytes], *, link: tuple[str, str] | None = None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type = tarfile.SYMTYPE
            info.linkname = link[1]
            tar.addfile(info)


def _metadata(tiny_model) -> bytes:
    return json.dumps(read_metadata(tiny_model)).encode()


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "components/../../x", "C:/x"])
def test_it_refuses_paths_outside_the_target(tmp_path, tiny_model, name) -> None:
    bad = tmp_path / "bad.tar.gz"
    _tar(bad, {"metadata.json": _metadata(tiny_model), name: b"x"})
    with pytest.raises(ArchiveError, match="unsafe path"):
        extract_archive(bad, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_it_refuses_links(tmp_path, tiny_model) -> None:
    bad = tmp_path / "bad.tar.gz"
    _tar(bad, {"metadata.json": _metadata(tiny_model)}, link=("components/x", "/etc/passwd"))
    with pytest.raises(ArchiveError, match="not a file or directory"):
        extract_archive(bad, tmp_path / "out")


def test_it_limits_the_unpacked_size(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 100)
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        extract_archive(tiny_model, tmp_path / "out")


def test_a_gzip_bomb_stops_decompressing_at_the_limit(tmp_path, tiny_model, monkeypatch) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    _tar(bomb, {"metadata.json": _metadata(tiny_model), "components/zeros": bytes(8 << 20)})
    assert bomb.stat().st_size < 100_000
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 1 << 20)
    monkeypatch.setattr(archive, "_TAR_OVERHEAD", 0)

    def never(_tar):
        raise AssertionError("the members were listed: the whole archive was decompressed")

    monkeypatch.setattr(archive, "_checked_members", never)
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        extract_archive(bomb, tmp_path / "out")
    assert not (tmp_path / "out" / "components").exists()


def test_a_truncated_archive_is_reported_as_corrupt(tmp_path, tiny_model) -> None:
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tiny_model.read_bytes()[:-200])
    with pytest.raises(ArchiveError, match="corrupt"):
        load_model(cut)


def test_it_limits_the_archive_size(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 10)
    with pytest.raises(ArchiveError, match="larger than the limit"):
        load_model(tiny_model)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a tar at all", "not a gzip tar"),
        (None, "no metadata.json"),
        (b"[1]", "must hold an object"),
        (b'{"model_id": "x"}', "lacks domain"),
    ],
)
def test_it_refuses_foreign_files(tmp_path, content, message) -> None:
    path = tmp_path / "model.tar.gz"
    if content == b"not a tar at all":
        path.write_bytes(content)
    else:
        _tar(path, {"metadata.json": content} if content is not None else {"other": b"x"})
    with pytest.raises(ArchiveError, match=message):
        load_model(path)


def test_it_refuses_rasa_models(tmp_path, tiny_model) -> None:
    metadata = read_metadata(tiny_model)
    del metadata["engine"]
    metadata["engine"] = {"name": "rasa"}
    path = tmp_path / "rasa.tar.gz"
    _tar(path, {"metadata.json": json.dumps(metadata).encode()})
    with pytest.raises(ArchiveError, match="cannot be served by the built-in engine"):
        load_model(path)


def test_it_reports_missing_components(tmp_path, tiny_model) -> None:
    path = tmp_path / "empty.tar.gz"
    _tar(path, {"metadata.json": _metadata(tiny_model)})
    with pytest.raises(ArchiveError, match="components/nlu is missing"):
        load_model(path)


def test_it_reports_a_missing_file(tmp_path) -> None:
    with pytest.raises(ArchiveError, match="no such model archive"):
        load_model(tmp_path / "nope.tar.gz")
