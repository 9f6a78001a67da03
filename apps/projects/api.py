from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts.access import Access, AssistantAPIView, GlobalAPIView
from apps.accounts.roles import Cap
from apps.projects import content, services
from apps.projects.files import zip_files
from apps.projects.models import Assistant
from apps.projects.uploads import UploadError, clean_path, read_files
from engine.formats import FormatError


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
        assistant = services.create_assistant(created_by=request.user, **data.validated_data)
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


class ImportOutput(serializers.Serializer):
    imported = serializers.DictField(child=serializers.IntegerField())
    warnings = ProblemOutput(many=True)


class ImportJsonInput(serializers.Serializer):
    files = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False)
    )
    partial = serializers.BooleanField(default=True)


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
        files = content.export_files(self.assistant)
        kind = request.query_params.get("format", "zip")
        if kind == "json":
            return Response({"files": files})
        if kind != "zip":
            return Response({"format": ["Use zip or json."]}, status=status.HTTP_400_BAD_REQUEST)
        response = HttpResponse(zip_files(files), content_type="application/zip")
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
        request=ImportJsonInput, responses={200: ImportOutput, 400: ProblemOutput(many=True)}
    )
    def post(self, request, name):
        try:
            if request.content_type.startswith("multipart/"):
                uploads = [(f.name, f.read()) for f in request.FILES.getlist("files")]
                files = read_files(uploads)
                partial = serializers.BooleanField().to_internal_value(
                    request.data.get("partial", "true")
                )
            else:
                data = ImportJsonInput(data=request.data)
                data.is_valid(raise_exception=True)
                files = {clean_path(p): t for p, t in data.validated_data["files"].items()}
                if not files:
                    raise UploadError("no files were given")
                partial = data.validated_data["partial"]
            report = content.import_files(self.assistant, files, partial=partial)
        except UploadError as exc:
            problem = {
                "file": exc.file,
                "line": None,
                "path": "",
                "message": exc.message,
                "severity": "error",
            }
            return Response({"errors": [problem]}, status=status.HTTP_400_BAD_REQUEST)
        except FormatError as exc:
            return Response({"errors": _problems(exc.problems)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"imported": report.counts, "warnings": _problems(report.warnings)})
