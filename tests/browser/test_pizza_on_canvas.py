"""The review's order-a-pizza flow built without leaving the canvas (issue 17), in Chromium: the
NLU trigger's intent created with its examples at the start node; a collect step creating the
categorical slot pizza_size (small, medium, large) with a question of three buttons; a message
step creating utter_confirm with two variations; a logic branch on pizza_size (its value picked
from the slot's values); a link to another flow. The flow is then valid and trains.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.flows.models import Flow, Response, Slot
from apps.nlu.models import Example, Intent
from tests.browser.support import log_in as sign_in
from tests.support.processes import manage, stop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFIG = """
recipe: default.v1
language: en
pipeline:
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
"""
DOMAIN = """
version: "3.1"
intents: [greet]
responses:
  utter_feedback:
    - text: How did we do?
"""
FLOWS = """
version: "3.1"
flows:
  collect_feedback:
    name: collect feedback
    description: Ask the user how the order went
    steps:
      - action: utter_feedback
"""
NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
"""
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue17"
TRAINING = 240_000  # ms: the built-in engine trains in seconds; slow machines get headroom

# Counts the panel's htmx swaps, so a step waits for the live check a change started.
COUNT_SWAPS = """
window.__panelSwaps = 0;
document.addEventListener("htmx:afterSettle", function (event) {
  if (event.target && event.target.id === "panel") window.__panelSwaps += 1;
});
"""


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def pizzeria(make_assistant, make_user):
    from apps.projects import content

    assistant = make_assistant("pizzeria")
    content.import_files(
        assistant,
        {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/flows.yml": FLOWS, "data/nlu.yml": NLU},
    )
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


@pytest.fixture
def trainer():
    process = manage("training_consumer", "--worker-id", "pizza-trainer", "--interval", "0.2")
    yield process
    print(stop(process))  # noqa: T201 - shown by pytest when the test failed


def screenshot(page, name):
    directory = SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / name), full_page=True)


def log_in(page, username="fiona"):
    sign_in(page, username, list_view=True)


def redrawn(page, change):
    """Make a change in the panel and wait until the panel is drawn again (the live check)."""
    before = page.evaluate("window.__panelSwaps")
    change()
    page.wait_for_function("n => window.__panelSwaps > n", arg=before)


def type_in(page, selector, text):
    """Type into a panel field and leave it (its change starts the live check)."""
    redrawn(page, lambda: (page.fill(selector, text), page.press(selector, "Tab")))


def pick(page, selector, value):
    redrawn(page, lambda: page.select_option(selector, value))


def add_step(page, gap, kind_label):
    redrawn(page, gap.click)
    redrawn(page, page.locator("#panel .kind-picker a", has_text=kind_label).first.click)
    expect(page.locator("#panel form.step-form")).to_be_visible()


def submit_panel(page):
    with page.expect_navigation():
        page.click("#panel button[type=submit]")
    expect(page.locator("#canvas")).to_be_visible()


def button_row(page, prefix, index, title, slot, value):
    row = f"#panel [data-variation='{prefix}'] .button-row >> nth={index}"
    type_in(page, f"{row} >> input[name='{prefix}-btn-title']", title)
    pick(page, f"{row} >> select[name='{prefix}-btn-kind']", "slot")
    type_in(page, f"{row} >> input[name='{prefix}-btn-b']", slot)
    type_in(page, f"{row} >> input[name='{prefix}-btn-c']", value)


@pytest.mark.slow
def test_the_pizza_flow_is_built_on_the_canvas_and_trains(page, pizzeria, trainer):
    page.add_init_script(COUNT_SWAPS)
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page)
    page.goto("/a/pizzeria/flows/new")
    page.fill("#id_name", "order_pizza")
    page.fill("#id_description", "Take a pizza order")
    page.click("button[type=submit]")
    page.wait_for_url("**/a/pizzeria/flows/order_pizza/")

    # The NLU trigger: a new intent with its examples, made at the start node.
    redrawn(page, lambda: page.click("#step-start"))
    page.click("#new-intent summary")
    page.fill("#id_new_intent-name", "order_pizza")
    page.fill("#id_new_intent-examples", "I want a pizza\norder a pizza please\ncan I get a pizza")
    redrawn(page, lambda: page.click("#new-intent button"))
    expect(page.locator("#panel .ok-note")).to_contain_text("Intent order_pizza created")
    expect(page.locator("#panel select[name=trigger-intent] >> nth=0")).to_have_value("order_pizza")
    submit_panel(page)
    expect(page.locator("#step-start .chip")).to_contain_text("order_pizza")

    # Collect: a new categorical slot with its values, and its question with three buttons.
    add_step(page, page.locator("a.gap-add.big"), "Collect")
    type_in(page, "#id_new_slot", "pizza_size")
    pick(page, "#id_new_slot_type", "categorical")
    type_in(page, "#id_new_slot_values", "small\nmedium\nlarge")
    type_in(page, "#id_ask0-text", "What size would you like?")
    for index, size in enumerate(("small", "medium", "large")):
        button_row(page, "ask0", index, size.capitalize(), "pizza_size", size)
    type_in(page, "#id_description", "The size of the pizza")
    expect(page.locator("#panel .ok-note")).to_have_text("No problems.")
    page.set_viewport_size({"width": 1400, "height": 2200})  # the whole panel, for a person
    page.locator("#panel").evaluate("panel => { panel.scrollTop = 0; }")
    screenshot(page, "pizza-collect.png")
    page.set_viewport_size({"width": 1400, "height": 1000})
    submit_panel(page)
    expect(page.locator(".node.kind-collect .node-title")).to_have_text("pizza_size")

    # A message: the new response utter_confirm with two variations.
    add_step(page, page.locator(".node.kind-collect + .gap .gap-add"), "Message")
    type_in(page, "#id_new_response", "utter_confirm")
    type_in(page, "#id_r0-text", "One {pizza_size} pizza, coming up!")
    page.click("#panel .add-variation summary")
    type_in(page, "#id_r1-text", "Your {pizza_size} pizza is on its way.")
    expect(page.locator("#panel .add-variation [data-variation='r2']")).to_be_attached()
    submit_panel(page)
    expect(page.locator(".node.kind-message")).to_have_count(1)

    # A logic branch on pizza_size: the value is picked from the slot's values.
    add_step(page, page.locator(".node.kind-message + .gap .gap-add"), "Logic")
    pick(page, "#panel select[name='b1-slot'] >> nth=0", "pizza_size")
    values = page.locator("#panel select[name='b1-value'] >> nth=0 >> option")
    expect(values).to_have_text(["small", "medium", "large"])
    pick(page, "#panel select[name='b1-value'] >> nth=0", "large")
    submit_panel(page)
    expect(page.locator(".branch")).to_have_count(2)

    # A link to another flow in the "large" branch; the picker shows flows by name.
    add_step(page, page.locator(".branch").first.locator(".gap-add").first, "Link")
    expect(page.locator("#id_flow option")).to_contain_text(["collect feedback (collect_feedback)"])
    page.select_option("#id_flow", "collect_feedback")
    submit_panel(page)

    expect(page.locator(".head-actions .status-ok")).to_have_text("Valid")
    screenshot(page, "pizza-built.png")

    definition = Flow.objects.get(assistant=pizzeria, name="order_pizza").definition
    assert definition["nlu_trigger"] == [{"intent": "order_pizza"}]
    assert definition["steps"] == [
        {"collect": "pizza_size", "description": "The size of the pizza"},
        {"action": "utter_confirm"},
        {
            "noop": True,
            "next": [
                {"if": 'slots.pizza_size = "large"', "then": [{"link": "collect_feedback"}]},
                {"else": "END"},
            ],
        },
    ]
    slot = Slot.objects.get(assistant=pizzeria, name="pizza_size")
    assert slot.definition["values"] == ["small", "medium", "large"]
    ask = Response.objects.get(assistant=pizzeria, name="utter_ask_pizza_size").variations
    assert [b["payload"] for b in ask[0]["buttons"]] == [
        f"/SetSlots(pizza_size={v})" for v in ("small", "medium", "large")
    ]
    confirm = Response.objects.get(assistant=pizzeria, name="utter_confirm").variations
    assert [v["text"] for v in confirm] == [
        "One {pizza_size} pizza, coming up!",
        "Your {pizza_size} pizza is on its way.",
    ]
    intent = Intent.objects.get(assistant=pizzeria, name="order_pizza")
    assert Example.objects.filter(intent=intent).count() == 3

    # It trains.
    page.locator("nav.sidebar a", has_text="Train").click()
    expect(page.locator(".ok-note")).to_have_text("The assistant is valid and ready to train.")
    page.click("button:has-text('Train a new version')")
    page.wait_for_url("**/a/pizzeria/training/*")
    expect(page.locator("#job-status .status")).to_have_text("Succeeded", timeout=TRAINING)


def test_a_refused_step_shows_its_error_in_view_next_to_the_field(page, pizzeria):
    # D4: a categorical slot without values used to be refused at the top of a panel scrolled
    # to its bottom, out of sight.
    page.add_init_script(COUNT_SWAPS)
    page.set_viewport_size({"width": 1400, "height": 700})
    log_in(page)
    page.goto("/a/pizzeria/flows/collect_feedback/")
    add_step(page, page.locator(".node.kind-message + .gap .gap-add"), "Collect")
    type_in(page, "#id_new_slot", "pizza_size")
    pick(page, "#id_new_slot_type", "categorical")
    type_in(page, "#id_ask0-text", "Which size?")
    page.locator("#panel").evaluate("panel => { panel.scrollTop = panel.scrollHeight; }")
    redrawn(page, lambda: page.click("#panel button[type=submit]"))
    error = page.locator("#panel .field.has-error", has=page.locator("#id_new_slot_values"))
    expect(error).to_contain_text("A categorical slot needs its values, one per line.")
    expect(error).to_be_in_viewport()
    expect(page.locator("#id_new_slot_values")).to_be_focused()
    assert not Slot.objects.filter(assistant=pizzeria, name="pizza_size").exists()
