"""The training app's URLs: train, versions, and Try your assistant."""

from django.urls import path

from apps.training import pods
from apps.training.views import try_views, versions

app_name = "training"

urlpatterns = [
    path("a/<str:name>/train", versions.train, name="train"),
    path("a/<str:name>/training/<int:job_id>", versions.job, name="job"),
    path("a/<str:name>/training/<int:job_id>/cancel", versions.cancel_job, name="cancel"),
    path("a/<str:name>/versions", versions.versions, name="versions"),
    path("a/<str:name>/versions/<int:number>/edit", versions.edit_version, name="edit_version"),
    path("a/<str:name>/versions/<int:number>/deploy", versions.deploy_version, name="deploy"),
    path("a/<str:name>/versions/<int:number>/model", versions.download_model, name="model"),
    path("a/<str:name>/versions/<int:number>/input.zip", versions.download_input, name="input"),
    path("a/<str:name>/versions/<int:number>/log", versions.version_log, name="log"),
    path("a/<str:name>/try", try_views.try_page, name="try"),
    path("a/<str:name>/try/message", try_views.try_message, name="try_message"),
    path("a/<str:name>/try/restart", try_views.try_restart, name="try_restart"),
    path("a/<str:name>/try/start-flow", try_views.try_start_flow, name="try_start_flow"),
    path("a/<str:name>/try/version", try_views.try_version, name="try_version"),
    path("a/<str:name>/try/transcript", try_views.try_transcript, name="try_transcript"),
    path("a/<str:name>/try/language", try_views.try_language, name="try_language"),
    # Signed links for training and bot pods (the Kubernetes runner; see pods.py).
    path("pods/training/<str:input_link>/input", pods.training_input, name="pod_input"),
    path("pods/training/<str:model_link>/model", pods.training_model, name="pod_model"),
    path(
        "pods/training/<str:cache_link>/cache/<str:component>/<str:key>",
        pods.training_cache,
        name="pod_cache",
    ),
    path("pods/bot/<str:bot_link>/model", pods.bot_model, name="pod_bot_model"),
]
