"""The config.yml editor checks what Rasa checks: component and policy names, and asks before an
assistant_id change that stops conversations from reaching the assistant."""

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.projects.models import AssistantFiles

pytestmark = pytest.mark.django_db

STORED = """recipe: default.v1
language: en
assistant_id: shop  # must match the assistant's name in Studio
pipeline:
  - name: WhitespaceTokenizer
  - name: LogisticRegressionClassifier
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
"""


@pytest.fixture
def dev(client, shop, make_user):
    client.force_login(make_user("dev", Role.DEVELOPER))
    AssistantFiles.objects.update_or_create(assistant=shop, defaults={"config_yml": STORED})
    return client


def _save(client, text, **extra):
    return client.post(
        reverse("projects:files", args=["shop"]) + "?file=config.yml", {"text": text, **extra}
    )


def _stored():
    return AssistantFiles.objects.get(assistant__name="shop").config_yml


def test_a_changed_assistant_id_is_saved_only_once_confirmed(dev):
    changed = STORED.replace("assistant_id: shop", "assistant_id: other_bot")
    response = _save(dev, changed)
    page = response.content.decode()
    assert response.status_code == 400
    assert "assistant_id changes from &#x27;shop&#x27; to &#x27;other_bot&#x27;" in page
    assert "no longer reach it" in page
    assert 'name="confirm_assistant_id" value="other_bot"' in page
    assert _stored() == STORED
    # Confirming another id than the one in the text does not count.
    assert _save(dev, changed, confirm_assistant_id="third").status_code == 400
    assert _stored() == STORED
    assert _save(dev, changed, confirm_assistant_id="other_bot").status_code == 302
    assert _stored() == changed
    # Back to the assistant's own name: routing works again, nothing to confirm.
    assert _save(dev, STORED).status_code == 302
    assert _stored() == STORED


def test_an_unknown_component_or_policy_is_refused_with_its_line(dev):
    text = STORED.replace("  - name: NLUCommandAdapter\n", "  - name: NoSuchComponent\n")
    text = text.replace("  - name: FlowPolicy\n", "  - name: FlowPolicy\n  - name: MadeUpPolicy\n")
    response = _save(dev, text)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 7: unknown pipeline component &#x27;NoSuchComponent&#x27;" in page
    assert "Line 10: unknown policy &#x27;MadeUpPolicy&#x27;" in page
    assert _stored() == STORED


def test_a_custom_component_class_path_is_saved_with_a_warning(dev):
    text = STORED.replace("  - name: NLUCommandAdapter\n", "  - name: addons.nlu.MyComponent\n")
    response = _save(dev, text)
    assert response.status_code == 302
    assert _stored() == text
    page = dev.get(response["Location"]).content.decode()
    assert "&#x27;addons.nlu.MyComponent&#x27; is a custom pipeline component" in page


def test_every_known_component_and_policy_is_accepted(dev):
    from engine.formats.config import PIPELINE_COMPONENTS, POLICIES

    text = (
        "recipe: default.v1\nassistant_id: shop\npipeline:\n"
        + "".join(f"  - name: {name}\n" for name in sorted(PIPELINE_COMPONENTS))
        + "policies:\n"
        + "".join(f"  - name: {name}\n" for name in sorted(POLICIES))
    )
    assert _save(dev, text).status_code == 302
    assert {"CompactLLMCommandGenerator", "LLMBasedRouter", "SpacyNLP"} <= PIPELINE_COMPONENTS
    assert {"EnterpriseSearchPolicy", "UnexpecTEDIntentPolicy"} <= POLICIES
