"""A small hand-written realistic project, in two domain layouts."""

CONFIG = """\
# The assistant's pipeline; comments are preserved.
recipe: default.v1
language: en
assistant_id: banking-demo
pipeline:
  - name: NLUCommandAdapter
  - name: CompactLLMCommandGenerator
    prompt_template: prompts/command_generator.jinja2
policies:
  - name: FlowPolicy
"""

ENDPOINTS = """\
action_endpoint:
  url: "http://localhost:5055/webhook"
event_broker:
  type: kafka
  url: localhost:9092
  topic: rasa_core_events
  security_protocol: PLAINTEXT
  partition_by_sender: true
"""

PROMPT = "Your task is to understand the user.\n{{ current_conversation }}\n"

DOMAIN_INTENTS = """\
version: "3.1"
intents:
  - greet
  - transfer_money
  - check_balance:
      use_entities: []
  - affirm
  - deny
entities:
  - account
  - person
  - city:
      roles:
        - departure
        - destination
"""

DOMAIN_SLOTS = """\
version: "3.1"
slots:
  recipient:
    type: text
    mappings:
      - type: from_llm
  amount:
    type: float
    min_value: 0
    max_value: 10000
    mappings:
      - type: from_llm
    validation:
      rejections:
        - if: slots.amount <= 0
          utter: utter_invalid_amount
  account_type:
    type: categorical
    values:
      - checking
      - savings
    mappings:
      - type: from_entity
        entity: account
  confirmed:
    type: bool
    influence_conversation: false
    mappings:
      - type: from_intent
        intent: affirm
        value: true
      - type: from_intent
        intent: deny
        value: false
  departure_city:
    type: text
    mappings:
      - type: from_entity
        entity: city
        role: departure
        conditions:
          - active_loop: null
"""

DOMAIN_RESPONSES = """\
version: "3.1"
responses:
  utter_greet:
    - text: "Hello! How can I help?"
    - text: "Hi there, {recipient}!"
      channel: socketio
  utter_ask_recipient:
    - text: Who would you like to send money to?
  utter_ask_amount:
    - text: How much?
  utter_invalid_amount:
    - text: The amount must be positive.
  utter_ask_account_type:
    - text: Which account?
      buttons:
        - title: Checking
          payload: /SetSlots(account_type=checking)
        - title: Savings
          payload: /SetSlots(account_type=savings)
  utter_ask_confirmed:
    - text: "Send {amount} to {recipient}?"
      buttons:
        - title: "Yes"
          payload: /affirm
        - title: "No"
          payload: /deny
  utter_transfer_done:
    - text: Done.
      condition:
        - type: slot
          name: account_type
          value: savings
    - text: All done, the money is on its way.
      condition: slots.account_type = "checking"
      metadata:
        rephrase: true
  utter_transfer_cancelled:
    - text: Okay, I cancelled the transfer.
  utter_balance:
    - text: Your balance is fine.
actions:
  - action_check_funds
  - action_execute_transfer:
      send_domain: true
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
"""

FLOWS = """\
version: "3.1"
flows:
  transfer_money:
    name: transfer money
    description: Send money to a friend or family member.
    nlu_trigger:
      - intent:
          name: transfer_money
          confidence_threshold: 0.8
    persisted_slots:
      - recipient
    steps:
      - collect: recipient
        description: the person to send money to
      - collect: amount
        rejections:
          - if: slots.amount > 5000
            utter: utter_invalid_amount
      - collect: account_type
      - action: action_check_funds
        next:
          - if: slots.amount > 1000 and slots.account_type = "checking"
            then:
              - set_slots:
                  - confirmed: null
                next: ask_confirmation
          - else: ask_confirmation
      - id: ask_confirmation
        collect: confirmed
        ask_before_filling: true
        next:
          - if: slots.confirmed
            then:
              - action: action_execute_transfer
              - action: utter_transfer_done
                next: END
          - else:
              - action: utter_transfer_cancelled
                next: END
  check_balance:
    description: Check the balance of an account.
    if: slots.account_type is not null
    nlu_trigger:
      - intent: check_balance
    steps:
      - call: pick_account
      - action: utter_balance
      - link: transfer_money
  pick_account:
    description: Choose an account.
    if: false
    steps:
      - collect: account_type
      - noop: true
        next:
          - if: slots.account_type = savings
            then: END
          - else: END
"""

NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hi
      - hello there
  - intent: transfer_money
    examples: |
      - send money to [John](person)
      - transfer 50 from my [savings]{"entity": "account", "value": "savings"}
      - pay my [checking account](account:checking)
  - intent: check_balance
    examples:
      - text: what's my balance
        metadata:
          sentiment: neutral
  - intent: affirm
    examples: |
      - yes
  - intent: deny
    examples: |
      - no
  - synonym: savings
    examples: |
      - savings account
  - regex: account_number
    examples: |
      - \\d{10}
  - lookup: city
    examples: |
      - Berlin
      - Paris
"""


def files(layout: str) -> dict[str, str]:
    """The project's files; `layout` is "single" (domain.yml) or "folder" (domain/*.yml)."""
    out = {
        "config.yml": CONFIG,
        "endpoints.yml": ENDPOINTS,
        "prompts/command_generator.jinja2": PROMPT,
        "data/flows/transfer.yml": FLOWS,
        "data/nlu/banking.yml": NLU,
        "tests/e2e_test_cases.yml": "test_cases: []\n",
    }
    if layout == "single":
        body = DOMAIN_INTENTS + "\n".join(
            part.split("\n", 1)[1] for part in (DOMAIN_SLOTS, DOMAIN_RESPONSES)
        )
        out["domain.yml"] = body
    else:
        out["domain/intents.yml"] = DOMAIN_INTENTS
        out["domain/slots.yml"] = DOMAIN_SLOTS
        out["domain/responses.yml"] = DOMAIN_RESPONSES
    return out
