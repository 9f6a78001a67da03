"""The Tests page's URLs (the API's are in studio/urls.py, from apps.testing.api)."""

from django.urls import path

from apps.testing import views

app_name = "testing"

urlpatterns = [
    path("a/<str:name>/tests", views.tests_page, name="tests"),
    path("a/<str:name>/tests/edit", views.edit_file, name="edit"),
    path("a/<str:name>/tests/delete", views.delete_file, name="delete"),
    path("a/<str:name>/tests/from-try", views.from_try, name="from_try"),
    path("a/<str:name>/tests/from-try.yml", views.try_download, name="try_download"),
    path(
        "a/<str:name>/tests/from-conversation/<int:conversation_id>",
        views.from_conversation,
        name="from_conversation",
    ),
    path("a/<str:name>/tests/run", views.start_run, name="start_run"),
    path("a/<str:name>/tests/runs/<int:run_id>", views.run_detail, name="run"),
    path("a/<str:name>/tests/runs/<int:run_id>/cancel", views.cancel_run, name="cancel_run"),
]
