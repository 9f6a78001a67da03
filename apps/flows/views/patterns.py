"""The Patterns tab (issue 17): Rasa's conversation patterns with their default steps, each
customisable (which creates the user flow of that name and opens it on the canvas) and
resettable to its default (which deletes that flow, keeping its history)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows.canvas import KIND_LABELS
from apps.flows.services import patterns, status
from apps.flows.services.flows import StaleFlow, check_revision
from apps.flows.views.revision import RevisionMissing, posted_revision, revision_missing_page
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid
from engine import formats


@dataclass
class ShownStep:
    """One step of a pattern's default steps, as the read-only step list shows it."""

    label: str
    text: str
    id: str | None = None
    goes_to: str | None = None  # a step id or END
    branches: list[ShownBranch] = field(default_factory=list)


@dataclass
class ShownBranch:
    condition: str | None  # None for Else
    steps: list[ShownStep] = field(default_factory=list)
    goes_to: str | None = None


def _text(view: formats.StepView) -> str:
    if view.kind == "set_slots":
        return ", ".join(f"{name} = {value}" for name, value in view.set_slots)
    if view.kind == "noop":
        return "Checks the conditions below" if view.branches else "Does nothing"
    return str(view.target or "")


def _label(view: formats.StepView) -> str:
    if view.kind == "action" and (view.target or "").startswith("utter_"):
        return KIND_LABELS["message"]
    if view.kind == "action" and (
        view.target in formats.defaults.DEFAULT_ACTIONS or "{{" in (view.target or "")
    ):
        return "Rasa action"
    return KIND_LABELS.get(view.kind, view.kind)


def shown_steps(views: list[formats.StepView]) -> list[ShownStep]:
    shown = []
    for view in views:
        step = ShownStep(
            label=_label(view),
            text=_text(view),
            id=view.id if view.explicit_id else None,
            goes_to=view.next,
        )
        for branch in view.branches or []:
            step.branches.append(
                ShownBranch(
                    condition=None if branch.condition is None else str(branch.condition),
                    steps=shown_steps(branch.steps or []),
                    goes_to=branch.target,
                )
            )
        shown.append(step)
    return shown


def _rows(assistant) -> list[dict]:
    rows = []
    for pattern in patterns.patterns(assistant):
        state = status.status_of(pattern.flow) if pattern.flow is not None else None
        rows.append(
            {"pattern": pattern, "status": state, "status_label": status.LABELS.get(state or "")}
        )
    return rows


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def pattern_list(request, assistant):
    return render(
        request,
        "flows/patterns.html",
        {"assistant": assistant, "rows": _rows(assistant), "tab": "patterns"},
    )


def _pattern_or_404(assistant, name: str) -> patterns.Pattern:
    try:
        return patterns.get_pattern(assistant, name)
    except patterns.NotAPattern:
        raise Http404(f"There is no pattern {name}.") from None


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def pattern_detail(request, assistant, pattern_name):
    pattern = _pattern_or_404(assistant, pattern_name)
    default = pattern.default or {}
    state = status.status_of(pattern.flow) if pattern.flow is not None else None
    return render(
        request,
        "flows/pattern_detail.html",
        {
            "assistant": assistant,
            "pattern": pattern,
            "steps": shown_steps(formats.step_views(default.get("steps") or [], pattern.name)),
            "yaml": formats.dump_yaml({pattern.name: default}) if default else "",
            "status": state,
            "status_label": status.LABELS.get(state or ""),
        },
    )


@assistant_view(Cap.EDIT_FLOWS)
@require_POST
def pattern_customise(request, assistant, pattern_name):
    pattern = _pattern_or_404(assistant, pattern_name)
    if pattern.flow is not None:
        messages.info(request, f"{pattern.name} is already customised: here is its flow.")
        return redirect("flows:detail", assistant.name, pattern.name)
    try:
        flow, _warnings = patterns.customise(assistant, pattern.name, user=request.user)
    except ContentInvalid as exc:
        messages.error(
            request,
            f"{pattern.name} cannot be customised: "
            + "; ".join(p.message for p in exc.problems[:5]),
        )
        return redirect("flows:pattern", assistant.name, pattern.name)
    messages.success(
        request,
        f"{flow.name} is customised: this flow replaces Rasa's default pattern. Reset it to "
        "go back to the default.",
    )
    return redirect("flows:detail", assistant.name, flow.name)


@assistant_view(Cap.EDIT_FLOWS)
def pattern_reset(request, assistant, pattern_name):
    pattern = _pattern_or_404(assistant, pattern_name)
    if pattern.flow is None:
        messages.info(request, f"{pattern.name} is not customised: it runs its default steps.")
        return redirect("flows:pattern", assistant.name, pattern.name)
    if request.method == "POST":
        try:
            check_revision(pattern.flow, posted_revision(request))
            patterns.reset(pattern.flow, user=request.user)
        except RevisionMissing as exc:
            return revision_missing_page(request, assistant, pattern.flow, exc)
        except StaleFlow as exc:
            messages.error(
                request, f"{exc} Nothing was reset: look at the flow before resetting it."
            )
            return redirect("flows:pattern", assistant.name, pattern.name)
        except ContentInvalid as exc:
            messages.error(
                request,
                "Other content still uses this flow: "
                + "; ".join(p.message for p in exc.problems[:5]),
            )
        else:
            if pattern.is_rasa_pattern:
                messages.success(request, f"{pattern.name} is reset: its default steps run again.")
            else:
                messages.success(request, f"Flow {pattern.name} deleted.")
            return redirect("flows:patterns", assistant.name)
    return render(request, "flows/pattern_reset.html", {"assistant": assistant, "pattern": pattern})
