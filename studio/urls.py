import logging

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.accounts.urls import realm_urlpatterns
from apps.ingestion import api as ingestion_api
from apps.projects import api as projects_api
from apps.projects.access import Access, public_view
from apps.projects.graphql.view import graphql_view
from apps.testing import api as testing_api
from apps.training import api as training_api

log = logging.getLogger(__name__)


class SchemaView(SpectacularAPIView):
    access = Access("public")


@public_view
def healthz(request):
    """Liveness and readiness for load balancers: answers 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        # The detail (host, port, user) is for the operator's log, not for anyone who asks.
        log.exception("Health check: the database did not answer")
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
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
    path(
        "assistants/<str:name>/imports/<int:import_id>",
        projects_api.AssistantImportJobApi.as_view(),
        name="assistant_import_job",
    ),
    path("assistants/<str:name>/train", training_api.TrainApi.as_view(), name="train"),
    path("training-jobs/<int:job_id>", training_api.TrainingJobApi.as_view(), name="training_job"),
    path(
        "assistants/<str:name>/versions",
        training_api.VersionListApi.as_view(),
        name="versions",
    ),
    path(
        "assistants/<str:name>/versions/<str:version>/model",
        training_api.VersionModelApi.as_view(),
        name="version_model",
    ),
    path(
        "assistants/<str:name>/versions/<str:version>/input",
        training_api.VersionInputApi.as_view(),
        name="version_input",
    ),
    path(
        "download/model-file/<str:version>",
        training_api.DownloadModelFileApi.as_view(),
        name="download_model_file",
    ),
    path(
        "download/model-input/<str:version>",
        training_api.DownloadModelInputApi.as_view(),
        name="download_model_input",
    ),
    path(
        "assistants/<str:name>/conversations",
        ingestion_api.ConversationListApi.as_view(),
        name="conversations",
    ),
    path(
        "assistants/<str:name>/conversations/<str:conversation>",
        ingestion_api.ConversationApi.as_view(),
        name="conversation",
    ),
    path(
        "assistants/<str:name>/senders/<str:sender_id>/conversations",
        ingestion_api.SenderConversationsApi.as_view(),
        name="sender_conversations",
    ),
    path("assistants/<str:name>/test-runs", testing_api.TestRunsApi.as_view(), name="test_runs"),
    path(
        "assistants/<str:name>/test-runs/<int:run_id>",
        testing_api.TestRunApi.as_view(),
        name="test_run",
    ),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include((api_v1, "api"))),
    # Every operation resolves its assistant through the access helper (graphql/context.py).
    path("api/graphql/", public_view(graphql_view), name="graphql"),
    # Studio's own Keycloak-compatible realm, for Rasa Pro's `rasa studio login`.
    path("auth/realms/rasa-studio/", include((realm_urlpatterns, "realm"))),
    path("", include("apps.accounts.urls")),
    path("", include("apps.projects.urls")),
    path("", include("apps.flows.urls")),
    path("", include("apps.nlu.urls")),
    path("", include("apps.training.urls")),
    path("", include("apps.ingestion.urls")),
    path("", include("apps.analytics.urls")),
    path("", include("apps.annotation.urls")),
    path("", include("apps.testing.urls")),
    path("", include("apps.comparison.urls")),
]

handler403 = "apps.accounts.errors.permission_denied"
handler404 = "apps.accounts.errors.page_not_found"
handler500 = "apps.accounts.errors.server_error"
