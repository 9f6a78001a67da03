"""Train only what changed, on the cluster: a training pod reuses the components of its assistant's
training cache, kept in the storage (S3 here, on loopback), through its signed cache link, and
stores what it trained there; concurrent pods of one assistant leave whole entries."""

from __future__ import annotations

import io
import re
import threading

import pytest
from django.core.files.storage import default_storage

from apps.projects import content
from apps.training import cache_storage, services
from apps.training.models import TrainingJob
from apps.training.tests import test_storage as in_s3
from apps.training.tests.conftest import TINY
from tests.support.processes import wait_for
from workers import kubernetes as kube
from workers.tests import test_kubernetes_runner as on_a_cluster
from workers.training import TrainingConsumer

# The fixtures of the runner's tests (the local cluster) and of the S3 storage's (moto).
on_the_cluster, tiny = on_a_cluster.on_the_cluster, on_a_cluster.tiny
s3_url, s3 = in_s3.s3_url, in_s3.s3
BUCKET = in_s3.BUCKET

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPONENTS = ("nlu_classifier", "response_selector", "entity_extractor", "flow_retrieval")
LINE = re.compile(r"component (\w+): (reused \(key [0-9a-f]{8}\)|trained \(\d+\.\d s\))")


@pytest.fixture
def bucket(s3):
    """The S3 bucket as the default storage, emptied (the server lives for the module)."""
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return s3


def outcomes(log: str) -> dict[str, str]:
    return {m.group(1): m.group(2).split(" ", 1)[0] for m in LINE.finditer(log)}


def train_in_a_pod(assistant, worker_id: str = "trainer-1", **kwargs) -> TrainingJob:
    job = services.request_training(assistant, None)
    runner = kube.KubernetesRunner()
    TrainingConsumer(once=True, runner=runner, worker_id=worker_id, **kwargs).run()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error + job.log
    return job


def stored_keys(s3_client) -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return [item["Key"] for item in listed]


def test_a_pod_reuses_from_the_storage_what_an_edit_did_not_change(
    on_the_cluster, fake_cluster, tiny, bucket
) -> None:
    first = train_in_a_pod(tiny)
    assert outcomes(first.log) == {**dict.fromkeys(COMPONENTS, "trained"), "policies": "trained"}
    # The pod stored its entries in the bucket, next to the model, through the web.
    manifests = [k for k in stored_keys(bucket) if k.endswith("/manifest.json")]
    assert sorted(k.split("/")[3] for k in manifests) == sorted([*COMPONENTS, "policies"])
    assert all(k.startswith(f"studio/cache/{tiny.pk}/") for k in manifests)
    (secret,) = fake_cluster.created["Secret"]
    assert "/cache" in secret["stringData"]["STUDIO_CACHE_URL"]
    (sent,) = fake_cluster.created["Job"]
    command = sent["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--cache-url-env" in command and "STUDIO_CACHE_URL" in command

    edited = dict(TINY)
    edited["domain.yml"] = TINY["domain.yml"].replace("Bye now.", "See you soon.")
    content.import_files(tiny, edited)
    second = train_in_a_pod(tiny)  # a new pod: an empty volume, everything from the storage
    assert outcomes(second.log) == {**dict.fromkeys(COMPONENTS, "reused"), "policies": "reused"}
    (key,) = default_storage.listdir(f"cache/{tiny.pk}/nlu_classifier")[0]
    assert f"component nlu_classifier: reused (key {key[:8]})" in second.log

    edited["data/nlu.yml"] = TINY["data/nlu.yml"] + "      - cheerio\n"
    content.import_files(tiny, edited)
    third = train_in_a_pod(tiny)
    after = outcomes(third.log)
    assert after["nlu_classifier"] == "trained"  # a new example
    assert after["response_selector"] == after["policies"] == "reused"
    assert len(default_storage.listdir(f"cache/{tiny.pk}/nlu_classifier")[0]) == 2


def test_the_storage_is_pruned_after_a_pods_training(
    on_the_cluster, fake_cluster, tiny, bucket, settings
) -> None:
    settings.STUDIO_TRAINING_CACHE_MAX_MB = 0.001  # 1048 bytes: the least recently used go
    said = io.StringIO()
    job = train_in_a_pod(tiny, stdout=said)
    assert "component nlu_classifier: trained (" in job.log
    evicted = re.search(r"Evicted (\d) cached components \(size and age bounds\)", said.getvalue())
    left = cache_storage.stored_entries(tiny.pk)
    assert evicted and int(evicted.group(1)) == 5 - len(left) >= 3
    sizes = [
        item["size"]
        for component, key in left
        for item in cache_storage.read_manifest(
            cache_storage.entry_prefix(tiny.pk, component, key)
        )["files"].values()
    ]
    assert sum(sizes) <= 1048
    assert not [k for k in stored_keys(bucket) if "/nlu_classifier/" in k]  # the first trained


def test_without_the_cache_a_pod_trains_everything_and_stores_nothing(
    on_the_cluster, fake_cluster, tiny, bucket, settings
) -> None:
    settings.STUDIO_TRAINING_CACHE = False
    job = train_in_a_pod(tiny)
    assert "component nlu_classifier" not in job.log and "Model written to" in job.log
    (secret,) = fake_cluster.created["Secret"]
    assert "STUDIO_CACHE_URL" not in secret["stringData"]
    assert not [k for k in stored_keys(bucket) if "/cache/" in k]


def test_concurrent_pods_of_one_assistant_leave_whole_entries(
    on_the_cluster, fake_cluster, tiny, bucket
) -> None:
    jobs, threads = [], []
    for number in (1, 2):
        jobs.append(services.request_training(tiny, None))
        consumer = TrainingConsumer(
            once=True, runner=kube.KubernetesRunner(), worker_id=f"trainer-{number}"
        )
        threads.append(threading.Thread(target=consumer.run, daemon=True))
        threads[-1].start()
        # The first is claimed (so the second request does not supersede it) before the next.
        wait_for(lambda: TrainingJob.objects.get(pk=jobs[0].pk).status == "running", 30)
    for thread in threads:
        thread.join(240)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == "succeeded", job.error + job.log
    # Both trained the same inputs: whichever stored an entry first, each is whole.
    entries = cache_storage.stored_entries(tiny.pk)
    assert sorted(component for component, _key in entries) == sorted([*COMPONENTS, "policies"])
    for component, key in entries:
        prefix = cache_storage.entry_prefix(tiny.pk, component, key)
        assert cache_storage.entry_tar(prefix) is not None, prefix
    third = train_in_a_pod(tiny, "trainer-3")
    assert set(outcomes(third.log).values()) == {"reused"}
