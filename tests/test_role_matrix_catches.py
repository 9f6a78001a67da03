"""The role-matrix check itself: it must catch a view whose check is missing or weaker than
what it declares (otherwise the matrix could pass while a page is open to everyone)."""

import pytest
from django.http import HttpResponse
from django.urls import include, path

from apps.accounts.access import Access, assistant_view
from apps.accounts.roles import Cap
from tests.test_role_matrix import Route, check_route, world  # noqa: F401  (fixture)


def declares_but_does_not_check(request, name):
    return HttpResponse("open to all")


declares_but_does_not_check.access = Access("assistant", Cap.MANAGE_SETTINGS)


@assistant_view(Cap.VIEW_ASSISTANT)
def checks_less_than_declared(request, assistant):
    return HttpResponse("weaker")


checks_less_than_declared.access = Access("assistant", Cap.MANAGE_SETTINGS)


@assistant_view(Cap.MANAGE_SETTINGS)
def checks_properly(request, assistant):
    return HttpResponse("ok")


def undeclared(request):
    return HttpResponse("who knows")


urlpatterns = [
    path("a/<str:name>/open", declares_but_does_not_check, name="open"),
    path("a/<str:name>/weak", checks_less_than_declared, name="weak"),
    path("a/<str:name>/proper", checks_properly, name="proper"),
    path("undeclared", undeclared, name="undeclared"),
    path("", include("apps.accounts.urls")),  # the login page that anonymous visitors meet
]


def route(name):
    entry = next(p for p in urlpatterns if getattr(p, "name", None) == name)
    return Route(str(entry.pattern), name, entry.callback)


@pytest.mark.urls(__name__)
def test_it_flags_a_view_that_declares_a_capability_but_checks_nothing(world):  # noqa: F811
    problems = check_route(route("open"), world)
    assert any("as global Business User: expected deny, got allow" in p for p in problems)
    assert any("as SuperUser on beta only: expected hide, got allow" in p for p in problems)
    assert any("as anonymous: expected login, got allow" in p for p in problems)


@pytest.mark.urls(__name__)
def test_it_flags_a_view_that_checks_less_than_it_declares(world):  # noqa: F811
    problems = check_route(route("weak"), world)
    assert any("as global Conversation Viewer: expected deny, got allow" in p for p in problems)


@pytest.mark.urls(__name__)
def test_it_passes_a_view_that_checks_what_it_declares(world):  # noqa: F811
    assert check_route(route("proper"), world) == []


@pytest.mark.urls(__name__)
def test_it_flags_an_undeclared_view(world):  # noqa: F811
    assert check_route(route("undeclared"), world) == [
        "undeclared (undeclared) declares no access: use an access decorator"
    ]
