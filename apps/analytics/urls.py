from django.urls import path

from apps.analytics import views

app_name = "analytics"

urlpatterns = [
    path("a/<str:name>/analytics", views.dashboard, name="dashboard"),
    path("a/<str:name>/analytics/export", views.export, name="export"),
    path("a/<str:name>/analytics/success", views.success_criterion, name="success"),
]
