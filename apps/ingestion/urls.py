from django.urls import path

from apps.ingestion import views

app_name = "ingestion"

urlpatterns = [
    path("a/<str:name>/conversations", views.conversation_list, name="list"),
    path("a/<str:name>/conversations/review", views.review, name="review"),
    path("a/<str:name>/conversations/delete", views.delete, name="delete"),
    path("a/<str:name>/conversations/tags", views.tags, name="tags"),
    path("a/<str:name>/conversations/tags/<int:tag_id>", views.tag_edit, name="tag_edit"),
    path(
        "a/<str:name>/conversations/<int:conversation_id>", views.conversation_detail, name="detail"
    ),
    path(
        "a/<str:name>/conversations/<int:conversation_id>/events/<int:event_id>/train",
        views.add_example,
        name="add_example",
    ),
    path("ingestion/status", views.status, name="status"),
    path("ingestion/unrouted", views.unrouted, name="unrouted"),
]
