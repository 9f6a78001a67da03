"""The CMS pages: responses, slots and custom actions, each a list (with where each item is
used), an edit page and a delete page."""

from __future__ import annotations

import contextlib
import json

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from apps.accounts.roles import Cap
from apps.flows import services
from apps.flows.forms.actions import ActionForm
from apps.flows.forms.conditions import OPERATORS
from apps.flows.forms.responses import BUTTON_KINDS, ResponseNameForm, VariationForm
from apps.flows.forms.slots import MAPPING_TYPES, SlotForm
from apps.flows.models import CustomAction, Flow, Response, Slot
from apps.flows.selectors import categorical_values, slot_type_summary
from apps.nlu.models import Entity, Intent
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid
from apps.projects.content.usages import distinct_flows, usages
from apps.projects.shortcuts import delete_page, render_form


def _slot_types(assistant) -> dict[str, str]:
    return dict(Slot.objects.filter(assistant=assistant).values_list("name", "type"))


def _shown_value(value) -> str:
    """A YAML value as a person reads it: text as it is, "—" for none, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _list_page(request, assistant, *, items, search: tuple[str, ...], kind: str, template, row):
    """A list page: `items` filtered by the ?q= search over the `search` fields, each item
    shown as `row(item, used_in)` where used_in is one usage per flow that uses it."""
    query = (request.GET.get("q") or "").strip()
    if query:
        condition = Q()
        for name in search:
            condition |= Q(**{f"{name}__icontains": query})
        items = items.filter(condition)
    used = usages(assistant)
    rows = [row(item, distinct_flows(used.get((kind, item.name), []))) for item in items]
    return render(request, template, {"assistant": assistant, "rows": rows, "query": query})


def _delete_page(request, assistant, *, item, kind: str, delete, back: str):
    return delete_page(
        request,
        assistant,
        item=item,
        kind=kind,
        usage_kind="action" if kind == "custom action" else kind,
        delete=delete,
        done_url=reverse(back, args=[assistant.name]),
        back_url=reverse(back, args=[assistant.name]),
        deleted=f"{kind.capitalize()} {item.name} deleted.",
    )


def _used_in(assistant, kind: str, item) -> list:
    key = "action" if kind == "custom action" else kind
    return usages(assistant).get((key, item.name), []) if item is not None else []


# --------------------------------------------------------------------------------------------
# Responses


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def response_list(request, assistant):
    return _list_page(
        request,
        assistant,
        items=Response.objects.filter(assistant=assistant).order_by("name"),
        search=("name",),
        kind="response",
        template="flows/responses.html",
        row=lambda r, used_in: {
            "response": r,
            "text": next(
                (v.get("text") for v in r.variations if isinstance(v, dict) and v.get("text")), ""
            ),
            "used_in": used_in,
        },
    )


def _variation_forms(request, assistant, variations: list) -> list[VariationForm]:
    slots = _slot_types(assistant)
    slot_values = categorical_values(assistant)
    data = request.POST if request.method == "POST" else None
    count = len(variations) + 1
    if data is not None:
        with contextlib.suppress(ValueError):
            count = max(count, int(data.get("variation_count", count)))
    return [
        VariationForm(
            data,
            prefix=f"v{i}",
            variation=variations[i] if i < len(variations) else None,
            slots=slots,
            slot_values=slot_values,
        )
        for i in range(count)
    ]


def _response_page(request, assistant, response: Response | None):
    name_form = ResponseNameForm(request.POST or None, assistant=assistant, response=response)
    forms = _variation_forms(request, assistant, response.variations if response else [])
    errors: list[str] = []
    if request.method == "POST":
        valid = name_form.is_valid() & all(f.is_valid() for f in forms)
        if valid:
            variations = [v for v in (f.variation() for f in forms) if v]
            if not variations:
                errors.append(
                    "A response needs at least one variation with text, an image, "
                    "buttons or a custom payload."
                )
            else:
                try:
                    saved = services.save_response(
                        assistant,
                        name=name_form.cleaned_data["name"],
                        variations=variations,
                        old=response,
                    )
                except ContentInvalid as exc:
                    errors.extend(p.message for p in exc.problems)
                else:
                    messages.success(request, f"Response {saved.name} saved.")
                    return redirect("flows:response_edit", assistant.name, saved.name)
    return render_form(
        request,
        "flows/response_edit.html",
        {
            "assistant": assistant,
            "response": response,
            "name_form": name_form,
            "forms": forms,
            "errors": errors,
            "used_in": _used_in(assistant, "response", response),
            "operators": OPERATORS,
            "button_kinds": BUTTON_KINDS,
            "slots": sorted(_slot_types(assistant)),
        },
    )


@assistant_view(Cap.EDIT_FLOWS)
def response_create(request, assistant):
    return _response_page(request, assistant, None)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def response_edit(request, assistant, response_name):
    response = get_object_or_404(Response, assistant=assistant, name=response_name)
    return _response_page(request, assistant, response)


@assistant_view(Cap.EDIT_FLOWS)
def response_delete(request, assistant, response_name):
    response = get_object_or_404(Response, assistant=assistant, name=response_name)
    return _delete_page(
        request,
        assistant,
        item=response,
        kind="response",
        delete=services.delete_response,
        back="flows:responses",
    )


# --------------------------------------------------------------------------------------------
# Slots


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def slot_list(request, assistant):
    return _list_page(
        request,
        assistant,
        items=Slot.objects.filter(assistant=assistant).order_by("name"),
        search=("name", "type"),
        kind="slot",
        template="flows/slots.html",
        row=lambda s, used_in: {
            "slot": s,
            "type": slot_type_summary(s.type, s.definition),
            "initial_value": _shown_value(s.definition.get("initial_value")),
            "used_in": used_in,
        },
    )


def _slot_field(problem) -> str | None:
    """The slot form's field a problem of the slot is about (None: the form itself)."""
    key = problem.path.rsplit(".", 1)[-1].split("[")[0]
    return key if key in ("values", "initial_value", "type") else None


def _slot_page(request, assistant, slot: Slot | None):
    form = SlotForm(
        request.POST or None,
        assistant=assistant,
        slot=slot,
        intents=Intent.objects.filter(assistant=assistant).values_list("name", flat=True),
        entities=Entity.objects.filter(assistant=assistant).values_list("name", flat=True),
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_slot(
                assistant, name=form.cleaned_data["name"], definition=form.definition(), old=slot
            )
        except ContentInvalid as exc:
            form.add_problems(exc.problems, field_of=_slot_field)
        else:
            messages.success(request, f"Slot {saved.name} saved.")
            return redirect("flows:slot_edit", assistant.name, saved.name)
    return render_form(
        request,
        "flows/slot_edit.html",
        {
            "assistant": assistant,
            "slot": slot,
            "form": form,
            "mapping_types": MAPPING_TYPES,
            "used_in": _used_in(assistant, "slot", slot),
            "flows": Flow.objects.filter(assistant=assistant).values_list("name", flat=True),
        },
    )


@assistant_view(Cap.EDIT_FLOWS)
def slot_create(request, assistant):
    return _slot_page(request, assistant, None)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def slot_edit(request, assistant, slot_name):
    return _slot_page(
        request, assistant, get_object_or_404(Slot, assistant=assistant, name=slot_name)
    )


@assistant_view(Cap.EDIT_FLOWS)
def slot_delete(request, assistant, slot_name):
    slot = get_object_or_404(Slot, assistant=assistant, name=slot_name)
    return _delete_page(
        request, assistant, item=slot, kind="slot", delete=services.delete_slot, back="flows:slots"
    )


# --------------------------------------------------------------------------------------------
# Custom actions


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def action_list(request, assistant):
    return _list_page(
        request,
        assistant,
        items=CustomAction.objects.filter(assistant=assistant).order_by("name"),
        search=("name", "description"),
        kind="action",
        template="flows/actions.html",
        row=lambda a, used_in: {"action": a, "used_in": used_in},
    )


def _action_page(request, assistant, action: CustomAction | None):
    form = ActionForm(request.POST or None, assistant=assistant, action=action)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_action(assistant, old=action, **form.cleaned_data)
        except ContentInvalid as exc:
            form.add_problems(exc.problems, "name")
        else:
            messages.success(request, f"Custom action {saved.name} saved.")
            return redirect("flows:actions", assistant.name)
    return render_form(
        request,
        "flows/action_edit.html",
        {
            "assistant": assistant,
            "action": action,
            "form": form,
            "used_in": _used_in(assistant, "custom action", action),
        },
    )


@assistant_view(Cap.EDIT_FLOWS)
def action_create(request, assistant):
    return _action_page(request, assistant, None)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def action_edit(request, assistant, action_name):
    return _action_page(
        request, assistant, get_object_or_404(CustomAction, assistant=assistant, name=action_name)
    )


@assistant_view(Cap.EDIT_FLOWS)
def action_delete(request, assistant, action_name):
    action = get_object_or_404(CustomAction, assistant=assistant, name=action_name)
    return _delete_page(
        request,
        assistant,
        item=action,
        kind="custom action",
        delete=services.delete_action,
        back="flows:actions",
    )
