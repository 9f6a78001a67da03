"""deploy/keycloak/rasa-studio-realm.json, the realm an operator imports into Keycloak, agrees
with what Studio reads: the role groups, the web client's flow and callback, the claim roles
come in, and a CLI client whose access tokens Studio accepts and maps."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from apps.accounts import oidc, realm
from apps.accounts.roles import ROLE_LABELS, Role

REALM = json.loads(
    (Path(__file__).resolve().parents[1] / "deploy/keycloak/rasa-studio-realm.json").read_text()
)


def client(client_id: str) -> dict:
    return next(c for c in REALM["clients"] if c["clientId"] == client_id)


def groups_mapper(found: dict) -> dict:
    return next(
        m["config"]
        for m in found["protocolMappers"]
        if m["protocolMapper"] == "oidc-group-membership-mapper"
    )


def test_the_realm_is_the_one_the_rasa_cli_defaults_to():
    assert REALM["realm"] == realm.REALM == "rasa-studio"
    assert REALM["enabled"] and not REALM["registrationAllowed"]


def test_there_is_one_group_per_role_and_each_maps_to_it():
    names = [group["name"] for group in REALM["groups"]]
    assert sorted(names) == sorted(ROLE_LABELS.values())
    for group in REALM["groups"]:
        assert oidc.role_of_group(group["path"]) == Role.from_label(group["name"])


def test_the_web_client_is_confidential_with_the_standard_flow_and_pkce():
    studio = client("studio")
    assert studio["publicClient"] is False and studio["standardFlowEnabled"] is True
    assert not studio["implicitFlowEnabled"] and not studio["directAccessGrantsEnabled"]
    assert studio["attributes"]["pkce.code.challenge.method"] == "S256"
    assert all(uri.endswith(reverse("accounts:oidc_callback")) for uri in studio["redirectUris"])
    assert studio["attributes"]["post.logout.redirect.uris"].endswith(reverse("accounts:login"))


@pytest.mark.parametrize("client_id", ["studio", "admin-cli"])
def test_the_groups_reach_the_claim_studio_reads(client_id):
    mapper = groups_mapper(client(client_id))
    assert mapper["claim.name"] == "groups"  # OIDC_ROLES_CLAIM's default
    # The web login reads the ID token and userinfo; bearer tokens are access tokens.
    assert mapper["id.token.claim"] == mapper["userinfo.token.claim"] == "true"
    assert mapper["access.token.claim"] == "true"


def test_the_cli_client_is_public_with_direct_access_grants_only():
    cli = client("admin-cli")
    assert cli["publicClient"] is True and cli["directAccessGrantsEnabled"] is True
    assert not cli["standardFlowEnabled"] and not cli["implicitFlowEnabled"]
    # upload and push never refresh: the access token lasts as long as Studio's own realm's.
    assert int(cli["attributes"]["access.token.lifespan"]) == 12 * 3600
