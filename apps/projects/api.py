import base64
import binascii

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts.roles import Cap
from apps.projects import content, imports, services
from apps.projects.access import Access, AssistantAPIView, GlobalAPIView
from apps.projects.content.archives import UploadError, clean_path, read_files, zip_files
from apps.projects.forms import locate_upload
from apps.projects.models import Assistant, ImportJob
from apps.projects.upload_handlers import (
    UploadTooLarge,
    check_declared_length,
    check_refused,
    read_uploaded,
)
from engine.formats import FormatError, load_project_files


class AssistantOutput(serializers.ModelSerializer):
    class Meta:
        model = Assistant
        fields = ["name", "api_id", "mode", "language", "description", "created_at", "updated_at"]


class AssistantCreateInput(serializers.ModelSerializer):
    class Meta:
        model = Assistant
        fields = ["name", "mode", "language", "description"]

    def validate_name(self, value):
        if Assistant.objects.filter(name__iexact=value).exists():
            raise serializers.ValidationError(f"An assistant called {value!r} already exists.")
        return value


class AssistantUpdateInput(serializers.ModelSerializer):
    class Meta:
        model = Assistant
        fields = ["mode", "language", "description"]


class AssistantListApi(GlobalAPIView):
    access = Access("global", None, Cap.CREATE_ASSISTANT)

    @extend_schema(responses=AssistantOutput(many=True))
    def get(self, request):
        assistants = Assistant.objects.visible_to(request.user)
        return Response(AssistantOutput(assistants, many=True).data)

    @extend_schema(request=AssistantCreateInput, responses={201: AssistantOutput})
    def post(self, request):
        data = AssistantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        assistant = services.create_assistant(
            created_by=request.user, **data.validated_data, starter_config=True
        )
        return Response(AssistantOutput(assistant).data, status=status.HTTP_201_CREATED)


class AssistantDetailApi(AssistantAPIView):
    access = Access("assistant", Cap.VIEW_ASSISTANT, Cap.MANAGE_SETTINGS)

    @extend_schema(responses=AssistantOutput)
    def get(self, request, name):
        return Response(AssistantOutput(self.assistant).data)

    @extend_schema(request=AssistantUpdateInput, responses=AssistantOutput)
    def patch(self, request, name):
        data = AssistantUpdateInput(self.assistant, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            data.save()
        return Response(AssistantOutput(self.assistant).data)

    @extend_schema(responses={204: None})
    def delete(self, request, name):
        services.delete_assistant(self.assistant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProblemOutput(serializers.Serializer):
    file = serializers.CharField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    path = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.CharField()


class ProblemsOutput(serializers.Serializer):
    """A refusal: every problem found, each naming its file, line and key."""

    errors = ProblemOutput(many=True)


class ImportOutput(serializers.Serializer):
    imported = serializers.DictField(child=serializers.IntegerField())
    warnings = ProblemOutput(many=True)


class ImportLocationsInput(serializers.Serializer):
    """Where things are in the upload, as `rasa train` is told: paths inside the upload,
    relative to the project (a zip's single top folder, if it has one, is not part of them; by
    default config.yml, domain.yml or domain/, data/ and endpoints.yml). A path that is not in
    the upload is refused with 400 naming the field and the path."""

    config = serializers.CharField(
        required=False, allow_blank=True, help_text="the config file (as rasa train --config)"
    )
    domain = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="the domain file or folder (as rasa train --domain)",
    )
    data = serializers.ListField(  # type: ignore[assignment]  # a field, not Serializer.data
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="files or folders holding the training data (as rasa train --data); "
        "in a multipart upload, repeat the field",
    )
    endpoints = serializers.CharField(
        required=False, allow_blank=True, help_text="the endpoints file (as rasa run --endpoints)"
    )


class ImportJsonInput(ImportLocationsInput):
    files = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        help_text="text files by path relative to the project: {path: text}",
    )
    binary_files = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="files that are not text (a PDF document), base64-encoded: {path: base64}; "
        "what the JSON export gives as binary_files",
    )
    partial = serializers.BooleanField(default=True)

    def validate_binary_files(self, value: dict[str, str]) -> dict[str, bytes]:
        """Each file decoded; every one that is not base64 is named with why."""
        decoded: dict[str, bytes] = {}
        errors: dict[str, list[str]] = {}
        for path, data in value.items():
            try:
                decoded[path] = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as exc:
                errors[path] = [f"not valid base64 ({exc})"]
        if errors:
            raise serializers.ValidationError(errors)
        return decoded

    def validate(self, attrs):
        both = sorted(set(attrs.get("files", {})) & set(attrs.get("binary_files", {})))
        if both:
            raise serializers.ValidationError(
                {"binary_files": {path: ["also given in files"] for path in both}}
            )
        return attrs


class ImportMultipartInput(ImportLocationsInput):
    files = serializers.ListField(
        child=serializers.FileField(),
        help_text="loose Rasa project files, or one zip of the project",
    )
    partial = serializers.BooleanField(default=True)  # type: ignore[assignment]


class ImportJobOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "status",
            "partial",
            "progress",
            "file_count",
            "byte_count",
            "item_count",
            "log",
            "imported",
            "warnings",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_url(self, job) -> str:
        return f"/api/v1/assistants/{job.assistant.name}/imports/{job.pk}"


def _problems(problems) -> list[dict]:
    return [ProblemOutput(p).data for p in problems]


class AssistantExportApi(AssistantAPIView):
    """The assistant as Rasa project files: a zip, or `?format=json` for {path: text}."""

    access = Access("assistant", Cap.EXPORT)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["zip", "json"], required=False)],
        responses={(200, "application/zip"): OpenApiTypes.BINARY, (200, "application/json"): dict},
    )
    def get(self, request, name):
        kind = request.query_params.get("format", "zip")
        if kind == "json":
            # Text files by path; files that are not text (a PDF document) in base64.
            files = content.export_files(self.assistant)
            binary = content.binary_files_base64(self.assistant)
            return Response({"files": files, **({"binary_files": binary} if binary else {})})
        if kind != "zip":
            return Response({"format": ["Use zip or json."]}, status=status.HTTP_400_BAD_REQUEST)
        response = HttpResponse(
            zip_files(content.export_archive_files(self.assistant)), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.assistant.name}.zip"'
        return response


class AssistantImportApi(AssistantAPIView):
    """Import Rasa project files: multipart `files` (loose files or one zip) or JSON
    `{"files": {path: text}}`. By default only the items given are updated (`partial`); with
    `partial=false` the upload replaces all content. All or nothing: on any problem nothing
    changes and the answer lists every problem with file, line and key path."""

    access = Access("assistant", Cap.MANAGE_SETTINGS)
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={
            "application/json": ImportJsonInput,
            "multipart/form-data": ImportMultipartInput,
        },
        responses={
            200: ImportOutput,
            202: ImportJobOutput,
            400: ProblemsOutput,
            413: ProblemsOutput,
        },
    )
    def post(self, request, name):
        try:
            check_declared_length(request)
            files, partial, notes = _read_upload(request)
            uploaded = load_project_files(files)  # a file that cannot be read is refused at once
            uploaded.load_warnings.extend(notes)
            job = _background_job(self.assistant, files, uploaded, partial, request.user, notes)
            if job is not None:
                return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
            report = content.import_files(self.assistant, files, partial=partial, uploaded=uploaded)
        except UploadError as exc:
            problem = {
                "file": exc.file,
                "line": None,
                "path": "",
                "message": exc.message,
                "severity": "error",
            }
            code = (
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
                if isinstance(exc, UploadTooLarge)
                else status.HTTP_400_BAD_REQUEST
            )
            return Response({"errors": [problem]}, status=code)
        except FormatError as exc:
            return Response({"errors": _problems(exc.problems)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"imported": report.counts, "warnings": _problems(report.warnings)})


def _read_upload(request) -> tuple[dict, bool, list]:
    """The uploaded files (with the location fields applied), `partial`, and warnings about
    the files the locations leave out."""
    files: dict[str, bytes] | dict[str, str | bytes]
    if request.content_type.startswith("multipart/"):
        given = request.FILES.getlist("files")
        check_refused(request._request)
        fields = ImportLocationsInput(data=request.data)
        fields.is_valid(raise_exception=True)
        files = read_files(read_uploaded(given))
        partial = serializers.BooleanField().to_internal_value(request.data.get("partial", "true"))
    else:
        fields = ImportJsonInput(data=request.data)
        fields.is_valid(raise_exception=True)
        given_json = {
            **fields.validated_data["files"],
            **fields.validated_data.get("binary_files", {}),
        }
        files = _json_files(given_json)
        if not files:
            raise UploadError("no files were given")
        partial = fields.validated_data["partial"]
    located = locate_upload(files, fields.validated_data)
    warning = located.left_out_warning()
    return located.files, partial, [warning] if warning else []


def _json_files(given: dict[str, str | bytes]) -> dict[str, str | bytes]:
    """The JSON body's files by clean path; two names for one path are refused."""
    files: dict[str, str | bytes] = {}
    for raw, data in given.items():
        path = clean_path(raw)
        if path in files:
            raise UploadError("given twice (under another spelling of its path)", raw)
        files[path] = data
    return files


def _background_job(assistant, files, uploaded, partial, user, notes):
    """A queued ImportJob when the upload is too large to import in the request, else None."""
    size = imports.byte_count(files)
    items = imports.item_count(uploaded)
    if imports.too_big_for_the_request(size, items):
        return imports.create_job(
            assistant, files, partial=partial, user=user, items=items, notes=notes
        )
    return None


class AssistantImportJobApi(AssistantAPIView):
    """A background import: its status (queued, running, done, failed), progress, log and
    result (the counts imported, or every problem, in which case nothing changed)."""

    access = Access("assistant", Cap.MANAGE_SETTINGS)

    @extend_schema(responses=ImportJobOutput)
    def get(self, request, name, import_id):
        job = get_object_or_404(ImportJob, pk=import_id, assistant=self.assistant)
        return Response(ImportJobOutput(job).data)
