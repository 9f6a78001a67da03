"""The role-matrix check itself: it must catch a view whose check is missing or weaker than
what it declares (otherwise the matrix could pass while a page is open to everyone)."""

import pytest
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseForbidden
from django.urls import include, path

from apps.accounts.roles import Cap
from apps.projects.access import (
    SAFE_METHODS,
    Access,
    assistant_caps,
    assistant_view,
    get_assistant_for,
)
from tests.test_role_matrix import Route, check_route, world, world_rows  # noqa: F401  (fixtures)


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


@assistant_view(Cap.MANAGE_SETTINGS)
def checks_more_than_declared(request, assistant):
    return HttpResponse("stricter")


checks_more_than_declared.access = Access("assistant", Cap.VIEW_ASSISTANT)


def undeclared(request):
    return HttpResponse("who knows")


def _message(assistant, event_id):
    from apps.ingestion.models import Event

    return HttpResponse(Event.objects.get(pk=event_id, conversation__assistant=assistant).text)


READ_AND_WRITE = Access("assistant", Cap.VIEW_CONVERSATIONS, Cap.ANNOTATE)


@login_required
def write_replaces_read(request, name, event_id):
    """Checks ANNOTATE instead of VIEW_CONVERSATIONS + ANNOTATE for a POST, and shows the
    message: an Annotator reads conversations through it."""
    needed = Cap.VIEW_CONVERSATIONS if request.method in SAFE_METHODS else Cap.ANNOTATE
    return _message(get_assistant_for(request.user, name, needed), event_id)


write_replaces_read.access = READ_AND_WRITE


@login_required
def write_checked_for_post_only(request, name, event_id):
    """Needs both for a POST, but a DELETE gets through with the read capability alone."""
    needed = [Cap.VIEW_CONVERSATIONS]
    if request.method == "POST":
        needed.append(Cap.ANNOTATE)
    return _message(get_assistant_for(request.user, name, needed), event_id)


write_checked_for_post_only.access = READ_AND_WRITE


def open_to_put(request, name, event_id):
    """Checks every method but PUT, which a plain view does not seem to answer."""
    if request.method == "PUT":
        from apps.ingestion.models import Event

        return HttpResponse(Event.objects.get(pk=event_id).text)
    return reads_and_writes_properly(request, name, event_id)


open_to_put.access = READ_AND_WRITE


@assistant_view(Cap.VIEW_CONVERSATIONS)
def refuses_but_shows(request, assistant, event_id):
    """Refuses a write it may not do, but with the message in the refusal."""
    if request.method not in SAFE_METHODS and Cap.ANNOTATE not in assistant_caps(
        request.user, assistant
    ):
        return HttpResponseForbidden(_message(assistant, event_id).content)
    return _message(assistant, event_id)


refuses_but_shows.access = READ_AND_WRITE


@assistant_view(Cap.VIEW_CONVERSATIONS, write=Cap.ANNOTATE)
def reads_and_writes_properly(request, assistant, event_id):
    return _message(assistant, event_id)


urlpatterns = [
    path("a/<str:name>/open", declares_but_does_not_check, name="open"),
    path("a/<str:name>/weak", checks_less_than_declared, name="weak"),
    path("a/<str:name>/proper", checks_properly, name="proper"),
    path("a/<str:name>/strict", checks_more_than_declared, name="strict"),
    path("undeclared", undeclared, name="undeclared"),
    path("a/<str:name>/e/<int:event_id>/replaced", write_replaces_read, name="replaced"),
    path("a/<str:name>/e/<int:event_id>/post-only", write_checked_for_post_only, name="post_only"),
    path("a/<str:name>/e/<int:event_id>/shows", refuses_but_shows, name="shows"),
    path("a/<str:name>/e/<int:event_id>/both", reads_and_writes_properly, name="both"),
    path("a/<str:name>/e/<int:event_id>/put", open_to_put, name="put"),
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


@pytest.mark.urls(__name__)
def test_it_flags_a_view_whose_write_check_replaces_its_read_check(world):  # noqa: F811
    problems = check_route(route("replaced"), world)
    leak = "the answer shows the conversation's messages"
    for actor in ("global Annotator", "Annotator on alpha only", "global Lead Annotator"):
        assert any(
            p.startswith("POST ") and f"as {actor}: expected deny, got allow; {leak}" in p
            for p in problems
        ), actor
    # Looking is refused to them as declared: only the write slipped through.
    assert not any(p.startswith("GET ") for p in problems)


@pytest.mark.urls(__name__)
def test_it_flags_a_write_capability_checked_for_post_but_not_for_delete(world):  # noqa: F811
    problems = check_route(route("post_only"), world)
    # Every method but POST lets a reader through; each is asked by some of the readers.
    for method in ("DELETE", "PUT", "PATCH"):
        assert any(
            p.startswith(f"{method} ") and "Conversation " in p and "expected deny, got allow" in p
            for p in problems
        ), method
    assert not any(p.startswith("POST ") for p in problems)


@pytest.mark.urls(__name__)
def test_it_flags_a_refusal_that_shows_the_object(world):  # noqa: F811
    problems = check_route(route("shows"), world)
    assert any(
        "as global Conversation Viewer: expected deny, got deny; the answer shows the "
        "conversation's messages" in p
        for p in problems
    )


@pytest.mark.urls(__name__)
def test_it_passes_a_view_that_needs_both_capabilities_to_write(world):  # noqa: F811
    assert check_route(route("both"), world) == []


@pytest.mark.urls(__name__)
def test_it_flags_a_method_the_view_does_not_seem_to_answer(world):  # noqa: F811
    """PUT is asked by only some of the people who must be refused (`probes`); enough of them
    to catch a view that lets it through."""
    problems = check_route(route("put"), world)
    assert problems and all(p.startswith("PUT ") for p in problems)
    assert any("expected hide, got allow" in p for p in problems)
    assert any("expected deny, got allow" in p for p in problems)


@pytest.mark.urls(__name__)
def test_answered_requests_only_still_catch_a_refusal_of_who_may(world):  # noqa: F811
    """CI's SQLite pass makes only the requests that must be answered: a view that refuses
    someone it must answer is still caught, and none of the refused are asked."""
    problems = check_route(route("strict"), world, refusals_too=False)
    assert any("as global Business User: expected allow, got deny" in p for p in problems)
    assert all("expected allow" in p for p in problems)
    assert check_route(route("open"), world, refusals_too=False) == []
    assert check_route(route("strict"), world) != []
