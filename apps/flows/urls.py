"""The flows app's URLs: the flows list and canvas, responses, slots and custom actions."""

from django.urls import path

from apps.flows.views import canvas, cms, flows, history, inline, patterns, stable, translations

app_name = "flows"

FLOW = "a/<str:name>/flows/<str:flow_name>"

urlpatterns = [
    path("a/<str:name>/flows", flows.flow_list, name="list"),
    path("a/<str:name>/flows/new", flows.flow_create, name="create"),
    path(f"{FLOW}/", canvas.flow_detail, name="detail"),
    path(f"{FLOW}/start", canvas.flow_start, name="start"),
    path(f"{FLOW}/steps/add", canvas.step_add, name="step_add"),
    path(f"{FLOW}/steps/edit", canvas.step_edit, name="step_edit"),
    path(f"{FLOW}/steps/delete", canvas.step_delete, name="step_delete"),
    path(f"{FLOW}/duplicate", flows.flow_duplicate, name="duplicate"),
    path(f"{FLOW}/rename", flows.flow_rename, name="rename"),
    path(f"{FLOW}/delete", flows.flow_delete, name="delete"),
    path(f"{FLOW}/history", flows.flow_history, name="history"),
    path(f"{FLOW}/history/<int:version_id>/restore", flows.flow_restore, name="restore"),
    path(f"{FLOW}/undo", history.flow_undo, name="undo"),
    path(f"{FLOW}/redo", history.flow_redo, name="redo"),
    path("a/<str:name>/responses", cms.response_list, name="responses"),
    path("a/<str:name>/responses/new", cms.response_create, name="response_create"),
    path("a/<str:name>/responses/<path:response_name>/", cms.response_edit, name="response_edit"),
    path(
        "a/<str:name>/responses/<path:response_name>/delete",
        cms.response_delete,
        name="response_delete",
    ),
    path("a/<str:name>/slots", cms.slot_list, name="slots"),
    path("a/<str:name>/slots/new", cms.slot_create, name="slot_create"),
    path("a/<str:name>/slots/<str:slot_name>/", cms.slot_edit, name="slot_edit"),
    path("a/<str:name>/slots/<str:slot_name>/delete", cms.slot_delete, name="slot_delete"),
    path("a/<str:name>/actions", cms.action_list, name="actions"),
    path("a/<str:name>/actions/new", cms.action_create, name="action_create"),
    path("a/<str:name>/actions/<str:action_name>/", cms.action_edit, name="action_edit"),
    path(
        "a/<str:name>/actions/<str:action_name>/delete",
        cms.action_delete,
        name="action_delete",
    ),
    # Issue 17: flow status (bulk publish / unpublish) and the Patterns tab (system flows).
    path("a/<str:name>/flows/status", flows.flow_status, name="flow_status"),
    path("a/<str:name>/patterns", patterns.pattern_list, name="patterns"),
    path("a/<str:name>/patterns/<str:pattern_name>/", patterns.pattern_detail, name="pattern"),
    path(
        "a/<str:name>/patterns/<str:pattern_name>/customise",
        patterns.pattern_customise,
        name="pattern_customise",
    ),
    path(
        "a/<str:name>/patterns/<str:pattern_name>/reset",
        patterns.pattern_reset,
        name="pattern_reset",
    ),
]

# Issue 19: stable versions of a flow (apps.flows.views.stable).
urlpatterns += [
    path(f"{FLOW}/stable", stable.flow_save_stable, name="save_stable"),
    path(f"{FLOW}/stable/<int:version_id>/revert", stable.flow_revert_stable, name="revert_stable"),
]

# The side panel's inline creations (apps.flows.views.inline).
urlpatterns += [
    path(f"{FLOW}/inline/intent", inline.intent_create, name="inline_intent"),
]

# Issue 19: the assistant's languages and the translation page of each additional language.
urlpatterns += [
    path("a/<str:name>/languages", translations.languages, name="languages"),
    path("a/<str:name>/translations", translations.translation_page, name="translations"),
]
