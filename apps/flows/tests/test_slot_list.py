"""The Slots list reads like a person wrote it: types with their settings, one chip per flow."""

import re

import pytest
from django.urls import reverse

from apps.flows.selectors import slot_type_summary
from apps.projects import content

pytestmark = pytest.mark.django_db

DOMAIN = """
version: "3.1"
slots:
  account_balance:
    type: float
    min_value: -50000.0
    max_value: 10000000.0
    influence_conversation: false
    mappings:
      - type: controlled
  pizza_size:
    type: categorical
    values: [small, medium, large]
    initial_value: medium
    mappings:
      - type: from_llm
  owned_products:
    type: list
    initial_value: [checking]
    mappings:
      - type: controlled
  agents_available:
    type: bool
    initial_value: true
    mappings:
      - type: controlled
responses:
  utter_ask_pizza_size:
    - text: Which size?
  utter_done:
    - text: "<b>Done</b> & dusted"
"""
FLOWS = """
version: "3.1"
flows:
  check_balance:
    description: Check the balance
    steps:
      - collect: pizza_size
      - set_slots:
          - account_balance: 10
      - noop: true
        next:
          - if: slots.account_balance > 0
            then:
              - action: utter_done
                next: END
          - else:
              - set_slots:
                  - account_balance: 0
                next: END
"""


@pytest.fixture
def bank(make_assistant):
    assistant = make_assistant("bank")
    content.import_files(assistant, {"domain.yml": DOMAIN, "data/flows.yml": FLOWS})
    return assistant


def test_slot_types_read_as_words():
    assert slot_type_summary("float", {"min_value": -50000.0, "max_value": 10000000.0}) == (
        "float (min -50000, max 10000000)"
    )
    assert slot_type_summary("float", {"max_value": 2.5}) == "float (max 2.5)"
    assert slot_type_summary("float", {}) == "float"
    assert slot_type_summary("categorical", {"values": ["a", "b", "c"]}) == "categorical: a, b, c"
    assert slot_type_summary("strict_categorical", {"values": [True, None]}) == (
        "strict_categorical: true, null"
    )
    assert slot_type_summary("text", {"mappings": [{"type": "controlled"}]}) == "text"


def test_the_slots_list_shows_readable_types_values_and_one_chip_per_flow(admin_client, bank):
    page = admin_client.get(reverse("flows:slots", args=["bank"])).content.decode()
    row_re = r"<tr><td><a [^>]*><code>(\w+)</code></a></td>(.*?)</tr>"
    rows = dict(re.findall(row_re, page, re.S))
    assert set(rows) == {"account_balance", "pizza_size", "owned_products", "agents_available"}
    cells = {name: re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for name, row in rows.items()}
    assert cells["account_balance"][0] == "float (min -50000, max 10000000)"
    assert cells["pizza_size"][0] == "categorical: small, medium, large"
    assert cells["pizza_size"][1] == "medium"
    assert cells["owned_products"][1] == "[&quot;checking&quot;]"
    assert cells["agents_available"][1] == "true"
    # No Python reprs, no double escaping.
    for text in ("False", "True", "&amp;#x", "{&#x27;", "mappings", "controlled"):
        assert text not in "".join(c[0] + c[1] for c in cells.values()), text
    # account_balance is used by three steps of check_balance: one chip.
    assert cells["account_balance"][2].count('class="chip"') == 1
    assert ">check_balance</a>" in cells["account_balance"][2]
