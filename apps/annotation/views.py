"""The annotation pages: the lead annotator's dashboard (build and assign batches), the
annotator's inbox, the review inbox, and the history with its CSV export."""

from __future__ import annotations

import csv
import json
from typing import cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.annotation import services
from apps.annotation.forms import BatchForm, HistoryFilterForm, LabelForm, SelectionForm
from apps.annotation.models import Annotation, Batch
from apps.ingestion.models import Event
from apps.nlu.forms import AnnotateForm
from apps.nlu.models import Entity, Example
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid

Status = Annotation.Status
TABS = {
    "inbox": ("Inbox", (Status.PENDING,)),
    "saved": ("Saved", (Status.SAVED, Status.APPROVED)),
    "discarded": ("Discarded", (Status.DISCARDED,)),
}
#: Messages of the conversation shown on each side of the one being annotated.
CONTEXT = 4
HISTORY_PAGE = 100


def _with_counts(batches):
    """Batches with how many messages each has, in all and per status (`total`, `pending`...)."""
    per_status = {s.value: Count("annotations", filter=Q(annotations__status=s)) for s in Status}
    return batches.select_related("assignee", "created_by").annotate(
        total=Count("annotations"), **per_status
    )


def _entities(assistant) -> dict[str, dict]:
    return {
        e.name: e.definition or {}
        for e in Entity.objects.filter(assistant=assistant).order_by("name")
    }


def _intent_names(assistant) -> list[str]:
    return list(assistant.intents.order_by("name").values_list("name", flat=True))


# ---------------------------------------------------------------------------------------------
# Dashboard


@assistant_view(Cap.REVIEW_ANNOTATIONS)
def dashboard(request, assistant):
    form = BatchForm(request.POST or None, assistant=assistant)
    matching = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "preview":
            matching = services.matching_messages(assistant, form.filters()).count()
        else:
            assignee = form.cleaned_data["assignee"]
            try:
                batch = services.create_batch(
                    assistant,
                    form.filters(),
                    assignee=assignee,
                    created_by=request.user,
                )
            except services.AnnotationRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"{batch} ({batch.annotations.count()} messages) "
                    f"assigned to {assignee.username}.",
                )
                return redirect("annotation:dashboard", assistant.name)
    messages_left, conversations_left = services.unannotated_totals(assistant)
    open_batches = Batch.objects.filter(assistant=assistant, reviewed_at__isnull=True)
    return render(
        request,
        "annotation/dashboard.html",
        {
            "assistant": assistant,
            "form": form,
            "matching": matching,
            "messages_left": messages_left,
            "conversations_left": conversations_left,
            "batches": _with_counts(open_batches),
            "intents": _intent_names(assistant),
            "has_annotators": services.annotators(assistant).exists(),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


# ---------------------------------------------------------------------------------------------
# The annotator's inbox


def _my_annotations(request, assistant):
    return Annotation.objects.filter(assistant=assistant, batch__assignee=request.user)


INBOX_ACTIONS = [("accept", "Accept"), ("discard", "Discard")]


@assistant_view(Cap.ANNOTATE)
def inbox(request, assistant):
    mine = _my_annotations(request, assistant)
    if request.method == "POST":
        form = SelectionForm(request.POST, annotations=mine, actions=INBOX_ACTIONS)
        if form.is_valid():
            chosen = Annotation.objects.filter(pk__in=[a.pk for a in form.cleaned_data["ids"]])
            _bulk(request, form.cleaned_data["action"], chosen)
        else:
            _report_errors(request, form)
        return redirect(request.get_full_path())
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "inbox"
    rows = mine.filter(status__in=TABS[tab][1]).select_related("batch")
    batch_id = request.GET.get("batch", "")
    if batch_id.isdigit():
        rows = rows.filter(batch_id=int(batch_id))
    batches = Batch.objects.filter(assistant=assistant, assignee=request.user)
    return render(
        request,
        "annotation/inbox.html",
        {
            "assistant": assistant,
            "tab": tab,
            "tabs": [(key, label) for key, (label, _) in TABS.items()],
            "rows": rows.order_by("batch__created_at", "position", "id")[:500],
            "batches": _with_counts(batches.filter(reviewed_at__isnull=True)),
            "batch_id": batch_id,
        },
    )


def _bulk(request, action: str, chosen) -> None:
    if action in ("accept", "save"):
        outcome = services.save(chosen, request.user)
        messages.success(request, f"Saved {outcome.changed} message(s).")
    elif action == "discard":
        outcome = services.discard(chosen, request.user)
        messages.success(request, f"Discarded {outcome.changed} message(s).")
    else:  # approve
        outcome = services.approve(chosen, request.user)
        messages.success(request, f"Approved {outcome.changed} message(s).")
    for note in outcome.notes:
        messages.warning(request, note)


def _report_errors(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


# ---------------------------------------------------------------------------------------------
# One message (the annotator's inbox and the review share the page)

MODES = {
    "inbox": {
        "page": "annotation:inbox_item",
        "entity": "annotation:inbox_entity",
        "unentity": "annotation:inbox_unentity",
        "back": "annotation:inbox",
    },
    "review": {
        "page": "annotation:review_item",
        "entity": "annotation:review_entity",
        "unentity": "annotation:review_unentity",
        "back": "annotation:review_batch",
    },
}


def _item(request, assistant, item_id: int, mode: str) -> Annotation:
    rows = Annotation.objects.filter(assistant=assistant).select_related("batch")
    if mode == "inbox":
        rows = rows.filter(batch__assignee=request.user)
    return get_object_or_404(rows, pk=item_id)


def _context_messages(annotation: Annotation) -> list[dict]:
    """The user and bot messages around the annotated one, oldest first."""
    talk = Event.objects.filter(
        conversation_id=annotation.conversation_id, type__in=("user", "bot")
    )
    order = ("timestamp", "position", "id")
    earlier = talk.filter(
        Q(timestamp__lt=annotation.message_at)
        | Q(timestamp=annotation.message_at, pk__lt=annotation.event_id)
    ).order_by(*(f"-{f}" for f in order))[:CONTEXT]
    later = talk.filter(
        Q(timestamp__gt=annotation.message_at)
        | Q(timestamp=annotation.message_at, pk__gt=annotation.event_id)
    ).order_by(*order)[:CONTEXT]
    rows = [{"event": e, "current": False} for e in reversed(list(earlier))]
    rows.append({"event": None, "current": True})
    rows += [{"event": e, "current": False} for e in later]
    return rows


def _parts(annotation: Annotation) -> list[dict]:
    """The message cut into plain text and marked entities, for the annotator's highlights."""
    parts: list[dict[str, object]] = []
    last = 0
    ordered = sorted(enumerate(annotation.entities), key=lambda p: (p[1]["start"], p[1]["end"]))
    for index, ent in ordered:
        if ent["start"] < last:
            continue
        parts.append({"text": annotation.text[last : ent["start"]]})
        parts.append(
            {
                "text": annotation.text[ent["start"] : ent["end"]],
                "entity": ent["entity"],
                "role": ent.get("role", ""),
                "index": index,
            }
        )
        last = ent["end"]
    parts.append({"text": annotation.text[last:]})
    return parts


def _next_url(assistant, annotation: Annotation, mode: str) -> str:
    if mode == "inbox":
        following = (
            Annotation.objects.filter(
                batch=annotation.batch, status=Status.PENDING, position__gt=annotation.position
            )
            .order_by("position")
            .first()
        )
        if following is not None:
            return reverse(MODES[mode]["page"], args=[assistant.name, following.pk])
        return reverse("annotation:inbox", args=[assistant.name])
    return reverse("annotation:review_batch", args=[assistant.name, annotation.batch_id])


def _item_page(request, assistant, item_id: int, mode: str):
    annotation = _item(request, assistant, item_id, mode)
    form = LabelForm(
        request.POST or None, assistant=assistant, initial={"intent": annotation.intent}
    )
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "label")
        try:
            services.relabel(annotation, intent=form.cleaned_data["intent"])
        except services.AnnotationRefused as exc:
            messages.error(request, str(exc))
            return redirect(MODES[mode]["page"], assistant.name, annotation.pk)
        if action in ("save", "discard", "approve"):
            this = Annotation.objects.filter(pk=annotation.pk)
            if action == "approve":  # the lead's "Save and approve"
                services.save(this, request.user)
            _bulk(request, action, this)
            return redirect(_next_url(assistant, annotation, mode))
        messages.success(request, "Intent changed.")
        return redirect(MODES[mode]["page"], assistant.name, annotation.pk)
    intents = _intent_names(assistant)
    return render(
        request,
        "annotation/item.html",
        {
            "assistant": assistant,
            "annotation": annotation,
            "mode": mode,
            "urls": MODES[mode],
            "form": form,
            "parts": _parts(annotation),
            "context_messages": _context_messages(annotation),
            "entities": _entities(assistant),
            "intents": intents,
            "new_intent": bool(annotation.intent) and annotation.intent not in intents,
            "open": not annotation.batch.reviewed and annotation.added_at is None,
        },
        status=400 if form.errors else 200,
    )


def _mark_entity(request, assistant, item_id: int, mode: str):
    annotation = _item(request, assistant, item_id, mode)
    # The NLU page's form checks the span against `text` and `entities`, which an annotation
    # has as an example does.
    form = AnnotateForm(
        request.POST, example=cast(Example, annotation), entities=_entities(assistant)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.mark_entity(
                annotation,
                start=data["start"],
                end=data["end"],
                entity=data["entity"],
                role=data["role"],
            )
        except services.AnnotationRefused as exc:
            messages.error(request, str(exc))
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{'' if field == '__all__' else field + ': '}{error}")
    return redirect(MODES[mode]["page"], assistant.name, annotation.pk)


def _unmark_entity(request, assistant, item_id: int, mode: str):
    annotation = _item(request, assistant, item_id, mode)
    try:
        index = int(request.GET.get("index", "-1"))
    except ValueError:
        index = -1
    try:
        services.remove_entity(annotation, index)
    except services.AnnotationRefused as exc:
        messages.error(request, str(exc))
    return redirect(MODES[mode]["page"], assistant.name, annotation.pk)


@assistant_view(Cap.ANNOTATE)
def inbox_item(request, assistant, item_id):
    return _item_page(request, assistant, item_id, "inbox")


@assistant_view(Cap.ANNOTATE)
@require_POST
def inbox_entity(request, assistant, item_id):
    return _mark_entity(request, assistant, item_id, "inbox")


@assistant_view(Cap.ANNOTATE)
@require_POST
def inbox_unentity(request, assistant, item_id):
    return _unmark_entity(request, assistant, item_id, "inbox")


# ---------------------------------------------------------------------------------------------
# Review


@assistant_view(Cap.REVIEW_ANNOTATIONS)
def review_list(request, assistant):
    batches = Batch.objects.filter(assistant=assistant)
    return render(
        request,
        "annotation/review_list.html",
        {
            "assistant": assistant,
            "open": _with_counts(batches.filter(reviewed_at__isnull=True)),
            "reviewed": _with_counts(batches.filter(reviewed_at__isnull=False)).order_by(
                "-reviewed_at"
            )[:50],
        },
    )


REVIEW_ACTIONS = [("approve", "Approve"), ("discard", "Discard"), ("save", "Save")]


@assistant_view(Cap.REVIEW_ANNOTATIONS)
def review_batch(request, assistant, batch_id):
    batch = get_object_or_404(_with_counts(Batch.objects.all()), pk=batch_id, assistant=assistant)
    if request.method == "POST":
        if request.POST.get("action") == "add":
            return _add_to_training_data(request, assistant, batch)
        form = SelectionForm(
            request.POST, annotations=batch.annotations.all(), actions=REVIEW_ACTIONS
        )
        if form.is_valid():
            chosen = Annotation.objects.filter(pk__in=[a.pk for a in form.cleaned_data["ids"]])
            _bulk(request, form.cleaned_data["action"], chosen)
        else:
            _report_errors(request, form)
        return redirect("annotation:review_batch", assistant.name, batch.pk)
    return render(
        request,
        "annotation/review_batch.html",
        {
            "assistant": assistant,
            "batch": batch,
            "rows": batch.annotations.select_related("example__intent", "annotated_by"),
        },
    )


def _add_to_training_data(request, assistant, batch: Batch):
    try:
        added = services.add_to_training_data(batch, request.user)
    except services.AnnotationRefused as exc:
        messages.error(request, str(exc))
    except ContentInvalid as exc:
        messages.error(request, f"Nothing was added: {exc}")
    else:
        made = ", ".join(added.created_intents)
        messages.success(
            request,
            f"{batch} reviewed: {len(added.examples)} example(s) added to the training data"
            + (f"; new intent(s) {made}." if made else "."),
        )
        for note in added.notes:
            messages.warning(request, note)
    return redirect("annotation:review_batch", assistant.name, batch.pk)


@assistant_view(Cap.REVIEW_ANNOTATIONS)
def review_item(request, assistant, item_id):
    return _item_page(request, assistant, item_id, "review")


@assistant_view(Cap.REVIEW_ANNOTATIONS)
@require_POST
def review_entity(request, assistant, item_id):
    return _mark_entity(request, assistant, item_id, "review")


@assistant_view(Cap.REVIEW_ANNOTATIONS)
@require_POST
def review_unentity(request, assistant, item_id):
    return _unmark_entity(request, assistant, item_id, "review")


# ---------------------------------------------------------------------------------------------
# History and export


@assistant_view(Cap.REVIEW_ANNOTATIONS)
def history(request, assistant):
    form = HistoryFilterForm(request.GET)
    rows = services.history(assistant, form.filters())
    page = Paginator(rows, HISTORY_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "annotation/history.html",
        {
            "assistant": assistant,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "intents": _intent_names(assistant),
        },
    )


CSV_COLUMNS = [
    "batch",
    "message_at",
    "channel",
    "text",
    "predicted_intent",
    "confidence",
    "intent",
    "entities",
    "status",
    "annotated_by",
    "approved_by",
    "added_to_training_data",
    "note",
]


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@assistant_view(Cap.EXPORT_ANNOTATIONS)
def history_export(request, assistant):
    form = HistoryFilterForm(request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{assistant.name}-annotations.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for a in services.history(assistant, form.filters()).iterator(chunk_size=1000):
        row = [
            a.batch.number,
            a.message_at.isoformat(),
            a.channel,
            a.text,
            a.predicted_intent,
            "" if a.confidence is None else a.confidence,
            a.intent,
            json.dumps(a.entities, ensure_ascii=False),
            a.status,
            a.annotated_by.username if a.annotated_by else "",
            a.approved_by.username if a.approved_by else "",
            a.added_at.isoformat() if a.added_at and a.example_id else "",
            a.note,
        ]
        writer.writerow([_cell(v) for v in row])
    return response
