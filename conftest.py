"""Fixtures shared by every app's tests: people with roles, and assistants.

Django is imported inside the fixtures so that the Django-free packages (engine/) can be tested
with `-p no:django` as well.
"""

import pytest


@pytest.fixture
def make_user(db):
    """make_user("alice", Role.FLOW_BUILDER, grants={assistant: [Role.ANNOTATOR]})"""
    from django.contrib.auth.models import Group

    from apps.accounts.models import AssistantRole, User
    from apps.accounts.roles import Role

    def make(username, *roles, grants=None, **fields):
        user = User.objects.create_user(username=username, password="pw", **fields)
        for role in roles:
            # get_or_create: tests with transaction=True flush the groups the migration made.
            user.groups.add(Group.objects.get_or_create(name=Role(role).label)[0])
        for assistant, granted in (grants or {}).items():
            for role in granted:
                AssistantRole.objects.create(user=user, assistant=assistant, role=Role(role).value)
        return user

    return make


@pytest.fixture
def make_assistant(db):
    from apps.projects.models import Assistant

    def make(name="alpha", **fields):
        return Assistant.objects.create(name=name, **fields)

    return make


@pytest.fixture
def assistant(make_assistant):
    return make_assistant("alpha")


@pytest.fixture
def admin_user(make_user):
    from apps.accounts.roles import Role

    return make_user("admin", Role.SUPERUSER)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
