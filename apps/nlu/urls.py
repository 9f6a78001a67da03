from django.urls import path

from apps.nlu import views

app_name = "nlu"

urlpatterns = [
    path("a/<str:name>/nlu", views.intent_list, name="intents"),
    path("a/<str:name>/nlu/intents/<path:intent_name>/", views.intent_detail, name="intent"),
    path(
        "a/<str:name>/nlu/intents/<path:intent_name>/delete",
        views.intent_delete,
        name="intent_delete",
    ),
    path(
        "a/<str:name>/nlu/intents/<path:intent_name>/move",
        views.examples_move,
        name="examples_move",
    ),
    path(
        "a/<str:name>/nlu/examples/<int:example_id>/annotate",
        views.example_annotate,
        name="example_annotate",
    ),
    path(
        "a/<str:name>/nlu/examples/<int:example_id>/unannotate",
        views.example_unannotate,
        name="example_unannotate",
    ),
    path(
        "a/<str:name>/nlu/examples/<int:example_id>/delete",
        views.example_delete,
        name="example_delete",
    ),
    path("a/<str:name>/nlu/entities", views.entity_list, name="entities"),
    path("a/<str:name>/nlu/synonyms", views.synonym_list, name="synonyms"),
    path("a/<str:name>/nlu/regexes", views.regex_list, name="regexes"),
    path("a/<str:name>/nlu/lookups", views.lookup_list, name="lookups"),
]
