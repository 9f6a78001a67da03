"""The test runs API, for CI: start a run of the assistant's e2e suite against a version, then
poll it for its status, progress and per-case results."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.roles import Cap
from apps.projects.access import Access, AssistantAPIView
from apps.testing import services
from apps.testing.models import TestRun


class RunOutput(serializers.ModelSerializer):
    assistant = serializers.CharField(source="assistant.name")
    version = serializers.IntegerField(source="version.number")
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)
    passed = serializers.SerializerMethodField(
        help_text="True once the run finished with no failed case; null while it runs."
    )

    class Meta:
        model = TestRun
        fields = [
            "id", "assistant", "version", "status", "passed", "case_count", "done_count",
            "passed_count", "failed_count", "skipped_count", "error", "attempts",
            "requested_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip

    def get_passed(self, run) -> bool | None:
        if not run.is_finished:
            return None
        return run.status == TestRun.Status.PASSED


class RunDetailOutput(RunOutput):
    results = serializers.JSONField(
        help_text="Per case: name, file, line, status (passed, failed, skipped), failure "
        "(step, line, expected, actual, message), skipped, transcript, events, seconds."
    )

    class Meta(RunOutput.Meta):
        fields = [*RunOutput.Meta.fields, "results"]


class RunInput(serializers.Serializer):
    version = serializers.CharField(
        required=False,
        default="latest",
        max_length=200,
        help_text="A version number or name; 'latest' (the default): the newest trained one.",
    )


class TestRunsApi(AssistantAPIView):
    """The assistant's test runs (newest first); POST queues a run of its test cases."""

    access = Access("assistant", Cap.VIEW_FLOWS, Cap.TRAIN)

    @extend_schema(responses=RunOutput(many=True))
    def get(self, request, name):
        runs = TestRun.objects.filter(assistant=self.assistant).select_related(
            "assistant", "version", "requested_by"
        )[:50]
        return Response(RunOutput(runs, many=True).data)

    @extend_schema(request=RunInput, responses={202: RunOutput})
    def post(self, request, name):
        if not isinstance(request.data, dict):
            return Response(
                {"non_field_errors": ["The body must be a JSON object."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.resolve_version(self.assistant, data.validated_data["version"])
        if version is None:
            return Response(
                {"version": ["No such version (a number, a name, or 'latest')."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            run = services.request_run(self.assistant, version, request.user)
        except services.RunRefused as exc:
            return Response({"non_field_errors": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(RunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class TestRunApi(AssistantAPIView):
    """One test run: its status, progress and (once finished) per-case results."""

    access = Access("assistant", Cap.VIEW_FLOWS)

    @extend_schema(responses=RunDetailOutput)
    def get(self, request, name, run_id):
        run = (
            TestRun.objects.select_related("assistant", "version", "requested_by")
            .filter(assistant=self.assistant, pk=run_id)
            .first()
        )
        if run is None:
            raise Http404("No such test run.")
        return Response(RunDetailOutput(run).data)
