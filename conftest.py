"""Fixtures shared by every app's tests: people with roles, and assistants.

Django is imported inside the fixtures so that the Django-free packages (engine/) can be tested
with `-p no:django` as well.
"""

import pytest
from hypothesis import HealthCheck, settings

# Property tests check what a function does, never how fast: hypothesis's own timing checks (a
# deadline per example, a "too slow" data generation) would fail them on a busy machine.
settings.register_profile("studio", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("studio")

#: The fixtures through which a test reaches the test database (pytest-django's, and
#: live_server, whose server thread shares it).
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
    }
)


def pytest_addoption(parser):
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that use the test database or the database settings (CI's "
        "second pass, on SQLite: the others cannot behave differently on another database)",
    )


def uses_database(item) -> bool:
    """Whether the test can behave differently on another database: it uses the test database
    (a fixture or the django_db mark), or it is marked as reading the database settings."""
    if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return any(item.get_closest_marker(name) for name in ("django_db", "database_settings"))


def pytest_collection_modifyitems(config, items):
    if not config.getoption("database_tests_only"):
        return
    kept = [item for item in items if uses_database(item)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if not uses_database(item)])
        items[:] = kept


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
