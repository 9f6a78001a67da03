"""Text people type has a length limit, enforced by the server and shown by the browser."""

import pytest
from django.urls import reverse

from apps.flows.models import Flow, Response
from apps.projects import content
from engine.formats import FormatError, limits

pytestmark = pytest.mark.django_db


def test_every_text_field_on_the_flow_and_response_pages_has_a_maxlength(ed_client, shop):
    page = ed_client.get(reverse("flows:create", args=[shop.name])).content.decode()
    assert f'name="name" maxlength="{limits.NAME}"' in page
    assert f'maxlength="{limits.TITLE}"' in page
    assert f'name="description" cols="40" rows="3" maxlength="{limits.DESCRIPTION}"' in page
    page = ed_client.get(reverse("flows:response_create", args=[shop.name])).content.decode()
    assert f'name="v0-text" cols="40" rows="2" maxlength="{limits.TEXT}"' in page
    # The counter script is on every page.
    assert "studio/forms.js" in page


def test_overlong_text_is_refused_at_the_field_and_nothing_is_stored(ed_client, shop):
    response = ed_client.post(
        reverse("flows:create", args=[shop.name]),
        {"name": "huge", "title": "t" * 201, "description": "d" * 2001},
    )
    html = response.content.decode()
    assert response.status_code != 302
    assert "Ensure this value has at most 2000 characters (it has 2001)." in html
    assert "Ensure this value has at most 200 characters (it has 201)." in html
    assert not Flow.objects.filter(assistant=shop, name="huge").exists()

    response = ed_client.post(
        reverse("flows:response_create", args=[shop.name]),
        {"name": "utter_long", "variation_count": "1", "v0-text": "x" * 5001},
    )
    assert response.status_code != 302
    assert "at most 5000 characters (it has 5001)" in response.content.decode()
    assert not Response.objects.filter(assistant=shop, name="utter_long").exists()


def test_an_import_with_overlong_text_names_the_file_line_and_key(shop):
    domain = 'version: "3.1"\nresponses:\n  utter_long:\n    - text: "' + "x" * 5001 + '"\n'
    flows = (
        'version: "3.1"\nflows:\n  long:\n    name: "'
        + "n" * 201
        + '"\n    description: "'
        + "d" * 2001
        + '"\n    steps:\n      - action: utter_long\n'
    )
    with pytest.raises(FormatError) as refused:
        content.import_files(shop, {"domain.yml": domain, "data/flows.yml": flows})
    found = {(p.file, p.line, p.path): p.message for p in refused.value.problems}
    assert found[("domain.yml", 4, "responses.utter_long[0].text")] == (
        "the text of response 'utter_long' is 5001 characters long; the limit is 5000"
    )
    assert (
        "is 201 characters long; the limit is 200"
        in found[("data/flows.yml", 4, "flows.long.name")]
    )
    assert "the limit is 2000" in found[("data/flows.yml", 5, "flows.long.description")]
    assert not Response.objects.filter(assistant=shop, name="utter_long").exists()
