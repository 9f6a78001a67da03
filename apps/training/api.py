import re

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Cap
from apps.projects.access import (
    Access,
    AssistantAPIView,
    GlobalAPIView,
    assistant_caps,
    get_assistant_for,
)
from apps.projects.api import ProblemOutput
from apps.training import selectors, services
from apps.training.models import ModelVersion, TrainingJob
from apps.training.views.versions import input_response, model_response


class JobOutput(serializers.ModelSerializer):
    assistant = serializers.CharField(source="assistant.name")
    version = serializers.IntegerField(source="version.number")
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)

    class Meta:
        model = TrainingJob
        fields = [
            "id", "assistant", "version", "status", "progress", "error", "attempts",
            "requested_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip


class TrainOutput(JobOutput):
    superseded = serializers.SerializerMethodField(
        help_text="The assistant's queued trainings this request cancelled (job ids): an "
        "assistant keeps only its newest queued training."
    )

    class Meta(JobOutput.Meta):
        fields = [*JobOutput.Meta.fields, "superseded"]

    def get_superseded(self, job) -> list[int]:
        return [old.pk for old in getattr(job, "superseded", [])]


class TrainInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    description = serializers.CharField(required=False, default="", allow_blank=True)
    include_drafts = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Train every flow as it is now (true, the default), or only the published "
        "flows, each with its last published definition (false; drafts are left out).",
    )
    flows = serializers.DictField(
        child=serializers.ChoiceField(choices=["draft", "stable", "published"]),
        required=False,
        default=None,
        allow_null=True,
        help_text='What to train of each flow, by flow id: "draft" (as it is now), "stable" '
        '(its last stable version) or "published" (its last published definition); the flows '
        "not named are trained as include_drafts says.",
    )
    isolated = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Test in isolation: a personal version that only the caller can try; its bot "
        "never becomes the live one.",
    )


class TrainRefusedOutput(serializers.Serializer):
    errors = ProblemOutput(many=True)


class TrainApi(AssistantAPIView):
    """Queue a training of the assistant as it is now (validated and snapshotted first)."""

    access = Access("assistant", Cap.TRAIN)

    @extend_schema(request=TrainInput, responses={202: TrainOutput, 400: TrainRefusedOutput})
    def post(self, request, name):
        if not isinstance(request.data, dict):
            return Response(
                {"non_field_errors": ["The body must be a JSON object."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = TrainInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = services.request_training(self.assistant, request.user, **data.validated_data)
        except services.TrainingRefused as exc:
            errors = [ProblemOutput(p).data for p in exc.problems]
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(TrainOutput(job).data, status=status.HTTP_202_ACCEPTED)


class TrainingJobApi(APIView):
    """A training job's status and progress. Its assistant is resolved through the same access
    helper as every other endpoint: no role on it, 404."""

    access = Access("assistant", Cap.VIEW_ASSISTANT)

    def initial(self, request, *args, **kwargs):
        # Checked before the method is dispatched: whoever may not see the job gets 404 for
        # every method, not 405 for the ones the endpoint lacks.
        super().initial(request, *args, **kwargs)
        job = (
            TrainingJob.objects.select_related("assistant", "version", "requested_by")
            .filter(pk=kwargs["job_id"])
            .first()
        )
        if job is None:
            raise Http404("No such training job.")
        get_assistant_for(request.user, job.assistant.name, self.access.required(request.method))
        self.job = job

    @extend_schema(responses=JobOutput)
    def get(self, request, job_id):
        job = self.job
        data = JobOutput(job).data
        if Cap.MANAGE_SETTINGS not in assistant_caps(request.user, job.assistant):
            # The training's raw output is for those who manage the assistant's settings.
            data["progress"] = ""
            data["error"] = job.error.split("\n", 1)[0]
        return Response(data)


def _version(assistant, version: str) -> ModelVersion:
    if version == "latest":
        found = services.latest_trained(assistant)
    elif re.fullmatch(r"[0-9]{1,18}", version):
        found = ModelVersion.objects.filter(assistant=assistant, number=int(version)).first()
    else:
        found = None
    if found is None:
        raise Http404("No such version (use a version number or 'latest').")
    return found


class VersionModelApi(AssistantAPIView):
    """Download a version's model archive (`latest` = the newest trained version), as CI does."""

    access = Access("assistant", Cap.EXPORT)

    @extend_schema(responses={(200, "application/gzip"): OpenApiTypes.BINARY})
    def get(self, request, name, version):
        return model_response(_version(self.assistant, version))


class VersionInputApi(AssistantAPIView):
    """Download the files a version was trained from, as a zip."""

    access = Access("assistant", Cap.EXPORT)

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, name, version):
        return input_response(_version(self.assistant, version))


class DownloadApi(GlobalAPIView):
    """Rasa Studio's CI download URLs (what `modelDownloadUrls` answers):
    `/api/v1/download/model-file/<version>?assistant=<name>` and `.../model-input/...`. The
    version is a name or a number; the assistant's EXPORT capability is checked as for the
    other downloads."""

    access = Access("authenticated")
    kind = "file"

    @extend_schema(
        parameters=[OpenApiParameter("assistant", str, required=True)],
        responses={
            (200, "application/gzip"): OpenApiTypes.BINARY,
            (200, "application/zip"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request, version):
        name = request.query_params.get("assistant", "")
        if not name:
            return Response(
                {"assistant": ["Add ?assistant=<name>: version names are per assistant."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        assistant = get_assistant_for(request.user, name, Cap.EXPORT)
        found = selectors.find_version(assistant, version)
        if found is None:
            raise Http404("No such version (use a version's name or number, or 'latest').")
        return model_response(found) if self.kind == "file" else input_response(found)


class DownloadModelFileApi(DownloadApi):
    kind = "file"


class DownloadModelInputApi(DownloadApi):
    kind = "input"


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField(help_text="The version's name; empty when it has none.")
    created_at = serializers.DateTimeField()
    trained_at = serializers.DateTimeField(allow_null=True)
    training_status = serializers.CharField(
        allow_null=True,
        help_text="The status of the version's training job (queued, running, succeeded, "
        "failed, cancelled); null for a version that had none.",
    )
    live = serializers.BooleanField(help_text="Whether the version's bot is live now.")
    isolated = serializers.BooleanField(
        help_text="Trained in isolation: a personal version of the person who trained it, "
        "which never becomes the live one."
    )
    flow_sources = serializers.DictField(
        help_text='What each flow was trained from, by flow id: {"source": "draft", "stable" '
        'or "published", "at": when that definition was saved stable or published, '
        '"comment": the stable version\'s comment}; empty for versions trained before this '
        "was recorded."
    )


class VersionListApi(AssistantAPIView):
    """The assistant's model versions, newest first, as the Versions page lists them."""

    access = Access("assistant", Cap.TRY)

    @extend_schema(responses=VersionOutput(many=True))
    def get(self, request, name):
        live = services.live_deployment(self.assistant)
        rows = [
            {
                "number": version.number,
                "name": version.name,
                "created_at": version.created_at,
                "trained_at": version.trained_at,
                "training_status": selectors.job_status(version),
                "live": live is not None and live.version_id == version.pk,
                "isolated": version.isolated,
                "flow_sources": version.flow_sources,
            }
            for version in selectors.versions_newest_first(self.assistant)
        ]
        return Response(VersionOutput(rows, many=True).data)
