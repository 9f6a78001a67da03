from django.urls import path

from apps.flows import cms_views, views

app_name = "flows"

F = "a/<str:name>/flows/<str:flow_name>"

urlpatterns = [
    path("a/<str:name>/flows", views.flow_list, name="list"),
    path("a/<str:name>/flows/new", views.flow_create, name="create"),
    path(f"{F}/", views.flow_detail, name="detail"),
    path(f"{F}/start", views.flow_start, name="start"),
    path(f"{F}/steps/add", views.step_add, name="step_add"),
    path(f"{F}/steps/edit", views.step_edit, name="step_edit"),
    path(f"{F}/steps/delete", views.step_delete, name="step_delete"),
    path(f"{F}/duplicate", views.flow_duplicate, name="duplicate"),
    path(f"{F}/rename", views.flow_rename, name="rename"),
    path(f"{F}/delete", views.flow_delete, name="delete"),
    path(f"{F}/history", views.flow_history, name="history"),
    path(f"{F}/history/<int:version_id>/restore", views.flow_restore, name="restore"),
    path("a/<str:name>/responses", cms_views.response_list, name="responses"),
    path("a/<str:name>/responses/new", cms_views.response_create, name="response_create"),
    path(
        "a/<str:name>/responses/<str:response_name>/", cms_views.response_edit, name="response_edit"
    ),
    path(
        "a/<str:name>/responses/<str:response_name>/delete",
        cms_views.response_delete,
        name="response_delete",
    ),
    path("a/<str:name>/slots", cms_views.slot_list, name="slots"),
    path("a/<str:name>/slots/new", cms_views.slot_create, name="slot_create"),
    path("a/<str:name>/slots/<str:slot_name>/", cms_views.slot_edit, name="slot_edit"),
    path("a/<str:name>/slots/<str:slot_name>/delete", cms_views.slot_delete, name="slot_delete"),
    path("a/<str:name>/actions", cms_views.action_list, name="actions"),
    path("a/<str:name>/actions/new", cms_views.action_create, name="action_create"),
    path("a/<str:name>/actions/<str:action_name>/", cms_views.action_edit, name="action_edit"),
    path(
        "a/<str:name>/actions/<str:action_name>/delete",
        cms_views.action_delete,
        name="action_delete",
    ),
    path("a/<str:name>/files", cms_views.assistant_files, name="files"),
]
