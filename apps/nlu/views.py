"""NLU pages (issue 7): intents with example counts, the examples editor with entity
annotation by text selection, entities, and the synonym / regex / lookup table editors."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows.models import Response
from apps.nlu import services
from apps.nlu.forms import (
    AnnotateForm,
    EntityForm,
    ExamplesForm,
    IntentForm,
    LexiconForm,
    MoveExamplesForm,
    SubIntentForm,
)
from apps.nlu.models import Entity, Example, Intent, LookupTable, Regex, Synonym
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid
from apps.projects.content.usages import usages
from apps.projects.shortcuts import delete_page, render_form

LEXICONS = {
    "synonyms": (Synonym, "synonym", "Synonyms"),
    "regexes": (Regex, "regex", "Regexes"),
    "lookups": (LookupTable, "lookup table", "Lookup tables"),
}


def _entities(assistant) -> dict[str, dict]:
    return {
        e.name: e.definition or {}
        for e in Entity.objects.filter(assistant=assistant).order_by("name")
    }


def _base(request, assistant, tab: str, **extra) -> dict:
    return {"assistant": assistant, "tab": tab, **extra}


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
def intent_list(request, assistant):
    form = IntentForm(request.POST or None, assistant=assistant)
    if request.method == "POST" and form.is_valid():
        try:
            intent = services.create_intent(assistant, **form.cleaned_data)
        except ContentInvalid as exc:
            form.add_problems(exc.problems, "name")
        else:
            messages.success(request, f"Intent {intent.name} created. Add its examples.")
            return redirect("nlu:intent", assistant.name, intent.name)
    query = (request.GET.get("q") or "").strip()
    intents = Intent.objects.filter(assistant=assistant).annotate(count=Count("examples"))
    if query:
        intents = intents.filter(name__icontains=query)
    return render_form(
        request,
        "nlu/intents.html",
        _base(
            request,
            assistant,
            "intents",
            rows=_grouped(list(intents.order_by("name"))),
            form=form,
            query=query,
        ),
    )


def _grouped(intents: list[Intent]) -> list[dict]:
    """One row per intent, a retrieval intent's sub-intents (``chitchat/ask_name``) grouped
    under their parent (``chitchat``) when it is listed; the parent's count includes theirs."""
    listed = {intent.name for intent in intents}
    subs: dict[str, list[Intent]] = {}
    top: list[Intent] = []
    for intent in intents:
        parent, slash, _ = intent.name.partition("/")
        if slash and parent in listed:
            subs.setdefault(parent, []).append(intent)
        else:
            top.append(intent)
    rows = []
    for intent in top:
        children = subs.get(intent.name, [])
        # `count` is the examples count the list's query annotates.
        total = sum(getattr(i, "count", 0) for i in (intent, *children))
        rows.append({"intent": intent, "subs": children, "count": total})
    return rows


def _responses(assistant, names: list[str]) -> dict[str, list[str]]:
    """The variation texts of the responses called `names` that exist."""
    return {
        r.name: [v.get("text") or "(no text)" for v in r.variations if isinstance(v, dict)]
        for r in Response.objects.filter(assistant=assistant, name__in=names)
    }


def _retrieval(assistant, intent: Intent) -> dict:
    """What the page of a retrieval intent or sub-intent shows beyond its own examples: for a
    parent, each sub-intent with its examples and its response ``utter_<parent>/<sub>``; for a
    sub-intent, its parent and its response."""
    parent, slash, _ = intent.name.partition("/")
    if slash:
        name = f"utter_{intent.name}"
        return {
            "parent": parent,
            "response_name": name,
            "response": _responses(assistant, [name]).get(name),
        }
    children = list(
        Intent.objects.filter(assistant=assistant, name__startswith=f"{intent.name}/")
        .prefetch_related("examples")
        .order_by("name")
    )
    responses = _responses(assistant, [f"utter_{c.name}" for c in children])
    subs = [
        {
            "intent": child,
            "short": child.name.partition("/")[2],
            "examples": [e.text for e in child.examples.all()],
            "response_name": f"utter_{child.name}",
            "response": responses.get(f"utter_{child.name}"),
        }
        for child in children
    ]
    return {"subs": subs}


def _intent_page(
    request, assistant, intent, *, form=None, move_form=None, sub_form=None, status=200
):
    entities = _entities(assistant)
    examples = list(Example.objects.filter(intent=intent))
    rows = []
    for example in examples:
        parts, last = [], 0
        for index, ent in sorted(
            enumerate(example.entities), key=lambda pair: (pair[1]["start"], pair[1]["end"])
        ):
            if ent["start"] < last:
                continue
            parts.append({"text": example.text[last : ent["start"]]})
            parts.append(
                {
                    "text": example.text[ent["start"] : ent["end"]],
                    "entity": ent["entity"],
                    "role": ent.get("role", ""),
                    "value": ent.get("value"),
                    "index": index,
                }
            )
            last = ent["end"]
        parts.append({"text": example.text[last:]})
        rows.append({"example": example, "parts": parts})
    context = _base(
        request,
        assistant,
        "intents",
        intent=intent,
        rows=rows,
        entities=entities,
        form=form or ExamplesForm(intent=intent, entities=entities),
        move_form=move_form or MoveExamplesForm(assistant=assistant, intent=intent),
        sub_form=sub_form or SubIntentForm(intent=intent, entities=entities),
        used_in=usages(assistant).get(("intent", intent.name), []),
        retrieval=_retrieval(assistant, intent),
    )
    return render(request, "nlu/intent.html", context, status=status)


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
def intent_detail(request, assistant, intent_name):
    intent = get_object_or_404(Intent, assistant=assistant, name=intent_name)
    if request.method == "POST" and "sub-name" in request.POST:
        return _create_sub_intent(request, assistant, intent)
    form = ExamplesForm(request.POST or None, intent=intent, entities=_entities(assistant))
    if request.method == "POST":
        if form.is_valid():
            added = services.add_examples(intent, form.cleaned_data["text"])
            messages.success(request, f"{len(added)} example(s) added.")
            return redirect("nlu:intent", assistant.name, intent.name)
        return _intent_page(request, assistant, intent, form=form, status=400)
    return _intent_page(request, assistant, intent)


def _create_sub_intent(request, assistant, parent: Intent):
    if "/" in parent.name:
        messages.error(request, "A sub-intent cannot have sub-intents of its own.")
        return _intent_page(request, assistant, parent, status=400)
    form = SubIntentForm(request.POST, intent=parent, entities=_entities(assistant))
    if form.is_valid():
        try:
            sub = services.create_sub_intent(
                parent, name=form.cleaned_data["name"], examples=form.cleaned_data["text"]
            )
        except ContentInvalid as exc:
            form.add_problems(exc.problems)
        else:
            messages.success(
                request,
                f"Sub-intent {sub.name} created. Add the response utter_{sub.name} that "
                "answers it.",
            )
            return redirect("nlu:intent", assistant.name, sub.name)
    return _intent_page(request, assistant, parent, sub_form=form, status=400)


@assistant_view(Cap.EDIT_NLU)
def intent_delete(request, assistant, intent_name):
    intent = get_object_or_404(Intent, assistant=assistant, name=intent_name)
    return delete_page(
        request,
        assistant,
        item=intent,
        kind="intent",
        usage_kind="intent",
        delete=services.delete_intent,
        done_url=reverse("nlu:intents", args=[assistant.name]),
        back_url=reverse("nlu:intent", args=[assistant.name, intent.name]),
        deleted=f"Intent {intent_name} deleted with its examples.",
    )


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
@require_POST
def examples_move(request, assistant, intent_name):
    intent = get_object_or_404(Intent, assistant=assistant, name=intent_name)
    form = MoveExamplesForm(request.POST, assistant=assistant, intent=intent)
    if not form.is_valid():
        return _intent_page(request, assistant, intent, move_form=form, status=400)
    target = form.cleaned_data["target"]
    moved = services.move_examples(form.cleaned_data["examples"], target)
    messages.success(request, f"{moved} example(s) moved to {target.name}.")
    return redirect("nlu:intent", assistant.name, intent.name)


def _example(assistant, example_id) -> Example:
    return get_object_or_404(
        Example.objects.select_related("intent"), pk=example_id, intent__assistant=assistant
    )


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
@require_POST
def example_annotate(request, assistant, example_id):
    example = _example(assistant, example_id)
    form = AnnotateForm(request.POST, example=example, entities=_entities(assistant))
    if form.is_valid():
        data = form.cleaned_data
        services.annotate(
            example,
            start=data["start"],
            end=data["end"],
            entity=data["entity"],
            role=data["role"],
            synonym=data["synonym"],
        )
        messages.success(
            request, f"Marked {example.text[data['start'] : data['end']]!r} as {data['entity']}."
        )
        return redirect("nlu:intent", assistant.name, example.intent.name)
    for field, errors in form.errors.items():
        for error in errors:
            messages.error(request, f"{'' if field == '__all__' else field + ': '}{error}")
    return _intent_page(request, assistant, example.intent, status=400)


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
@require_POST
def example_unannotate(request, assistant, example_id):
    example = _example(assistant, example_id)
    try:
        index = int(request.GET.get("index", "-1"))
    except ValueError:
        index = -1
    services.remove_annotation(example, index)
    return redirect("nlu:intent", assistant.name, example.intent.name)


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
@require_POST
def example_delete(request, assistant, example_id):
    example = _example(assistant, example_id)
    intent_name = example.intent.name
    example.delete()
    messages.success(request, "Example deleted.")
    return redirect("nlu:intent", assistant.name, intent_name)


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
def entity_list(request, assistant):
    form = EntityForm(request.POST or None, assistant=assistant)
    if request.method == "POST" and form.is_valid():
        try:
            entity = services.save_entity(assistant, old=None, **form.cleaned_data)
        except ContentInvalid as exc:
            form.add_problems(exc.problems)
        else:
            messages.success(request, f"Entity {entity.name} created.")
            return redirect("nlu:entities", assistant.name)
    entities = Entity.objects.filter(assistant=assistant).order_by("name")
    return render_form(
        request,
        "nlu/entities.html",
        _base(request, assistant, "entities", entities=entities, form=form),
    )


def lexicon(request, assistant, kind: str):
    model, label, title = LEXICONS[kind]
    form = None
    if request.method == "POST":
        if request.POST.get("delete"):
            item = model.objects.filter(assistant=assistant, pk=request.POST.get("item_id") or 0)
            item.delete()
            messages.success(request, f"The {label} is deleted.")
            return redirect(f"nlu:{kind}", assistant.name)
        form = LexiconForm(request.POST, assistant=assistant, model=model, label=label)
        if form.is_valid():
            try:
                item = services.save_lexicon(model, assistant, **form.cleaned_data)
            except ContentInvalid:
                form.add_error(None, f"That {label} no longer exists.")
            else:
                messages.success(request, f"{label.capitalize()} {item.name} saved.")
                return redirect(f"nlu:{kind}", assistant.name)
    items = [
        {
            "item": item,
            "form": form
            if form is not None and form.data.get("item_id") == str(item.pk)
            else LexiconForm(
                assistant=assistant,
                model=model,
                label=label,
                prefix=None,
                initial={"item_id": item.pk, "name": item.name, "values": "\n".join(item.examples)},
            ),
        }
        for item in model.objects.filter(assistant=assistant).order_by("name")
    ]
    new_form = (
        form
        if form is not None and not form.data.get("item_id")
        else LexiconForm(assistant=assistant, model=model, label=label)
    )
    return render_form(
        request,
        "nlu/lexicon.html",
        _base(request, assistant, kind, items=items, new_form=new_form, label=label, title=title),
    )


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
def synonym_list(request, assistant):
    return lexicon(request, assistant, "synonyms")


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
def regex_list(request, assistant):
    return lexicon(request, assistant, "regexes")


@assistant_view(Cap.VIEW_NLU, write=Cap.EDIT_NLU)
def lookup_list(request, assistant):
    return lexicon(request, assistant, "lookups")
