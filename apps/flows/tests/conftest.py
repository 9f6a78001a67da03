import pytest

DOMAIN = """
version: "3.1"
intents:
  - greet
  - order
entities:
  - city:
      roles: [from, to]
slots:
  amount:
    type: float
    mappings:
      - type: from_llm
  confirmed:
    type: bool
    mappings:
      - type: from_llm
  tier:
    type: categorical
    values: [gold, silver]
    mappings:
      - type: from_llm
responses:
  utter_ask_amount:
    - text: How much?
  utter_ask_confirmed:
    - text: Are you sure?
  utter_done:
    - text: Done!
  utter_cancelled:
    - text: Cancelled.
actions:
  - action_pay
"""

FLOWS = """
version: "3.1"
flows:
  order:
    name: place an order
    description: Order something
    nlu_trigger:
      - intent: order
    steps:
      - collect: amount
      - action: utter_done
  helper:
    description: A helper flow
    steps:
      - action: action_pay
"""

NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
  - intent: order
    examples: |
      - I want to order
      - order to [Berlin](city)
"""


@pytest.fixture
def shop(make_assistant):
    from apps.projects import content

    assistant = make_assistant("shop")
    content.import_files(
        assistant, {"domain.yml": DOMAIN, "data/flows.yml": FLOWS, "data/nlu.yml": NLU}
    )
    return assistant


@pytest.fixture
def editor(make_user):
    from apps.accounts.roles import Role

    return make_user("fb", Role.FLOW_BUILDER)


@pytest.fixture
def ed_client(client, editor):
    client.force_login(editor)
    return client


def drawn(assistant, flow: str = "order", path: str | None = None) -> dict:
    """The hidden fields a builder form of `flow` is drawn with, as a browser posts them back:
    the flow's revision and, for a form of the step at `path`, that step's id."""
    from apps.flows import steps as step_ops
    from apps.flows.models import Flow

    row = Flow.objects.get(assistant=assistant, name=flow)
    fields: dict = {"revision": row.revision}
    if path is not None:
        fields["step"] = step_ops.step_id_at(row.definition.get("steps") or [], path, flow)
    return fields
