"""The step forms of the flow canvas panel: `StepForm` holds what every step has (a label, where
it goes next, branches), and one subclass per step kind adds its fields, its checks and its part
of the step dict. `STEP_FORMS` maps a kind to its form; `build_step()` returns the step in
Rasa's shape."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.flows import services
from apps.flows.forms.base import NAME_RE, STEP_ID_RE, limits, plain, rows
from apps.flows.forms.conditions import ConditionEditor, typed_value
from apps.flows.forms.panel import NOTHING_SAID, ResponseEditor
from apps.projects.forms import ContentProblemsMixin
from engine import formats
from engine.formats import END

STEP_KINDS = [
    ("message", "Message", "Send a response"),
    ("collect", "Collect", "Ask for a slot value"),
    ("action", "Custom action", "Run code on the action server"),
    ("logic", "Logic", "Branch on conditions"),
    ("set_slots", "Set slots", "Give slots values"),
    ("link", "Link", "Hand over to another flow (ends this one)"),
    ("call", "Call", "Run another flow, then come back"),
]
KIND_OF_FIELD = {
    "collect": "slot",
    "utter": "slot",
    "rejections": "rejections",
    "set_slots": "set_slots",
    "link": "flow",
    "call": "flow",
    "id": "step_id",
    "next": "next_target",
}
NEW = "__new__"
KEEP = "__keep__"

# The keys of a step the forms edit; build_step() keeps every other key as it was.
_EDITED = {"id", "next", "description", "action", "collect", "link", "call"}
_EDITED |= {"set_slots", "noop", "rejections", "ask_before_filling", "reset_after_flow_ends"}
_EDITED |= {"utter"}


def step_kind(step: dict) -> str:
    if "action" in step:
        return "message" if str(step["action"]).startswith("utter_") else "action"
    for kind in ("collect", "link", "call", "set_slots"):
        if kind in step:
            return kind
    return "logic"


class StepForm(ContentProblemsMixin, forms.Form):
    """Adds or edits one step. `step` is the step being edited (None to add); `context` gives
    the names to pick from (slots with types, responses, actions, flows, step ids).

    A subclass per kind sets `kind` and overrides `add_fields` (its fields), `clean_kind` (its
    checks, filling `additions` with the domain items to create) and `kind_keys` (its keys of
    the step dict)."""

    kind = ""
    #: The field the step's `action` key is edited in (for problems reported at that key).
    action_field = "action"
    #: Whether the step always branches (else only when its `next` is already a list).
    branching = False
    #: Whether the step has a "Then" choice when it does not branch.
    has_next = True
    #: Set once a preview found no problems ("No problems." on the form).
    checked = False

    step_id = forms.CharField(
        label="Label (step id)",
        required=False,
        max_length=limits.NAME,
        help_text="Name the step to jump to it from elsewhere.",
    )
    next_target = forms.ChoiceField(label="Then", required=False)

    def __init__(self, *args, step: dict | None, context: dict, **kwargs):
        self.step = step or {}
        self.ctx = context
        initial = {"step_id": self.step.get("id", "")}
        nxt = self.step.get("next")
        initial["next_target"] = nxt if isinstance(nxt, str) else ""
        super().__init__(*args, initial=initial, **kwargs)
        self.has_branches = self.branching or isinstance(nxt, list)
        self.fields["next_target"].choices = [
            ("", "Continue with the next step"),
            (END, "End the flow"),
            *[(sid, f"Go to {label}") for sid, label in context["step_choices"]],
        ]
        if not self.has_next or self.has_branches:
            del self.fields["next_target"]
        self.add_fields()
        self.branches: list[dict] = []
        self.else_target = KEEP
        if self.has_branches:
            self._init_branches(nxt if isinstance(nxt, list) else [])
        self.rejections = [
            {"if": r.get("if", ""), "utter": r.get("utter", "")}
            for r in self.step.get("rejections") or []
            if isinstance(r, dict)
        ]
        self.set_slot_rows = [
            {"slot": k, "value": "null" if v is None else plain(v)}
            for item in self.step.get("set_slots") or []
            if isinstance(item, dict)
            for k, v in item.items()
        ]
        self.row_errors: dict[str, str] = {}
        #: Form-wide errors drawn next to the part they are about (not repeated at the top).
        self.shown_in_place: set[str] = set()

    @property
    def top_errors(self) -> list[str]:
        """The form-wide errors the panel shows at its top: those not drawn in place."""
        shown = self.shown_in_place | set(self.row_errors.values())
        for branch in self.branches:
            shown.add(branch["condition"].error)
        return [str(e) for e in self.non_field_errors() if str(e) not in shown]

    def error_in_place(self, message: str) -> None:
        """A form-wide error that the panel draws next to the part it is about."""
        self.shown_in_place.add(message)
        self.add_error(None, message)

    # -- fields

    def add_fields(self) -> None:
        """Add the fields of this kind of step."""

    def _choice(self, name, label, names, *, new_label=None, initial=None, required=True):
        choices = [(n, n) for n in names]
        if new_label:
            choices = [(NEW, new_label), *choices]
        elif not required:
            choices = [("", "—"), *choices]
        self.fields[name] = forms.ChoiceField(
            label=label, choices=choices, required=False, initial=initial
        )

    def _init_branches(self, branches: list):
        slots = self.ctx["slots"]
        for index, branch in enumerate(branches):
            if not isinstance(branch, dict):
                continue
            if "else" in branch:
                target = branch["else"]
                self.else_target = target if isinstance(target, str) else KEEP
                continue
            target = branch.get("then")
            self.branches.append(
                {
                    "index": index,
                    "condition": ConditionEditor(
                        f"b{index}", slots, branch.get("if"), self.ctx.get("slot_values")
                    ),
                    "target": target if isinstance(target, str) else KEEP,
                    "has_steps": isinstance(target, list),
                    "remove": False,
                }
            )
        new_index = len(branches) + 1
        self.branches.append(
            {
                "index": new_index,
                "condition": ConditionEditor(
                    f"b{new_index}", slots, slot_values=self.ctx.get("slot_values")
                ),
                "target": END,
                "has_steps": False,
                "new": True,
                "remove": False,
            }
        )

    # -- cleaning

    def clean_step_id(self):
        value = self.cleaned_data["step_id"].strip()
        if value and not STEP_ID_RE.match(value):
            raise forms.ValidationError("Use letters, digits, underscores and hyphens.")
        if value and value != self.step.get("id") and value in self.ctx["explicit_ids"]:
            raise forms.ValidationError(f"Another step is already labelled {value}.")
        return value

    def clean(self):
        data = super().clean()
        self.additions = services.Additions()
        self.clean_kind(data)
        if self.has_branches:
            self._clean_branches()
        return data

    def clean_kind(self, data: dict) -> None:
        """Check the fields of this kind of step (errors go on the form)."""

    def _new_name(self, field: str, prefix: str, existing: list[str]) -> str | None:
        name = (self.cleaned_data.get(field) or "").strip()
        if not name or name == prefix:
            self.add_error(field, "Give the new item a name.")
            return None
        if not NAME_RE.match(name):
            self.add_error(field, "Use letters, digits, '_', '-' and '.', with no spaces.")
            return None
        if name in existing:
            self.add_error(field, f"{name} already exists: pick it from the list.")
            return None
        return name

    def _clean_branches(self):
        targets = {END, KEEP, *dict(self.ctx["step_choices"])}
        for branch in self.branches:
            prefix = f"b{branch['index']}"
            text = branch["condition"].read(self.data)
            branch["remove"] = bool(self.data.get(f"{prefix}-remove"))
            branch["target"] = self.data.get(f"{prefix}-target") or branch["target"]
            branch["text"] = text
            if branch.get("new") and text is None and not branch["condition"].error:
                continue
            if branch["remove"]:
                continue
            if branch["condition"].error:
                self.add_error(None, branch["condition"].error)
            elif text is None:
                branch["condition"].error = "Build a condition, or remove the branch."
                self.add_error(None, branch["condition"].error)
            if branch["target"] not in targets:
                self.add_error(None, "Pick where the branch goes.")
        self.else_target = self.data.get("else-target") or self.else_target
        if self.else_target not in targets:
            self.add_error(None, "Pick where the Else branch goes.")
        live = [b for b in self.branches if not b["remove"] and b.get("text")]
        if self.branching and not live:
            self.add_error(None, "A logic step needs at least one condition.")

    # -- result

    def kind_keys(self, data: dict) -> dict[str, Any]:
        """This kind's keys of the step dict, from the cleaned data."""
        return {}

    def build_step(self) -> dict:
        """The step as Rasa's YAML has it. Keys the form does not edit are kept."""
        data = self.cleaned_data
        step: dict[str, Any] = {}
        if data.get("step_id"):
            step["id"] = data["step_id"]
        step.update(self.kind_keys(data))
        for key, value in self.step.items():
            if key not in _EDITED and key not in step:
                step[key] = value
        if self.has_branches:
            step["next"] = self._build_next()
        elif data.get("next_target"):
            step["next"] = data["next_target"]
        return step

    def _build_next(self) -> list:
        old = self.step.get("next") if isinstance(self.step.get("next"), list) else []
        out = []
        for branch in self.branches:
            if branch["remove"] or not branch.get("text"):
                continue
            target = branch["target"]
            if target == KEEP:
                original = old[branch["index"]] if branch["index"] < len(old) else {}
                target = original.get("then", END)
            out.append({"if": branch["text"], "then": target})
        otherwise: Any = self.else_target
        if otherwise == KEEP:
            original_else = next((b for b in old if isinstance(b, dict) and "else" in b), None)
            otherwise = original_else["else"] if original_else else END
        out.append({"else": otherwise})
        return out

    def jump_targets(self) -> list[str]:
        """Step ids this step now jumps to (they must become explicit ids)."""
        targets = []
        if self.has_branches:
            targets = [b["target"] for b in self.branches if not b["remove"]]
            targets.append(self.else_target)
        elif self.cleaned_data.get("next_target"):
            targets.append(self.cleaned_data["next_target"])
        return [t for t in targets if t not in (END, KEEP)]

    def show_problems(self, problems, step_path: str) -> None:
        """Put validation problems (relative to the flow) at their field."""
        for problem in problems:
            rest = None
            if problem.path == step_path:
                rest = ""
            elif problem.path.startswith(step_path + "."):
                rest = problem.path[len(step_path) + 1 :]
            field = None
            if rest:
                key = re.split(r"[.\[]", rest, maxsplit=1)[0]
                field = KIND_OF_FIELD.get(key)
                if key == "action":
                    field = self.action_field
            if field in self.fields:
                self.add_error(field, problem.message)
            elif field in ("rejections", "set_slots"):
                self.row_errors[field] = problem.message
                self.add_error(None, problem.message)
            else:
                self.add_error(None, problem.message)


class _ResponseMixin:
    """Step forms that edit a response in the panel (`ResponseEditor` under a prefix)."""

    def _editor(self: Any, prefix: str, name: str, stored: list | None) -> ResponseEditor:
        return ResponseEditor(
            prefix,
            self.data if self.is_bound else None,
            name=name,
            stored=stored,
            slots=self.ctx["slots"],
            slot_values=self.ctx.get("slot_values"),
            uses=self.ctx.get("response_uses", {}).get(name, 0),
        )


def _picked(form: StepForm, field: str, names, current: str | None) -> str:
    """The choice `field` has as the panel is drawn: the posted one, else the stored one; NEW
    when it names nothing there is."""
    value = form.data.get(field) if form.is_bound else current
    return value if isinstance(value, str) and value in names else NEW


class MessageStepForm(_ResponseMixin, StepForm):
    """Send a response: pick one or name a new one, and edit its variations in place (text,
    buttons, links, image, custom payload, condition), as the Responses page does."""

    kind = "message"
    action_field = "response"

    def add_fields(self):
        current = self.step.get("action")
        self._choice(
            "response",
            "Response",
            self.ctx["responses"],
            new_label="Create a new response…",
            initial=current or NEW,
        )
        self.fields["new_response"] = forms.CharField(
            label="New response name",
            required=False,
            initial="utter_",
            max_length=limits.NAME,
            help_text="Starts with utter_, e.g. utter_confirm.",
        )
        picked = _picked(self, "response", self.ctx["responses"], current)
        stored = self.ctx["response_variations"].get(picked) if picked != NEW else None
        self.editor = self._editor("r", picked, stored)

    def clean_kind(self, data):
        response = data.get("response")
        if response not in (None, "", NEW) and response not in self.ctx["responses"]:
            self.add_error("response", "Pick a response.")
            return
        name = response
        if response in (None, "", NEW):
            name = self._new_name("new_response", "utter_", self.ctx["responses"])
            if name and not name.startswith("utter_"):
                self.add_error("new_response", "A response name starts with utter_.")
                name = None
        variations = self.editor.clean()
        if variations is None:
            self.error_in_place(self.editor.error or NOTHING_SAID)
            self.editor.error = self.editor.error or NOTHING_SAID
            return
        if name and (response != name or self.editor.changed(variations)):
            self.additions.responses[name] = variations
        if name:
            data["response"] = name

    def kind_keys(self, data):
        return {"action": data["response"]}


class ActionStepForm(StepForm):
    """Run a custom action: pick one, or name a new one with its description."""

    kind = "action"

    def add_fields(self):
        self._choice(
            "action",
            "Custom action",
            self.ctx["actions"],
            new_label="Create a new custom action…",
            initial=self.step.get("action") or NEW,
        )
        self.fields["new_action"] = forms.CharField(
            label="New action name",
            required=False,
            initial="action_",
            max_length=limits.NAME,
            help_text="The name the action server knows it by, e.g. action_check_stock.",
        )
        self.fields["new_action_description"] = forms.CharField(
            label="What the action does",
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
            max_length=limits.DESCRIPTION,
        )

    def clean_kind(self, data):
        if data.get("action") in (None, "", NEW):
            name = self._new_name("new_action", "action_", self.ctx["actions"])
            if name and name.startswith("utter_"):
                self.add_error("new_action", "Names starting with utter_ are responses.")
            elif name:
                self.additions.actions.append(name)
                description = (data.get("new_action_description") or "").strip()
                if description:
                    self.additions.action_descriptions[name] = description
                data["action"] = name
        elif data["action"] not in self.ctx["actions"]:
            self.add_error("action", "Pick a custom action.")

    def kind_keys(self, data):
        return {"action": data["action"]}


_CATEGORICAL = ("categorical", "strict_categorical")
_SLOT_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CollectStepForm(_ResponseMixin, StepForm):
    """Ask for a slot: the slot (or a new one, with its type and values), the response that
    asks for it (edited in place, with its buttons), rejections, and the collect options."""

    kind = "collect"

    def add_fields(self):
        slot = self.step.get("collect")
        self._choice(
            "slot",
            "Slot",
            list(self.ctx["slots"]),
            new_label="Create a new slot…",
            initial=slot or NEW,
        )
        self.fields["new_slot"] = forms.CharField(
            label="New slot name",
            required=False,
            max_length=limits.NAME,
            help_text="Letters, digits and underscores, e.g. pizza_size.",
        )
        self.fields["new_slot_type"] = forms.ChoiceField(
            label="New slot type",
            choices=[(t, t) for t in formats.SLOT_TYPES],
            required=False,
            initial="text",
        )
        self.fields["new_slot_values"] = forms.CharField(
            label="Values (categorical slots)",
            required=False,
            widget=forms.Textarea(attrs={"rows": 3}),
            max_length=limits.TEXT,
            help_text="One per line, e.g. small, medium and large on three lines.",
        )
        picked = _picked(self, "slot", self.ctx["slots"], slot)
        utter = self._utter(picked) if picked != NEW else NEW
        self.editor = self._editor("ask", utter, self.ctx["response_variations"].get(utter))
        self.editor.help = (
            f"The response {utter} asks for the slot."
            if picked != NEW
            else "The response utter_ask_<slot> asks for the slot."
        )
        self.fields["description"] = forms.CharField(
            label="Description",
            required=False,
            max_length=limits.DESCRIPTION,
            initial=self.step.get("description", ""),
            help_text="Helps the assistant fill the slot from what the user says.",
        )
        self.fields["ask_before_filling"] = forms.BooleanField(
            label="Always ask, even if the slot is already filled",
            required=False,
            initial=self.step.get("ask_before_filling", False),
        )
        self.fields["reset_after_flow_ends"] = forms.BooleanField(
            label="Reset the slot when the flow ends",
            required=False,
            initial=self.step.get("reset_after_flow_ends", True),
        )

    def _utter(self, slot: str) -> str:
        stored = self.step.get("utter")
        return stored if stored and self.step.get("collect") == slot else f"utter_ask_{slot}"

    def clean_kind(self, data):
        if data.get("slot") in (None, "", NEW):
            self._clean_new_slot(data)
        slot = data.get("slot")
        if not slot or slot == NEW:
            return
        self._clean_question(slot)
        data["rejections"] = self._clean_rejections()

    def _clean_new_slot(self, data) -> None:
        name = self._new_name("new_slot", "", list(self.ctx["slots"]))
        if name and not _SLOT_NAME_RE.match(name):
            self.add_error("new_slot", "Use letters, digits and underscores (e.g. pizza_size).")
            return
        slot_type = data.get("new_slot_type") or "text"
        values = [v.strip() for v in (data.get("new_slot_values") or "").splitlines()]
        values = [v for v in values if v]
        if slot_type in _CATEGORICAL and not values:
            self.add_error("new_slot_values", "A categorical slot needs its values, one per line.")
            return
        if not name:
            return
        definition: dict[str, Any] = {"type": slot_type}
        if slot_type in _CATEGORICAL:
            definition["values"] = values
        definition["mappings"] = [{"type": "from_llm"}]
        self.additions.slots[name] = definition
        data["slot"] = name

    def _clean_question(self, slot: str) -> None:
        utter = self._utter(slot)
        existing = self.ctx["response_variations"].get(utter)
        variations = self.editor.clean()
        if variations is not None:
            if variations != existing:
                self.additions.responses[utter] = variations
            return
        if self.editor.error not in ("", NOTHING_SAID):
            self.error_in_place(self.editor.error)
        elif existing is not None:
            self.editor.error = NOTHING_SAID
            self.error_in_place(NOTHING_SAID)
        elif f"action_ask_{slot}" not in self.ctx["actions"]:
            self.editor.error = f"Write the question that asks for {slot}."
            self.error_in_place(self.editor.error)
        else:
            self.editor.error = ""

    def _clean_rejections(self) -> list[dict]:
        rejections = []
        self.rejections = []
        columns = ("rejection-if", "rejection-utter", "rejection-new", "rejection-text")
        known = set(self.ctx["responses"]) | set(self.additions.responses)
        for condition, response, new_name, text in rows(self.data, *columns):
            self.rejections.append(
                {"if": condition, "utter": response, "new": new_name, "text": text}
            )
            problem = self._rejection_problem(condition, response, new_name, text, known)
            if problem:
                self.row_errors["rejections"] = problem
                self.add_error(None, problem)
                continue
            if new_name:
                self.additions.responses[new_name] = [{"text": text}]
                known.add(new_name)
                response = new_name
            rejections.append({"if": condition, "utter": response})
        return rejections

    @staticmethod
    def _rejection_problem(condition, response, new_name, text, known) -> str:
        if not condition or not (response or new_name):
            return "Each rejection needs a condition and a response."
        try:
            formats.parse_condition(condition)
        except formats.ConditionError as exc:
            return f"The rejection condition {condition!r} does not parse: {exc.reason}."
        if new_name:
            if not new_name.startswith("utter_") or not NAME_RE.match(new_name):
                return f"The rejection's new response {new_name!r} must start with utter_."
            if new_name in known:
                return f"{new_name} already exists: pick it from the list."
            if not text:
                return f"Write what {new_name} says."
        return ""

    def kind_keys(self, data):
        keys: dict[str, Any] = {"collect": data["slot"]}
        if self.step.get("utter") and self.step.get("collect") == data["slot"]:
            keys["utter"] = self.step["utter"]
        if data.get("description"):
            keys["description"] = data["description"]
        if data.get("ask_before_filling"):
            keys["ask_before_filling"] = True
        if not data.get("reset_after_flow_ends"):
            keys["reset_after_flow_ends"] = False
        if data.get("rejections"):
            keys["rejections"] = data["rejections"]
        return keys


class LogicStepForm(StepForm):
    """Branch on conditions (a `noop` step whose `next` is the branches)."""

    kind = "logic"
    branching = True

    def add_fields(self):
        self.fields["description"] = forms.CharField(
            label="Description",
            required=False,
            max_length=limits.DESCRIPTION,
            initial=self.step.get("description", ""),
        )

    def kind_keys(self, data):
        keys: dict[str, Any] = {"noop": True}
        if data.get("description"):
            keys["description"] = data["description"]
        return keys


class SetSlotsStepForm(StepForm):
    """Give slots values: slot and value rows."""

    kind = "set_slots"

    def clean_kind(self, data):
        pairs = []
        self.set_slot_rows = []
        for slot, value in rows(self.data, "set-slot", "set-value"):
            self.set_slot_rows.append({"slot": slot, "value": value})
            if slot not in self.ctx["slots"]:
                self.row_errors["set_slots"] = f"There is no slot called {slot}."
                self.add_error(None, self.row_errors["set_slots"])
                continue
            try:
                pairs.append({slot: typed_value(value, self.ctx["slots"][slot])})
            except forms.ValidationError as exc:
                self.row_errors["set_slots"] = f"{slot}: {exc.messages[0]}"
                self.add_error(None, self.row_errors["set_slots"])
        if not pairs and "set_slots" not in self.row_errors:
            self.row_errors["set_slots"] = "Set at least one slot."
            self.add_error(None, self.row_errors["set_slots"])
        data["set_slots"] = pairs

    def kind_keys(self, data):
        return {"set_slots": data["set_slots"]}


def flow_choices(ctx: dict) -> list[tuple[str, str]]:
    """The other flows to link to or call, by name (then id) alphabetically: "name (id)"."""
    titles = ctx.get("flow_titles") or {}
    shown = []
    for name in ctx["flows"]:
        title = titles.get(name) or ""
        shown.append((name, f"{title} ({name})" if title and title != name else name))
    return sorted(shown, key=lambda choice: (choice[1].casefold(), choice[0]))


class _FlowStepForm(StepForm):
    """A step that names another flow (link or call)."""

    missing = ""

    def add_fields(self):
        self.fields["flow"] = forms.ChoiceField(
            label="Flow",
            choices=[("", "—"), *flow_choices(self.ctx)],
            required=False,
            initial=self.step.get(self.kind),
        )

    def clean_kind(self, data):
        if not data.get("flow"):
            self.add_error("flow", self.missing)

    def kind_keys(self, data):
        return {self.kind: data["flow"]}


class LinkStepForm(_FlowStepForm):
    """Hand over to another flow; a link ends this flow, so it has no "Then"."""

    kind = "link"
    has_next = False
    missing = "Pick the flow to link to."


class CallStepForm(_FlowStepForm):
    """Run another flow, then come back; or call one of the assistant's sub-agents, or keep
    the MCP tool the step calls (its server and mapping are kept as they are)."""

    kind = "call"
    missing = "Pick the flow or sub-agent to call."

    def add_fields(self):
        current = self.step.get(self.kind)
        names = list(self.ctx["flows"])
        agents = [a for a in self.ctx.get("sub_agents", []) if a not in names]
        choices: list[tuple[str, Any]] = [("", "—"), *flow_choices(self.ctx)]
        if agents:
            choices.append(("Sub-agents", [(a, f"{a} (sub-agent)") for a in agents]))
        if isinstance(current, str) and current not in names and current not in agents:
            shown = f"{current} (MCP tool)" if "mcp_server" in self.step else current
            choices.append((current, shown))
        self.fields["flow"] = forms.ChoiceField(
            label="Flow or sub-agent", choices=choices, required=False, initial=current
        )


STEP_FORMS: dict[str, type[StepForm]] = {
    form.kind: form
    for form in (
        MessageStepForm,
        CollectStepForm,
        ActionStepForm,
        LogicStepForm,
        SetSlotsStepForm,
        LinkStepForm,
        CallStepForm,
    )
}
