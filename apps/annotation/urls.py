from django.urls import path

from apps.annotation import views

app_name = "annotation"

urlpatterns = [
    path("a/<str:name>/annotation", views.dashboard, name="dashboard"),
    path("a/<str:name>/annotation/inbox", views.inbox, name="inbox"),
    path("a/<str:name>/annotation/inbox/<int:item_id>", views.inbox_item, name="inbox_item"),
    path(
        "a/<str:name>/annotation/inbox/<int:item_id>/entity",
        views.inbox_entity,
        name="inbox_entity",
    ),
    path(
        "a/<str:name>/annotation/inbox/<int:item_id>/unentity",
        views.inbox_unentity,
        name="inbox_unentity",
    ),
    path("a/<str:name>/annotation/review", views.review_list, name="review_list"),
    path("a/<str:name>/annotation/review/<int:batch_id>", views.review_batch, name="review_batch"),
    path(
        "a/<str:name>/annotation/review/messages/<int:item_id>",
        views.review_item,
        name="review_item",
    ),
    path(
        "a/<str:name>/annotation/review/messages/<int:item_id>/entity",
        views.review_entity,
        name="review_entity",
    ),
    path(
        "a/<str:name>/annotation/review/messages/<int:item_id>/unentity",
        views.review_unentity,
        name="review_unentity",
    ),
    path("a/<str:name>/annotation/history", views.history, name="history"),
    path("a/<str:name>/annotation/history.csv", views.history_export, name="history_export"),
]
