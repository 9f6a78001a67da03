"""Every CLI operation with every role: allowed exactly when the role table says."""

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import ROLE_CAPS, Cap, Role
from apps.projects.models import Assistant
from apps.projects.tests.graphql.cli_support import (
    LICENSE_DETAILS,
    b64,
    by_name,
    delete,
    export,
    fixture,
    post,
    upload,
)

pytestmark = pytest.mark.django_db

CONFIG = "recipe: default.v1\nlanguage: en\n"
NLU = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n'
DOMAIN = 'version: "3.1"\nintents:\n- greet\n'


def classic(name):
    return {
        "query": fixture("import_312_seaside_inn.json")["query"],
        "variables": {"input": {"assistantName": name, "domain": b64(DOMAIN), "nlu": b64(NLU)}},
    }


#: operation -> (the request, the capability it needs, whether it is global)
OPERATIONS = {
    "licenseDetails": (lambda: LICENSE_DETAILS, None),
    "assistantByName": (lambda: by_name("modern"), Cap.VIEW_ASSISTANT),
    "exportAsEncodedYaml": (lambda: export("modern"), Cap.EXPORT),
    "deleteAssistant": (lambda: delete("modern"), Cap.MANAGE_SETTINGS),
    "uploadModernAssistant": (lambda: upload("modern", config=CONFIG), Cap.MANAGE_SETTINGS),
    "uploadModernAssistant (new)": (lambda: upload("brand-new", config=CONFIG), None),
    "importFromEncodedYaml": (lambda: classic("classic"), Cap.MANAGE_SETTINGS),
    "importFromEncodedYaml (new)": (lambda: classic("brand-new"), None),
}
CREATES = {"uploadModernAssistant (new)", "importFromEncodedYaml (new)"}


@pytest.fixture
def assistants(client, make_user):
    _, secret = ApiToken.issue(make_user("owner", Role.SUPERUSER), "cli")
    body = upload("modern", config=CONFIG, nlu=NLU, domain=DOMAIN)
    assert "errors" not in post(client, body, secret).json()
    assert "errors" not in post(client, classic("classic"), secret).json()


def allowed(role: Role, operation: str) -> bool:
    caps = ROLE_CAPS[role]
    if operation in CREATES:
        return Cap.CREATE_ASSISTANT in caps
    needed = OPERATIONS[operation][1]
    return needed is None or needed in caps


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("role", list(Role))
def test_role_walk(client, make_user, assistants, role, operation):
    _, secret = ApiToken.issue(make_user("u", role), "cli")
    build, _ = OPERATIONS[operation]
    body = post(client, build(), secret).json()
    if allowed(role, operation):
        assert not body.get("errors"), body
        field = next(iter(body["data"]))
        assert body["data"][field] not in (None, False, {"_": None})
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    if operation in CREATES:
        assert Assistant.objects.filter(name="brand-new").exists() is allowed(role, operation)
    if operation == "deleteAssistant":
        assert Assistant.objects.filter(name="modern").exists() is not allowed(role, operation)


def test_the_walk_sees_both_answers():
    """The table gives each guarded operation roles that may and roles that may not."""
    for operation in ("exportAsEncodedYaml", "deleteAssistant", *CREATES):
        answers = {allowed(role, operation) for role in Role}
        assert answers == {True, False}, operation


def test_a_role_granted_on_one_assistant_reaches_that_one_only(client, make_user, assistants):
    modern = Assistant.objects.get(name="modern")
    _, secret = ApiToken.issue(make_user("u", grants={modern: [Role.DEVELOPER]}), "cli")
    assert "errors" not in post(client, export("modern"), secret).json()
    found = post(client, by_name("classic"), secret).json()["data"]["assistantByName"]
    assert found == {"_": None}
    # A grant on one assistant is no global right to create others.
    error = post(client, upload("brand-new", config=CONFIG), secret).json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
