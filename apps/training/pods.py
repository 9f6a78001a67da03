"""How training and bot pods reach Studio's web (the Kubernetes runner, workers/kubernetes.py).

A pod holds no storage or database credentials. It gets signed links instead, each good for one
purpose, one row and one attempt of it:

- a training's input: GET, the version's files as a zip (as the input download gives them);
- a training's model: PUT, the archive it trained, stored where the consumer records it from;
- a training's cache: GET and PUT of one entry of the assistant's training cache at a time
  (``.../cache/<component>/<key>``, a tar of the entry: `apps.training.cache_storage`), so the
  pod's engine reuses what other trainings stored and stores what it trained;
- a bot's model: GET, the version's archive, for as long as the deployment holds a bot.

A link stops working when its row moves on: a finished, cancelled or requeued job (its attempt
changes), a stopped bot. Training links also expire with the training timeout.
"""

from __future__ import annotations

import tempfile
from typing import NamedTuple

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.projects.access import public_view
from apps.projects.content.archives import zip_files
from apps.training import cache_storage, services
from apps.training.models import Deployment, TrainingJob

PURPOSES = {
    "training-input": "training:pod_input",
    "training-model": "training:pod_model",
    "training-cache": "training:pod_cache",
    "bot-model": "training:pod_bot_model",
}
CHUNK = 1 << 20
NOT_RUNNING = "This link is not valid (or its training is no longer running)."


class Link(NamedTuple):
    row_id: int
    attempt: int


def sign(purpose: str, row_id: int, attempt: int) -> str:
    """The signed part of a link for `purpose` (one row, one attempt)."""
    return signing.dumps([row_id, attempt], salt=f"studio.pods.{purpose}", compress=True)


def signed_path(purpose: str, row_id: int, attempt: int) -> str:
    """The path (under STUDIO_KUBERNETES_WEB_URL) of a link for `purpose`; a cache link's is
    the base its entries' paths (``/<component>/<key>``) are appended to."""
    token = sign(purpose, row_id, attempt)
    if purpose == "training-cache":
        entry = reverse(PURPOSES[purpose], args=[token, "component", "0" * 64])
        return entry.rsplit("/", 2)[0]
    return reverse(PURPOSES[purpose], args=[token])


def _link(token: str, purpose: str) -> Link | None:
    max_age = None if purpose == "bot-model" else settings.STUDIO_TRAINING_TIMEOUT + 600
    try:
        row_id, attempt = signing.loads(token, salt=f"studio.pods.{purpose}", max_age=max_age)
        return Link(int(row_id), int(attempt))
    except (signing.BadSignature, TypeError, ValueError):
        return None


def _refused(message: str, status: int = 403) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _running_job(token: str, purpose: str) -> TrainingJob | None:
    link = _link(token, purpose)
    if link is None:
        return None
    return (
        TrainingJob.objects.select_related("assistant", "version")
        .filter(
            pk=link.row_id,
            attempts=link.attempt,
            status=TrainingJob.Status.RUNNING,
            cancel_requested=False,
        )
        .first()
    )


@public_view
@require_http_methods(["GET"])
def training_input(request: HttpRequest, input_link: str) -> HttpResponse:
    job = _running_job(input_link, "training-input")
    if job is None:
        return _refused(NOT_RUNNING)
    return HttpResponse(zip_files(job.version.input_contents), content_type="application/zip")


@public_view
@csrf_exempt
@require_http_methods(["PUT"])
def training_model(request: HttpRequest, model_link: str) -> HttpResponse:
    job = _running_job(model_link, "training-model")
    if job is None:
        return _refused(NOT_RUNNING)
    try:
        length = int(request.headers.get("Content-Length", ""))
    except ValueError:
        return _refused("Send the archive with a Content-Length.", status=411)
    if length > settings.STUDIO_MAX_MODEL_BYTES:
        return _refused(
            f"The archive is {length} bytes; STUDIO_MAX_MODEL_BYTES allows "
            f"{settings.STUDIO_MAX_MODEL_BYTES}.",
            status=413,
        )
    name = services.model_storage_name(job)
    with tempfile.TemporaryFile() as copy:
        received = 0
        while chunk := request.read(CHUNK):
            received += len(chunk)
            copy.write(chunk)
        if received != length:
            return _refused(f"Received {received} of {length} bytes.", status=400)
        copy.seek(0)
        if default_storage.exists(name):  # the pod sent it again (a retry)
            default_storage.delete(name)
        stored = default_storage.save(name, File(copy))
    return JsonResponse({"stored": stored, "bytes": received}, status=201)


def _received(request: HttpRequest, limit: int) -> bytes | JsonResponse:
    """The request's body, or the refusal: no Content-Length, over `limit`, cut short."""
    try:
        length = int(request.headers.get("Content-Length", ""))
    except ValueError:
        return _refused("Send the body with a Content-Length.", status=411)
    if length > limit:
        return _refused(
            f"The body is {length} bytes; STUDIO_MAX_MODEL_BYTES allows {limit}.", status=413
        )
    body = request.read(length)
    if len(body) != length:
        return _refused(f"Received {len(body)} of {length} bytes.", status=400)
    return body


@public_view
@csrf_exempt
@require_http_methods(["GET", "PUT"])
def training_cache(request: HttpRequest, cache_link: str, component: str, key: str) -> HttpResponse:
    """One entry of the assistant's training cache: GET answers it as a tar (404 when the
    storage has no whole one), PUT stores one the pod trained (checked against its manifest;
    201 when stored, 200 when a whole one was there already)."""
    job = _running_job(cache_link, "training-cache")
    if job is None:
        return _refused(NOT_RUNNING)
    if not cache_storage.valid_name(component, key):
        return _refused("Not a cache entry's component and key.", status=404)
    prefix = cache_storage.entry_prefix(job.assistant_id, component, key)
    try:
        if request.method == "GET":
            tar = cache_storage.entry_tar(prefix)
            if tar is None:
                return _refused("The training cache has no such entry.", status=404)
            cache_storage.mark_used(prefix)
            return HttpResponse(tar, content_type="application/x-tar")
        body = _received(request, settings.STUDIO_MAX_MODEL_BYTES)
        if isinstance(body, JsonResponse):
            return body
        try:
            files, manifest = cache_storage.read_tar(body, component, key)
        except cache_storage.BadEntry as exc:
            return _refused(f"The cache entry {component}/{key[:8]}: {exc}.", status=400)
        stored = cache_storage.store_entry(job.assistant_id, component, key, files, manifest)
    except Exception as exc:  # the storage failed (its own errors are not OSErrors)
        return _refused(f"The storage failed: {type(exc).__name__}: {exc}", status=503)
    return JsonResponse({"stored": stored}, status=201 if stored else 200)


@public_view
@require_http_methods(["GET"])
def bot_model(request: HttpRequest, bot_link: str) -> HttpResponseBase:
    link = _link(bot_link, "bot-model")
    deployment = (
        Deployment.objects.holding_a_bot()
        .filter(pk=link.row_id, attempts=link.attempt)
        .select_related("version")
        .first()
        if link
        else None
    )
    if deployment is None or not deployment.version.model_file:
        return _refused("This link is not valid (or its bot has stopped).")
    try:
        handle = default_storage.open(deployment.version.model_file, "rb")
    except OSError:
        return _refused("The model file is missing from storage.", status=404)
    return FileResponse(handle, content_type="application/gzip")
