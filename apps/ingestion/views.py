"""The Conversations pages: the list with its filters, a conversation with its events, tags,
review, turning a user message into an NLU example, and (for SuperUsers) ingestion health."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import InvalidPage, Paginator
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.analytics import drilldown
from apps.ingestion import selectors, services, store
from apps.ingestion.forms import (
    PAGE_SIZE,
    PERIODS,
    AddExampleForm,
    ConversationFilterForm,
    ReviewForm,
    SelectionForm,
    TagForm,
)
from apps.ingestion.models import Conversation, DeadLetter, Event, Tag, UnroutedEvent
from apps.ingestion.presenters import (
    annotated_text,
    displayable_conversation,
    present,
    with_button_titles,
    with_forms_and_reverts,
)
from apps.ingestion.sources import FileSpoolSource, kafka_lag
from apps.projects.access import assistant_view, global_caps, global_view
from apps.training.models import ModelVersion

# A page of a conversation holds whole turns (a user message and all that followed it).
TURNS_PER_PAGE = 50


def _chips(request, form: ConversationFilterForm, filters: dict) -> list[dict]:
    """The active filters, each with the URL of the list without it."""
    chips = []
    params = {k: v for k, v in request.GET.items() if k != "page" and v != ""}
    for name, value in filters.items():
        if name == "page" or (name == "period" and value == "7d" and "period" not in params):
            continue
        shown = PERIODS[value][0] if name == "period" else str(value)
        if name == "outcome":
            shown = drilldown.OUTCOMES[value][0]
        elif name == "flow_outcome":
            shown = drilldown.FLOW_OUTCOMES[value][0]
        rest = {k: v for k, v in params.items() if k != name}
        if name == "period":
            rest = {k: v for k, v in rest.items() if k not in ("start", "end")}
        chips.append(
            {
                "label": form.fields[name].label or name,
                "value": shown,
                "remove": "?" + urlencode(rest),
            }
        )
    return chips


def _page_url(request, page: int) -> str:
    params = {k: v for k, v in request.GET.items() if k != "page" and v != ""}
    params["page"] = page
    return "?" + urlencode(params)


@assistant_view(Cap.VIEW_CONVERSATIONS)
def conversation_list(request, assistant):
    form = ConversationFilterForm(request.GET, assistant=assistant)
    filters = form.filters()
    start, end = form.time_range(filters)
    qs = selectors.filtered_conversations(assistant, filters, start=start, end=end)
    qs = form.with_outcomes(qs, filters)
    page = filters.get("page", 1)
    rows, has_next = selectors.page_of(qs, page, PAGE_SIZE)
    rows = [displayable_conversation(row) for row in rows]
    context = {
        "assistant": assistant,
        "form": form,
        "rows": rows,
        "page": page,
        "previous_url": _page_url(request, page - 1) if page > 1 else None,
        "next_url": _page_url(request, page + 1) if has_next else None,
        "chips": _chips(request, form, filters),
        "tags": Tag.objects.filter(assistant=assistant),
        "is_superuser": Cap.MANAGE_USERS in global_caps(request.user),
        "here": request.get_full_path(),
    }
    template = "ingestion/list_results.html" if request.htmx else "ingestion/list.html"
    return render(request, template, context)


@assistant_view(Cap.VIEW_CONVERSATIONS)
def conversation_detail(request, assistant, conversation_id):
    conversation = get_object_or_404(
        Conversation.objects.prefetch_related("tags"), pk=conversation_id, assistant=assistant
    )
    displayable_conversation(conversation)
    paginator = Paginator(selectors.conversation_turns(conversation), TURNS_PER_PAGE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except InvalidPage:
        page = paginator.page(1)
    show_all = request.GET.get("all") == "1"
    events = []
    if page.object_list:
        first, last = page.object_list[0][0], page.object_list[-1][1]
        events = selectors.conversation_events(conversation)[first:last]
    items = with_forms_and_reverts(with_button_titles([present(event) for event in events]))
    if not show_all:
        items = [item for item in items if not item.quiet]
    sessions = Conversation.objects.filter(
        assistant=assistant, sender_id=conversation.sender_id
    ).order_by("started_at")
    return render(
        request,
        "ingestion/detail.html",
        {
            "assistant": assistant,
            "conversation": conversation,
            "items": items,
            "page": page,
            "show_all": show_all,
            "sessions": sessions,
            "model_version": ModelVersion.objects.filter(
                assistant=assistant, model_id=conversation.model_id
            )
            .exclude(model_id="")
            .first(),
            "tags": Tag.objects.filter(assistant=assistant),
            "here": request.get_full_path(),
        },
    )


def _back(request, assistant, form) -> str:
    """Where to go after an action: the page it came from, if it is one of this assistant's
    conversation pages (never another site)."""
    target = (
        form.cleaned_data.get("next") if form.is_bound and hasattr(form, "cleaned_data") else ""
    )
    prefix = reverse("ingestion:list", args=[assistant.name])
    if target and target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return prefix


def _form_errors(request, form) -> None:
    for field, errors in form.errors.items():
        for error in errors:
            messages.error(request, error if field == "__all__" else f"{field}: {error}")


@assistant_view(Cap.TAG_CONVERSATIONS)
@require_POST
def review(request, assistant):
    form = ReviewForm(request.POST, assistant=assistant)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_back(request, assistant, form))
    chosen = Conversation.objects.filter(pk__in=[c.pk for c in form.cleaned_data["ids"]])
    action, tag = form.cleaned_data["action"], form.cleaned_data.get("tag")
    if action == "reviewed":
        n = services.mark_reviewed(chosen, request.user, True)
        messages.success(request, f"{n} conversation(s) marked reviewed.")
    elif action == "unreviewed":
        n = services.mark_reviewed(chosen, request.user, False)
        messages.success(request, f"{n} conversation(s) marked not reviewed.")
    elif action == "tag":
        n = services.add_tag(chosen, tag)
        messages.success(request, f"Tag {tag.name} added to {n} conversation(s).")
    else:
        n = services.remove_tag(chosen, tag)
        messages.success(request, f"Tag {tag.name} removed from {n} conversation(s).")
    return redirect(_back(request, assistant, form))


@assistant_view(Cap.DELETE_CONVERSATIONS)
@require_POST
def delete(request, assistant):
    form = SelectionForm(request.POST, assistant=assistant)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_back(request, assistant, form))
    pks = [c.pk for c in form.cleaned_data["ids"]]
    conversations, events = services.delete_conversations(Conversation.objects.filter(pk__in=pks))
    messages.success(request, f"Deleted {conversations} conversation(s) ({events} events).")
    target = _back(request, assistant, form)
    detail_prefix = reverse("ingestion:list", args=[assistant.name]) + "/"
    if target.startswith(detail_prefix):  # the conversation page of what was just deleted
        target = reverse("ingestion:list", args=[assistant.name])
    return redirect(target)


@assistant_view(Cap.VIEW_CONVERSATIONS, write=Cap.TAG_CONVERSATIONS)
def tags(request, assistant):
    form = TagForm(request.POST or None, assistant=assistant)
    if request.method == "POST" and form.is_valid():
        tag = form.save()
        messages.success(request, f"Tag {tag.name} created.")
        return redirect("ingestion:tags", assistant.name)
    rows = Tag.objects.filter(assistant=assistant).annotate(used=Count("conversations"))
    return render(
        request,
        "ingestion/tags.html",
        {
            "assistant": assistant,
            "form": form,
            "rows": rows,
        },
    )


@assistant_view(Cap.TAG_CONVERSATIONS)
def tag_edit(request, assistant, tag_id):
    tag = get_object_or_404(Tag, pk=tag_id, assistant=assistant)
    if request.method == "POST" and request.POST.get("delete"):
        name = tag.name
        tag.delete()
        messages.success(request, f"Tag {name} deleted.")
        return redirect("ingestion:tags", assistant.name)
    form = TagForm(request.POST or None, instance=tag, assistant=assistant)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Tag {tag.name} saved.")
        return redirect("ingestion:tags", assistant.name)
    return render(
        request, "ingestion/tag_edit.html", {"assistant": assistant, "form": form, "tag": tag}
    )


@assistant_view(Cap.VIEW_CONVERSATIONS, write=Cap.ANNOTATE)
def add_example(request, assistant, conversation_id, event_id):
    event = get_object_or_404(
        Event.objects.select_related("conversation"),
        pk=event_id,
        type="user",
        conversation_id=conversation_id,
        conversation__assistant=assistant,
    )
    intents = assistant.intents.all()
    initial = {"example": annotated_text(event)}
    if event.intent and intents.filter(name=event.intent).exists():
        initial["intent"] = event.intent
    form = AddExampleForm(request.POST or None, assistant=assistant, initial=initial)
    if request.method == "POST" and form.is_valid():
        example = services.add_example_from_event(
            event, form.cleaned_data["intent"], form.cleaned_data["example"]
        )
        messages.success(
            request, f"Added \u201c{example.text}\u201d to intent {example.intent.name}."
        )
        return redirect("ingestion:detail", assistant.name, event.conversation_id)
    return render(
        request,
        "ingestion/add_example.html",
        {
            "assistant": assistant,
            "event": event,
            "form": form,
            "has_intents": intents.exists(),
        },
    )


# ---------------------------------------------------------------------------------------------
# For SuperUsers: what ingestion could not route or read, and how far behind it is.


@global_view(Cap.MANAGE_USERS)
def unrouted(request):
    if request.method == "POST":
        routed, left = store.reroute_unrouted()
        messages.success(request, f"Routed {routed} event(s); {left} still unrouted.")
        return redirect("ingestion:unrouted")
    groups = (
        UnroutedEvent.objects.values("assistant_id")
        .annotate(
            events=Count("id"), senders=Count("sender_id", distinct=True), last=Max("received_at")
        )
        .order_by("-last")[:200]
    )
    recent = UnroutedEvent.objects.all()[:50]
    return render(request, "ingestion/unrouted.html", {"groups": groups, "recent": recent})


@global_view(Cap.MANAGE_USERS)
def status(request):
    lag, lag_error = [], ""
    if settings.KAFKA_BOOTSTRAP_SERVERS:
        try:
            lag = kafka_lag(timeout=3.0)
        except Exception as exc:  # the page must render while Kafka is down
            lag_error = str(exc)
    return render(
        request,
        "ingestion/status.html",
        {
            "kafka": bool(settings.KAFKA_BOOTSTRAP_SERVERS),
            "topic": settings.KAFKA_TOPIC,
            "group": settings.KAFKA_GROUP_ID,
            "lag": lag,
            "total_lag": sum(row.lag for row in lag),
            "lag_error": lag_error,
            "spool": FileSpoolSource().status(),
            "dead_letters": DeadLetter.objects.all()[:50],
            "dead_letter_count": DeadLetter.objects.count(),
            "unrouted_count": UnroutedEvent.objects.count(),
        },
    )
