from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.access import Access, AssistantAPIView, GlobalAPIView
from apps.accounts.roles import Cap
from apps.projects import services
from apps.projects.models import Assistant


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
