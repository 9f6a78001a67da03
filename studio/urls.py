from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.accounts.access import Access, public_view
from apps.projects import api as projects_api


class SchemaView(SpectacularAPIView):
    access = Access("public")


@public_view
def healthz(request):
    """Liveness and readiness for load balancers: answers 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("schema", SchemaView.as_view(), name="schema"),
    path("assistants", projects_api.AssistantListApi.as_view(), name="assistants"),
    path("assistants/<str:name>", projects_api.AssistantDetailApi.as_view(), name="assistant"),
    path(
        "assistants/<str:name>/export",
        projects_api.AssistantExportApi.as_view(),
        name="assistant_export",
    ),
    path(
        "assistants/<str:name>/import",
        projects_api.AssistantImportApi.as_view(),
        name="assistant_import",
    ),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include((api_v1, "api"))),
    path("", include("apps.accounts.urls")),
    path("", include("apps.projects.urls")),
]
