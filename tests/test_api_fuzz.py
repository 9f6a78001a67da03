"""The whole REST API, fuzzed from its own OpenAPI schema as every kind of caller: no 5xx.

Schemathesis reads `/api/v1/schema` and generates requests for every operation (valid and
invalid bodies, queries and path values). Each operation is called as every global role, a
Developer holding the role on one assistant only, a user with no role, a revoked token and no
token at all. Path names are aimed at the assistant the caller may see half of the time, so
the operations get past the access check. Besides the generated values, every path parameter
is also given a fixed list of hostile values (Unicode digits, huge numbers, traversal, NUL,
very long strings), so the checks that matter most do not depend on chance.

Generation is derandomized: a failure reproduces on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 8

HOSTILE_PATH_VALUES = [
    "¹",  # a Unicode digit: str.isdigit() is true, int() refuses it
    "٣",  # an Arabic-Indic digit: int() accepts it
    "9" * 40,  # beyond any database integer
    "-1",
    "0",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "a" * 5000,
    "latest",
    " ",
]

APP = get_wsgi_application()


def _schema():
    return schemathesis.openapi.from_wsgi("/api/v1/schema", APP)


def _operations():
    # Loaded at collection time; the schema view needs no database.
    return [result.ok() for result in _schema().get_all_operations()]


OPERATIONS = _operations()


@dataclass(frozen=True)
class Caller:
    label: str
    global_roles: tuple = ()
    alpha_roles: tuple = ()
    token: str = "valid"  # valid | revoked | none


CALLERS = [Caller(f"global-{role.value}", global_roles=(role,)) for role in Role] + [
    Caller("alpha-developer", alpha_roles=(Role.DEVELOPER,)),
    Caller("no-role"),
    Caller("revoked-token", global_roles=(Role.SUPERUSER,), token="revoked"),
    Caller("anonymous", token="none"),
]


@pytest.fixture
def keep_connection():
    """The WSGI handler closes the database connection after each request; the test database
    lives in this test's transaction, so keep it open (as Django's own test client does)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_world(make_user, make_assistant, keep_connection):
    """Two assistants with content, a conversation, a training job and a stored version, so
    that generated ids sometimes hit real rows."""
    from apps.ingestion.tests.factories import stored_conversation
    from apps.projects.content import import_files

    alpha = make_assistant("alpha")
    beta = make_assistant("beta")
    files = {
        "domain.yml": "version: '3.1'\nresponses:\n  utter_hi:\n  - text: hi\n",
        "data/flows.yml": (
            "flows:\n  greet:\n    description: say hi\n    steps:\n    - action: utter_hi\n"
        ),
    }
    for assistant in (alpha, beta):
        import_files(assistant, files)
        stored_conversation(assistant)
    return alpha, beta


def _headers_for(caller: Caller, make_user) -> dict:
    if caller.token == "none":
        return {}
    from apps.projects.models import Assistant

    alpha = Assistant.objects.get(name="alpha")
    user = make_user(
        f"fuzz-{caller.label}",
        *caller.global_roles,
        grants={alpha: list(caller.alpha_roles)} if caller.alpha_roles else None,
    )
    token, secret = ApiToken.issue(user, "fuzz")
    if caller.token == "revoked":
        token.revoke()
    return {"Authorization": f"Bearer {secret}"}


def _call(case, headers):
    response = case.call(headers=headers)
    assert response.status_code < 500, (
        f"{case.operation.label} answered {response.status_code} for "
        f"path={case.path_parameters} query={case.query} body={case.body!r}"
    )
    return response


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.label)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_operation_answers_5xx_to_any_caller(operation, caller, api_world, make_user):
    headers = _headers_for(caller, make_user)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), aim=st.booleans())
    def fuzz(case, aim):
        if aim and "name" in (case.path_parameters or {}):
            case.path_parameters["name"] = "alpha"
        _call(case, headers)

    fuzz()

    # The same operation with each hostile value in each path parameter (the others valid).
    parameters = [p.name for p in operation.path_parameters]
    for parameter in parameters:
        for value in HOSTILE_PATH_VALUES:
            path = {name: "alpha" if name == "name" else "1" for name in parameters}
            path[parameter] = value
            case = operation.Case(path_parameters=path, media_type="application/json", body={})
            _call(case, headers)
