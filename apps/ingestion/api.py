"""The conversations API: list (with the review list's filters), one with its events, and
deletion of everything of one sender (for data-deletion requests)."""

from __future__ import annotations

import re
from datetime import UTC

from django.db import models
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.accounts.roles import Cap
from apps.ingestion import selectors, services
from apps.ingestion.forms import PAGE_SIZE, ConversationFilterForm
from apps.ingestion.models import Conversation
from apps.ingestion.presenters import ShownInUtc, displayable
from apps.projects.access import Access, AssistantAPIView

EVENTS_PER_PAGE = 1000


class DateTimeOutput(serializers.DateTimeField):
    """A time in the current zone, or in UTC when it has no local time (0001-01-01 west of
    UTC, 9999-12-31 east of it) rather than failing."""

    def to_representation(self, value):
        if isinstance(displayable(value), ShownInUtc):
            return serializers.DateTimeField(default_timezone=UTC).to_representation(value)
        return super().to_representation(value)


class ConversationOutput(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeOutput,
    }
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    reviewed_by = serializers.SlugRelatedField(
        read_only=True, slug_field="username", allow_null=True
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "sender_id",
            "user_id",
            "session_number",
            "started_at",
            "last_event_at",
            "event_count",
            "user_message_count",
            "channel",
            "model_id",
            "language",
            "reviewed_at",
            "reviewed_by",
            "tags",
        ]


class ConversationListOutput(serializers.Serializer):
    results = ConversationOutput(many=True)
    page = serializers.IntegerField()
    next_page = serializers.IntegerField(allow_null=True)


class EventOutput(serializers.Serializer):
    type = serializers.CharField()
    timestamp = DateTimeOutput()
    data = serializers.JSONField()


class ConversationDetailOutput(ConversationOutput):
    events = serializers.SerializerMethodField()
    events_next_page = serializers.SerializerMethodField()

    class Meta(ConversationOutput.Meta):
        fields = [*ConversationOutput.Meta.fields, "events", "events_next_page"]

    def _events(self, obj):
        page = self.context["events_page"]
        start = (page - 1) * EVENTS_PER_PAGE
        rows = list(selectors.conversation_events(obj)[start : start + EVENTS_PER_PAGE + 1])
        return rows[:EVENTS_PER_PAGE], len(rows) > EVENTS_PER_PAGE

    def get_events(self, obj) -> list[dict]:
        return EventOutput(self._events(obj)[0], many=True).data

    def get_events_next_page(self, obj) -> int | None:
        return self.context["events_page"] + 1 if self._events(obj)[1] else None


class DeleteOutput(serializers.Serializer):
    deleted_conversations = serializers.IntegerField()
    deleted_events = serializers.IntegerField()


_FILTERS = [
    OpenApiParameter(name, str, required=False) for name in ConversationFilterForm.base_fields
]


class ConversationListApi(AssistantAPIView):
    """Conversations, newest first, 100 a page; the same filters as the review list."""

    access = Access("assistant", Cap.VIEW_CONVERSATIONS)

    @extend_schema(
        operation_id="conversations_list", parameters=_FILTERS, responses=ConversationListOutput
    )
    def get(self, request, name):
        form = ConversationFilterForm(request.query_params, assistant=self.assistant)
        if form.errors:
            return Response(form.errors, status=400)
        filters = form.filters()
        start, end = form.time_range(filters)
        qs = selectors.filtered_conversations(self.assistant, filters, start=start, end=end)
        qs = form.with_outcomes(qs, filters)
        page = filters.get("page", 1)
        rows, has_next = selectors.page_of(qs.select_related("reviewed_by"), page, PAGE_SIZE)
        return Response(
            {
                "results": ConversationOutput(rows, many=True).data,
                "page": page,
                "next_page": page + 1 if has_next else None,
            }
        )


class ConversationApi(AssistantAPIView):
    """GET /conversations/{id}: one conversation (session) with its events, 1000 a page
    (`?page=`). DELETE /conversations/{id}: that conversation and its events (204). Deleting
    everything of one sender is /senders/{sender_id}/conversations."""

    access = Access("assistant", Cap.VIEW_CONVERSATIONS, Cap.DELETE_CONVERSATIONS)

    def _row(self, conversation: str) -> Conversation:
        if not re.fullmatch(r"[0-9]{1,18}", conversation):
            raise Http404("No such conversation.")
        row = Conversation.objects.filter(pk=int(conversation), assistant=self.assistant).first()
        if row is None:
            raise Http404("No such conversation.")
        return row

    @extend_schema(
        operation_id="conversation_retrieve",
        parameters=[OpenApiParameter("page", int, required=False)],
        responses=ConversationDetailOutput,
    )
    def get(self, request, name, conversation):
        self._row(conversation)
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            return Response({"page": ["A whole number, from 1."]}, status=400)
        if not 1 <= page <= 100_000:
            return Response({"page": ["A whole number, from 1."]}, status=400)
        row = self._row(conversation)
        return Response(ConversationDetailOutput(row, context={"events_page": page}).data)

    @extend_schema(operation_id="conversation_delete", responses={204: None})
    def delete(self, request, name, conversation):
        row = self._row(conversation)
        services.delete_conversations(Conversation.objects.filter(pk=row.pk))
        return Response(status=204)


class SenderConversationsApi(AssistantAPIView):
    """DELETE /senders/{sender_id}/conversations: every session of that sender, for a
    data-deletion request; answers 200 with what was deleted (0 if nothing was there)."""

    access = Access("assistant", Cap.DELETE_CONVERSATIONS)

    @extend_schema(operation_id="conversations_delete_sender", responses=DeleteOutput)
    def delete(self, request, name, sender_id):
        conversations, events = services.delete_sender(self.assistant, sender_id)
        return Response({"deleted_conversations": conversations, "deleted_events": events})
