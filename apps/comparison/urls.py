"""The comparison app's URLs: compare a version with the live one, the confirmation before
making a version live, and conversation replays."""

from django.urls import path

from apps.comparison import views

app_name = "comparison"

urlpatterns = [
    path("a/<str:name>/versions/<int:number>/compare", views.compare, name="compare"),
    path("a/<str:name>/versions/<int:number>/make-live", views.make_live, name="make_live"),
    path("a/<str:name>/comparisons/<int:comparison_id>", views.detail, name="detail"),
    path(
        "a/<str:name>/conversations/<int:conversation_id>/replay",
        views.replay_conversation,
        name="replay_conversation",
    ),
    path(
        "a/<str:name>/conversations/<int:conversation_id>/replays/<int:replay_id>",
        views.replay,
        name="replay",
    ),
    path("a/<str:name>/try/replay", views.replay_try, name="replay_try"),
    path("a/<str:name>/try/replays/<int:try_replay_id>", views.try_replay, name="try_replay"),
]
