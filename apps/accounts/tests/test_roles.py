import importlib

from apps.accounts.roles import ASSISTANT_CAPS, ROLE_CAPS, ROLE_LABELS, Cap, Role


def test_the_migration_creates_a_group_for_every_role():
    migration = importlib.import_module("apps.accounts.migrations.0003_role_groups")
    assert migration.ROLE_GROUPS == list(ROLE_LABELS.values())


def test_superuser_holds_every_capability_and_viewers_only_read():
    assert ROLE_CAPS[Role.SUPERUSER] == frozenset(Cap)
    assert ROLE_CAPS[Role.CONVERSATION_VIEWER] == {Cap.VIEW_ASSISTANT, Cap.VIEW_CONVERSATIONS}
    assert Cap.TAG_CONVERSATIONS in ROLE_CAPS[Role.CONVERSATION_ANALYST]
    assert Cap.EDIT_FLOWS not in ROLE_CAPS[Role.NLU_EDITOR]
    assert Cap.MANAGE_SETTINGS in ROLE_CAPS[Role.DEVELOPER]
    assert Cap.MANAGE_SETTINGS not in ROLE_CAPS[Role.FLOW_BUILDER]


def test_every_role_may_at_least_see_the_assistant():
    for caps in ROLE_CAPS.values():
        assert Cap.VIEW_ASSISTANT in caps
    assert Cap.VIEW_ASSISTANT in ASSISTANT_CAPS
