from django.urls import path

from apps.training import views

app_name = "training"

urlpatterns = [
    path("a/<str:name>/train", views.train, name="train"),
    path("a/<str:name>/training/<int:job_id>", views.job, name="job"),
    path("a/<str:name>/training/<int:job_id>/cancel", views.cancel_job, name="cancel"),
    path("a/<str:name>/versions", views.versions, name="versions"),
    path("a/<str:name>/versions/<int:number>/edit", views.edit_version, name="edit_version"),
    path("a/<str:name>/versions/<int:number>/deploy", views.deploy_version, name="deploy"),
    path("a/<str:name>/versions/<int:number>/model", views.download_model, name="model"),
    path("a/<str:name>/versions/<int:number>/input.zip", views.download_input, name="input"),
    path("a/<str:name>/versions/<int:number>/log", views.version_log, name="log"),
    path("a/<str:name>/try", views.try_page, name="try"),
    path("a/<str:name>/try/message", views.try_message, name="try_message"),
    path("a/<str:name>/try/restart", views.try_restart, name="try_restart"),
    path("a/<str:name>/try/start-flow", views.try_start_flow, name="try_start_flow"),
    path("a/<str:name>/try/version", views.try_version, name="try_version"),
    path("a/<str:name>/try/transcript", views.try_transcript, name="try_transcript"),
]
