"""The assistant pages' URLs."""

from django.urls import path

from apps.projects import knowledge, stories, views

app_name = "projects"

urlpatterns = [
    path("", views.welcome, name="welcome"),
    path("assistants/new", views.create, name="create"),
    path("a/<str:name>/", views.open_assistant, name="open"),
    path("a/<str:name>/overview", views.overview, name="overview"),
    path("a/<str:name>/settings", views.settings_page, name="settings"),
    path("a/<str:name>/files", views.assistant_files, name="files"),
    path("a/<str:name>/knowledge", knowledge.knowledge, name="knowledge"),
    path("a/<str:name>/stories", stories.stories, name="stories"),
    path("a/<str:name>/delete", views.delete, name="delete"),
    path("a/<str:name>/import", views.import_content, name="import"),
    path("a/<str:name>/imports/<int:import_id>", views.import_job, name="import_job"),
    path("a/<str:name>/export.zip", views.export_zip, name="export"),
    path("a/<str:name>/secrets", views.secrets_page, name="secrets"),
    path("a/<str:name>/secrets/<int:secret_id>/delete", views.delete_secret, name="delete_secret"),
    path("a/<str:name>/members", views.members, name="members"),
    path("a/<str:name>/members/<int:grant_id>/revoke", views.revoke_member, name="revoke_member"),
]
