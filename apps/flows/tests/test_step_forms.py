"""One form per step kind: the canvas picks the form from STEP_FORMS."""

from apps.flows.forms.steps import STEP_FORMS, STEP_KINDS, StepForm, step_kind

CONTEXT = {
    "slots": {"amount": "float"},
    "responses": ["utter_done"],
    "response_variations": {"utter_done": [{"text": "Done!"}]},
    "actions": ["action_pay"],
    "flows": ["helper"],
    "step_choices": [],
    "explicit_ids": [],
}


def test_every_step_kind_has_its_form():
    assert set(STEP_FORMS) == {kind for kind, _, _ in STEP_KINDS}
    for kind, form in STEP_FORMS.items():
        assert issubclass(form, StepForm) and form.kind == kind


def test_each_form_has_the_fields_of_its_kind():
    fields = {
        kind: set(form(step=None, context=CONTEXT).fields) for kind, form in STEP_FORMS.items()
    }
    assert {"response", "new_response"} <= fields["message"]
    assert {"slot", "new_slot_type", "new_slot_values", "ask_before_filling"} <= fields["collect"]
    assert {"action", "new_action", "new_action_description"} <= fields["action"]
    assert "flow" in fields["link"] and "next_target" not in fields["link"]
    assert "flow" in fields["call"] and "next_target" in fields["call"]
    assert "next_target" not in fields["logic"]  # a logic step branches
    assert fields["set_slots"] == {"step_id", "next_target"}


def test_a_stored_step_opens_in_the_form_of_its_kind():
    step = {"action": "utter_done", "next": "END"}
    form = STEP_FORMS[step_kind(step)](
        {"response": "utter_done", "next_target": "END"}, step=step, context=CONTEXT
    )
    assert form.is_valid(), form.errors
    assert form.build_step() == {"action": "utter_done", "next": "END"}
