"""Train only what changed: the training consumer reuses the components whose inputs are unchanged,
from the cache kept in the storage next to the models."""

import shutil

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.projects import content
from apps.training import services
from apps.training.models import TrainingJob
from tests.support.processes import manage, stop

from .conftest import TINY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPONENTS = ("nlu_classifier", "response_selector", "entity_extractor", "flow_retrieval")


def train_once(assistant, **env: str) -> TrainingJob:
    job = services.request_training(assistant, None)
    trainer = manage("training_consumer", "--once", "--worker-id", "trainer-1", **env)
    assert trainer.wait(240) == 0, stop(trainer)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return job


def test_the_second_training_reuses_what_a_response_edit_did_not_change(tiny, tmp_path) -> None:
    first = train_once(tiny, STUDIO_TRAINING_CACHE_DIR=str(tmp_path / "machine-1"))
    for component in COMPONENTS:
        assert f"component {component}: trained (" in first.log, first.log
    # The authoritative copy is in the storage, next to the models.
    (entry,) = default_storage.listdir(f"cache/{tiny.pk}/nlu_classifier")[0]
    assert default_storage.exists(f"cache/{tiny.pk}/nlu_classifier/{entry}/manifest.json")

    edited = dict(TINY)
    edited["domain.yml"] = TINY["domain.yml"].replace("Bye now.", "See you soon.")
    content.import_files(tiny, edited)
    # Another machine (an empty working copy) gets the cache from the storage.
    second = train_once(tiny, STUDIO_TRAINING_CACHE_DIR=str(tmp_path / "machine-2"))
    for component in COMPONENTS:
        assert f"component {component}: reused (key " in second.log, second.log
    assert f"component nlu_classifier: reused (key {entry[:8]})" in second.log
    assert "See you soon." in str(second.version.input_contents)

    edited["data/nlu.yml"] = TINY["data/nlu.yml"] + "      - cheerio\n"
    content.import_files(tiny, edited)
    third = train_once(tiny, STUDIO_TRAINING_CACHE_DIR=str(tmp_path / "machine-2"))
    assert "component nlu_classifier: trained (" in third.log  # a new example
    assert "component response_selector: reused (key " in third.log


def test_the_cache_can_be_switched_off(tiny, tmp_path) -> None:
    job = train_once(
        tiny, STUDIO_TRAINING_CACHE="false", STUDIO_TRAINING_CACHE_DIR=str(tmp_path / "c")
    )
    assert "component nlu_classifier" not in job.log
    assert "Model written to" in job.log
    assert not default_storage.exists(f"cache/{tiny.pk}")
    assert not (tmp_path / "c").exists()


def _fill(root, component: str, key: str, size: int) -> None:
    from engine.cache import ComponentCache

    ComponentCache(root).fetch_or_train(
        component,
        key,
        train=lambda _say: b"x" * size,
        persist=lambda value, d: (d / "data.bin").write_bytes(value),
        load=lambda d: (d / "data.bin").read_bytes(),
    )


def test_eviction_leaves_the_storage_too_and_incomplete_entries_are_ignored(
    settings, tmp_path
) -> None:
    from workers.training_cache import training_cache

    settings.STUDIO_TRAINING_CACHE_DIR = tmp_path / "work"
    settings.STUDIO_TRAINING_CACHE_MAX_MB = 1
    cache = training_cache(7)
    _fill(cache.local, "nlu_classifier", "a" * 64, 700_000)
    said: list[str] = []
    cache.upload(said.append)
    assert default_storage.exists(f"cache/7/nlu_classifier/{'a' * 64}/manifest.json")
    _fill(cache.local, "nlu_classifier", "b" * 64, 700_000)  # newer: the older one goes
    cache.upload(said.append)
    assert not default_storage.exists(f"cache/7/nlu_classifier/{'a' * 64}/manifest.json")
    assert not default_storage.exists(f"cache/7/nlu_classifier/{'a' * 64}/data.bin")
    assert default_storage.exists(f"cache/7/nlu_classifier/{'b' * 64}/data.bin")
    assert any("Evicted 1" in line for line in said)

    # An entry whose upload never finished (no manifest) is not fetched.
    default_storage.save(f"cache/7/policies/{'c' * 64}/policies.json", ContentFile(b"{}"))
    settings.STUDIO_TRAINING_CACHE_DIR = tmp_path / "other"
    local = training_cache(7).download(said.append)
    assert (local / "nlu_classifier" / ("b" * 64) / "data.bin").stat().st_size == 700_000
    assert not (local / "policies" / ("c" * 64)).exists()


def test_the_index_skips_a_download_whose_manifest_matches_and_fetches_a_changed_one(
    settings, tmp_path
) -> None:
    from workers.training_cache import INDEX, training_cache

    settings.STUDIO_TRAINING_CACHE_DIR = tmp_path / "first"
    key = "d" * 64
    first = training_cache(7)
    _fill(first.local, "nlu_classifier", key, 1000)
    said: list[str] = []
    first.upload(said.append)
    assert any("Stored 1" in line for line in said)
    # The index says it is stored: a second upload sends nothing.
    assert f"nlu_classifier/{key}" in (first.local / INDEX).read_text()
    said.clear()
    first.upload(said.append)
    assert not any("Stored" in line for line in said)

    settings.STUDIO_TRAINING_CACHE_DIR = tmp_path / "second"
    second = training_cache(7)
    local = second.download(said.append)
    entry = local / "nlu_classifier" / key
    assert (entry / "data.bin").read_bytes() == b"x" * 1000
    # Same manifest: not downloaded again (a file changed beside an unchanged manifest stays
    # as it is here; the engine checks entries against their manifests when it reads them).
    (entry / "data.bin").write_bytes(b"y" * 1000)
    said.clear()
    second.download(said.append)
    assert (entry / "data.bin").read_bytes() == b"y" * 1000
    assert not any("Fetched" in line for line in said)

    # The stored entry changed (another manifest): the working copy takes the stored one.
    shutil.rmtree(first.local / "nlu_classifier" / key)
    _fill(first.local, "nlu_classifier", key, 2000)
    for name in ("manifest.json", "data.bin"):
        default_storage.delete(f"cache/7/nlu_classifier/{key}/{name}")
    (first.local / INDEX).unlink()
    first.upload(said.append)
    said.clear()
    second.download(said.append)
    assert (entry / "data.bin").read_bytes() == b"x" * 2000
    assert any("Fetched 1" in line for line in said)


def test_a_training_request_wakes_the_training_consumers(
    tiny, django_capture_on_commit_callbacks, settings, tmp_path
) -> None:
    from apps.training.wakeup import Waker

    settings.VAR_DIR = tmp_path  # this test's own wake-up files

    waker = Waker("training")
    assert not waker.woken()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_training(tiny, None)
    assert waker.woken()
    assert not waker.woken()  # once per wake-up


def test_a_sleeping_consumer_returns_at_once_on_a_wake_up(settings, tmp_path) -> None:
    import threading

    from apps.training import wakeup

    settings.VAR_DIR = tmp_path

    waker = wakeup.Waker("running")
    wakeup._touch(wakeup.wake_file("running"))
    waker.sleep(3600, threading.Event())  # would hang without the wake-up
    assert not waker.woken()
