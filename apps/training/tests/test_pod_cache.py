"""A training pod's cache link: it reads and writes one entry of its assistant's training cache at
a time, in the storage next to the models; what it sends is checked against its manifest, and
concurrent writers of one entry leave one whole entry."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from apps.training import cache_storage, pods
from apps.training.models import ModelVersion, TrainingJob
from engine.cache import ComponentCache
from engine.remote_cache import HttpCache

KEY = "ab" * 32


@pytest.fixture
def job(assistant):
    version = ModelVersion.objects.create(assistant=assistant, number=2, input_files={})
    return TrainingJob.objects.create(
        assistant=assistant, version=version, status="running", attempts=1
    )


def base(job) -> str:
    return pods.signed_path("training-cache", job.pk, job.attempts)


def entry(tmp_path: Path, content: bytes, key: str = KEY) -> Path:
    """An entry as the engine writes it (files, then the manifest with their checksums)."""
    cache = ComponentCache(tmp_path)
    cache.fetch_or_train(
        "nlu_classifier",
        key,
        train=lambda _say: content,
        persist=lambda value, d: ((d / "model.bin").write_bytes(value), (d / "sub").mkdir(),
                                  (d / "sub" / "more.txt").write_bytes(value[:3])),
        load=lambda d: (d / "model.bin").read_bytes(),
    )  # fmt: skip
    return cache.entry("nlu_classifier", key)


def tar_of(directory: Path, **replace: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            name = path.relative_to(directory).as_posix()
            data = replace.get(name, path.read_bytes())
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def put(client: Client, path: str, body: bytes):
    return client.generic("PUT", path, body, content_type="application/x-tar")


def test_an_entry_put_by_one_pod_is_got_by_another(client, job, tmp_path) -> None:
    path = f"{base(job)}/nlu_classifier/{KEY}"
    assert client.get(path).status_code == 404  # nothing stored yet
    sent = entry(tmp_path / "pod-1", b"weights" * 100)
    answer = put(client, path, tar_of(sent))
    assert answer.status_code == 201, answer.content
    prefix = f"cache/{job.assistant_id}/nlu_classifier/{KEY}"
    assert default_storage.exists(f"{prefix}/manifest.json")
    assert default_storage.open(f"{prefix}/sub/more.txt").read() == b"wei"
    assert put(client, path, tar_of(sent)).json() == {"stored": False}  # one copy is enough

    got = client.get(path)
    assert got.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(got.content)) as tar:
        names = sorted(tar.getnames())
    assert names == ["manifest.json", "model.bin", "sub/more.txt"]
    assert default_storage.exists(f"{prefix}/{cache_storage.LAST_USED}")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"model.bin": b"tampered"}, "files do not match its manifest"),
        ({"manifest.json": b"{not json"}, "manifest.json is not JSON"),
        ({"manifest.json": json.dumps({"format": 1, "component": "policies", "key": KEY,
                                       "files": {}}).encode()}, "describes another entry"),
    ],
)  # fmt: skip
def test_an_entry_that_does_not_match_its_manifest_is_refused(
    client, job, tmp_path, change, said
) -> None:
    sent = entry(tmp_path, b"weights")
    answer = put(client, f"{base(job)}/nlu_classifier/{KEY}", tar_of(sent, **change))
    assert answer.status_code == 400
    assert said in answer.json()["error"] and "nlu_classifier/abababab" in answer.json()["error"]
    assert not default_storage.exists(f"cache/{job.assistant_id}/nlu_classifier/{KEY}/model.bin")


def test_a_tar_reaching_outside_the_entry_and_bad_names_are_refused(client, job) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../../models/x.tar.gz")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    answer = put(client, f"{base(job)}/nlu_classifier/{KEY}", buffer.getvalue())
    assert answer.status_code == 400 and "../../models/x.tar.gz" in answer.json()["error"]
    assert client.get(f"{base(job)}/nlu_classifier/not-a-key").status_code == 404
    assert client.get(f"{base(job)}/Bad..Name/{KEY}").status_code == 404


def test_the_link_dies_with_its_training_and_opens_nothing_else(client, job, tmp_path) -> None:
    path = f"{base(job)}/nlu_classifier/{KEY}"
    token = path.split("/")[3]
    assert client.get(f"/pods/training/{token}/input").status_code == 403
    input_token = pods.signed_path("training-input", job.pk, 1).split("/")[3]
    assert client.get(f"/pods/training/{input_token}/cache/nlu_classifier/{KEY}").status_code == (
        403
    )
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded")
    assert put(client, path, tar_of(entry(tmp_path, b"w"))).status_code == 403
    assert client.get(path).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_entry_leave_one_whole_entry(job, tmp_path) -> None:
    # Two pods trained the same inputs but their files differ (as when training is not
    # byte-for-byte reproducible): whichever wins, files and manifest are of one writer.
    bodies = [tar_of(entry(tmp_path / str(n), bytes([65 + n]) * 200_000)) for n in range(4)]
    path = f"{base(job)}/nlu_classifier/{KEY}"
    gate = threading.Barrier(len(bodies))
    codes: list[int] = []

    def send(body: bytes) -> None:
        gate.wait(timeout=30)
        codes.append(put(Client(), path, body).status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(codes) == [200, 200, 200, 201]
    prefix = cache_storage.entry_prefix(job.assistant_id, "nlu_classifier", KEY)
    stored = cache_storage.entry_tar(prefix)
    assert stored is not None  # every file matches the manifest
    assert sorted(cache_storage.walk(prefix)) == sorted(
        f"{prefix}/{name}" for name in ("manifest.json", "model.bin", "sub/more.txt")
    )


def test_the_engine_reuses_through_the_link_what_another_training_stored(
    live_server, job, tmp_path
) -> None:
    url = live_server.url + base(job)
    first = ComponentCache(tmp_path / "pod-1", remote=HttpCache(url))
    trained = []

    def fetch(cache: ComponentCache) -> bytes:
        return cache.fetch_or_train(
            "nlu_classifier",
            KEY,
            train=lambda _say: trained.append(1) or b"learned",
            persist=lambda value, d: (d / "model.bin").write_bytes(value),
            load=lambda d: (d / "model.bin").read_bytes(),
        )

    lines: list[str] = []
    assert fetch(first) == b"learned" and trained == [1]
    second = ComponentCache(tmp_path / "pod-2", lines.append, remote=HttpCache(url))
    assert fetch(second) == b"learned" and trained == [1]  # fetched, not trained
    assert lines == [f"component nlu_classifier: reused (key {KEY[:8]})"]
    assert (tmp_path / "pod-2" / "nlu_classifier" / KEY / "model.bin").read_bytes() == b"learned"


def test_a_remote_that_fails_costs_only_the_reuse(tmp_path) -> None:
    lines: list[str] = []
    cache = ComponentCache(tmp_path, lines.append, remote=HttpCache("http://127.0.0.1:9"))
    value = cache.fetch_or_train(
        "nlu_classifier",
        KEY,
        train=lambda _say: b"x",
        persist=lambda value, d: (d / "model.bin").write_bytes(value),
        load=lambda d: (d / "model.bin").read_bytes(),
    )
    assert value == b"x"
    assert any("could not fetch the cached nlu_classifier" in line for line in lines)
    assert any("could not send nlu_classifier to the remote" in line for line in lines)
    assert lines[-1].startswith("component nlu_classifier: trained (")
