"""The CMS pages: responses, slots, custom actions (each with "used in"), and the assistant's
config.yml and endpoints.yml editors (issue 7)."""

from __future__ import annotations

import contextlib
import json

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from apps.accounts.roles import Cap
from apps.flows import services
from apps.flows.forms import (
    BUTTON_KINDS,
    MAPPING_TYPES,
    OPERATORS,
    ActionForm,
    AssistantFileForm,
    DeleteForm,
    ResponseNameForm,
    SlotForm,
    VariationForm,
)
from apps.flows.models import CustomAction, Flow, Response, Slot
from apps.flows.selectors import slot_type_summary
from apps.nlu.models import Entity, Intent
from apps.projects.access import assistant_caps, assistant_view
from apps.projects.content.checks import ContentInvalid
from apps.projects.content.usages import distinct_flows, usages
from apps.projects.models import AssistantFiles
from apps.projects.secrets import allowed_env_names


def _can_edit(request, assistant) -> bool:
    return Cap.EDIT_FLOWS in assistant_caps(request.user, assistant)


def _slot_types(assistant) -> dict[str, str]:
    return dict(Slot.objects.filter(assistant=assistant).values_list("name", "type"))


def _shown_value(value) -> str:
    """A YAML value as a person reads it: text as it is, "—" for none, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _problems_to_form(form, exc: ContentInvalid, field: str | None = None) -> None:
    for problem in exc.problems:
        form.add_error(field, problem.message)


def _search(queryset, request, *fields):
    query = (request.GET.get("q") or "").strip()
    if query:
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__icontains": query})
        queryset = queryset.filter(condition)
    return queryset, query


# --------------------------------------------------------------------------------------------
# Responses


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def response_list(request, assistant):
    responses, query = _search(
        Response.objects.filter(assistant=assistant).order_by("name"), request, "name"
    )
    used = usages(assistant)
    rows = [
        {
            "response": r,
            "text": next(
                (v.get("text") for v in r.variations if isinstance(v, dict) and v.get("text")), ""
            ),
            "used_in": distinct_flows(used.get(("response", r.name), [])),
        }
        for r in responses
    ]
    return render(
        request,
        "flows/responses.html",
        {
            "assistant": assistant,
            "rows": rows,
            "query": query,
            "can_edit": _can_edit(request, assistant),
        },
    )


def _variation_forms(request, assistant, variations: list) -> list[VariationForm]:
    slots = _slot_types(assistant)
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
    used = usages(assistant).get(("response", response.name), []) if response else []
    return render(
        request,
        "flows/response_edit.html",
        {
            "assistant": assistant,
            "response": response,
            "name_form": name_form,
            "forms": forms,
            "errors": errors,
            "used_in": used,
            "operators": OPERATORS,
            "button_kinds": BUTTON_KINDS,
            "slots": sorted(_slot_types(assistant)),
            "can_edit": _can_edit(request, assistant),
        },
        status=400 if request.method == "POST" else 200,
    )


@assistant_view(Cap.EDIT_FLOWS)
def response_create(request, assistant):
    return _response_page(request, assistant, None)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def response_edit(request, assistant, response_name):
    response = get_object_or_404(Response, assistant=assistant, name=response_name)
    return _response_page(request, assistant, response)


def _delete_page(request, assistant, *, item, kind: str, delete, back: str, used_in):
    form = DeleteForm(request.POST or None, name=item.name)
    if request.method == "POST" and form.is_valid():
        try:
            delete(item)
        except ContentInvalid as exc:
            for problem in exc.problems:
                form.add_error(None, f"Still in use: {problem.message}")
        else:
            messages.success(request, f"{kind.capitalize()} {item.name} deleted.")
            return redirect(back, assistant.name)
    return render(
        request,
        "flows/delete_item.html",
        {
            "assistant": assistant,
            "item": item,
            "kind": kind,
            "form": form,
            "used_in": used_in,
            "back_url": reverse(back, args=[assistant.name]),
        },
    )


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
        used_in=usages(assistant).get(("response", response.name), []),
    )


# --------------------------------------------------------------------------------------------
# Slots


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def slot_list(request, assistant):
    slots, query = _search(
        Slot.objects.filter(assistant=assistant).order_by("name"), request, "name", "type"
    )
    used = usages(assistant)
    rows = [
        {
            "slot": s,
            "type": slot_type_summary(s.type, s.definition),
            "initial_value": _shown_value(s.definition.get("initial_value")),
            "used_in": distinct_flows(used.get(("slot", s.name), [])),
        }
        for s in slots
    ]
    return render(
        request,
        "flows/slots.html",
        {
            "assistant": assistant,
            "rows": rows,
            "query": query,
            "can_edit": _can_edit(request, assistant),
        },
    )


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
            for problem in exc.problems:
                key = problem.path.rsplit(".", 1)[-1].split("[")[0]
                field = key if key in ("values", "initial_value", "type") else None
                form.add_error(field, problem.message)
        else:
            messages.success(request, f"Slot {saved.name} saved.")
            return redirect("flows:slot_edit", assistant.name, saved.name)
    return render(
        request,
        "flows/slot_edit.html",
        {
            "assistant": assistant,
            "slot": slot,
            "form": form,
            "mapping_types": MAPPING_TYPES,
            "used_in": usages(assistant).get(("slot", slot.name), []) if slot else [],
            "flows": Flow.objects.filter(assistant=assistant).values_list("name", flat=True),
            "can_edit": _can_edit(request, assistant),
        },
        status=400 if request.method == "POST" else 200,
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
        request,
        assistant,
        item=slot,
        kind="slot",
        delete=services.delete_slot,
        back="flows:slots",
        used_in=usages(assistant).get(("slot", slot.name), []),
    )


# --------------------------------------------------------------------------------------------
# Custom actions


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def action_list(request, assistant):
    actions, query = _search(
        CustomAction.objects.filter(assistant=assistant).order_by("name"),
        request,
        "name",
        "description",
    )
    used = usages(assistant)
    rows = [
        {"action": a, "used_in": distinct_flows(used.get(("action", a.name), []))} for a in actions
    ]
    return render(
        request,
        "flows/actions.html",
        {
            "assistant": assistant,
            "rows": rows,
            "query": query,
            "can_edit": _can_edit(request, assistant),
        },
    )


def _action_page(request, assistant, action: CustomAction | None):
    form = ActionForm(request.POST or None, assistant=assistant, action=action)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_action(assistant, old=action, **form.cleaned_data)
        except ContentInvalid as exc:
            _problems_to_form(form, exc, "name")
        else:
            messages.success(request, f"Custom action {saved.name} saved.")
            return redirect("flows:actions", assistant.name)
    return render(
        request,
        "flows/action_edit.html",
        {
            "assistant": assistant,
            "action": action,
            "form": form,
            "used_in": usages(assistant).get(("action", action.name), []) if action else [],
            "can_edit": _can_edit(request, assistant),
        },
        status=400 if request.method == "POST" else 200,
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
        used_in=usages(assistant).get(("action", action.name), []),
    )


# --------------------------------------------------------------------------------------------
# config.yml and endpoints.yml


@assistant_view(Cap.MANAGE_SETTINGS)
def assistant_files(request, assistant):
    files, _ = AssistantFiles.objects.get_or_create(assistant=assistant)
    which = request.GET.get("file") or "config.yml"
    if which not in ("config.yml", "endpoints.yml"):
        which = "config.yml"
    column = "config_yml" if which == "config.yml" else "endpoints_yml"
    form = AssistantFileForm(
        request.POST or None,
        file_name=which,
        env_names=allowed_env_names(assistant),
        assistant=assistant,
        stored=getattr(files, column),
        initial={"text": getattr(files, column)},
    )
    if request.method == "POST" and form.is_valid():
        setattr(files, column, form.cleaned_data["text"])
        files.save(update_fields=[column, "updated_at"])
        messages.success(request, f"{which} saved.")
        for warning in form.warnings:
            messages.warning(request, str(warning.message))
        return redirect(f"{request.path}?file={which}")
    return render(
        request,
        "flows/assistant_files.html",
        {"assistant": assistant, "form": form, "which": which},
        status=400 if request.method == "POST" else 200,
    )
