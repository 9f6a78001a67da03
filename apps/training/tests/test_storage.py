"""Model archives in a bucket: S3 against an S3-compatible server on loopback (moto), and the
settings for GCS and Azure checked at start-up (their services cannot run here)."""

import os
import subprocess
import sys

import boto3
import pytest

from apps.training import services
from apps.training.models import ModelVersion
from tests.support.processes import ROOT, free_port, stop, wait_for_http
from workers.training import TrainingConsumer

BUCKET = "studio-models"


@pytest.fixture(scope="module")
def s3_url():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url, timeout=30, interval=0.2)
        yield url
    finally:
        stop(server, 10)


@pytest.fixture
def s3(s3_url, settings):
    client = boto3.client(
        "s3",
        endpoint_url=s3_url,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_url,
                "region_name": "us-east-1",
                "access_key": "k",
                "secret_key": "s",
                "location": "studio",
                "file_overwrite": False,
            },
        },
    }
    return client


@pytest.mark.slow
@pytest.mark.django_db
def test_a_trained_model_is_stored_in_s3_and_downloaded_from_it(s3, tiny, admin_client):
    job = services.request_training(tiny, None)
    TrainingConsumer(once=True, worker_id="w").run()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    version = ModelVersion.objects.get(pk=job.version_id)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    # The model, and the training cache's entries next to it (under cache/<assistant id>/).
    models = [key for key in keys if not key.startswith(f"studio/cache/{tiny.pk}/")]
    assert models == [f"studio/{version.model_file}"]
    assert any(key.endswith("/manifest.json") for key in keys)
    stored = s3.get_object(Bucket=BUCKET, Key=models[0])["Body"].read()
    response = admin_client.get("/a/tiny/versions/1/model")
    assert b"".join(response.streaming_content) == stored
    assert stored[:2] == b"\x1f\x8b"  # a gzip archive


def storage_settings(**env):
    code = "from django.conf import settings; print(settings.STORAGES['default'])"
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**base, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "studio.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STUDIO_STORAGE_BACKEND": "gcs", "STUDIO_GCS_BUCKET": "b1"}, "GoogleCloudStorage"),
        (
            {
                "STUDIO_STORAGE_BACKEND": "azure",
                "STUDIO_AZURE_CONTAINER": "c1",
                "STUDIO_AZURE_ACCOUNT_NAME": "acct",
            },
            "AzureStorage",
        ),
        ({"STUDIO_STORAGE_BACKEND": "s3", "STUDIO_S3_BUCKET": "b2"}, "S3Storage"),
    ],
)
def test_bucket_backends_are_configured_from_the_environment(tmp_path, env, expected):
    result = storage_settings(STUDIO_VAR_DIR=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


@pytest.mark.slow
def test_a_bucket_backend_without_its_bucket_stops_at_start(tmp_path):
    result = storage_settings(STUDIO_VAR_DIR=str(tmp_path), STUDIO_STORAGE_BACKEND="gcs")
    assert result.returncode != 0
    assert "STUDIO_GCS_BUCKET must be set when STUDIO_STORAGE_BACKEND=gcs" in result.stderr
