"""Every URL of the project, requested by every kind of person, answers as the role map says.

The URL list is read from the URL configuration, so a new page is covered the moment it is
added. Each view must declare its access (apps.projects.access); an undeclared view fails here.
What each person may do comes from apps.accounts.roles.ROLE_CAPS and nothing else, so a view
whose check is removed or weakened answers a forbidden person with 200 and fails here too.

Every URL is requested with GET and with each unsafe method (POST, PUT, PATCH, DELETE) its view
answers, by everyone. An unsafe request needs the capability to look and, on top of it, the
write capability: whoever lacks either must be refused (403, or 404 where the assistant is
hidden from them), and the refusal must not show any of the objects' content (SECRETS). The
unsafe methods a view does not answer must be refused too; each person who must be refused asks
with one of them, taken in turn, so that every such method of every URL is asked by several
people (`probes`).

New URL parameters need a filler in FILLERS: a function (world, actor) -> value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.accounts.models import ApiToken, AssistantRole
from apps.accounts.roles import GLOBAL_CAPS, ROLE_CAPS, Cap, Role, caps_of
from apps.projects.access import Access, declared_access
from tests.support.oidc import studio_settings

UNSAFE_PROBES = ("post", "put", "patch", "delete")
SAFE = ("GET", "HEAD", "OPTIONS")

# Content of the objects the URLs name (see the world fixture), and what it is. None of it may
# appear in an answer to someone who is refused. Each is long enough never to turn up by chance
# (in a CSRF token, say).
SECRETS = {
    "send 50 to Joe": "the conversation's messages",
    "hello there": "an NLU example",
    "Says hi": "a flow's description",
    "matrix training log": "the training log",
    "docs/reading-rooms.txt": "a knowledge-base document's name",
}


@dataclass(frozen=True)
class Route:
    pattern: str  # e.g. "a/<str:name>/members/<int:grant_id>/revoke"
    name: str
    callback: object = field(compare=False)


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield Route(prefix + str(entry.pattern), f"{namespace}{entry.name}", entry.callback)


ROUTES = list(_walk(get_resolver().url_patterns))


@dataclass
class Actor:
    label: str
    user: object | None  # None: anonymous
    global_roles: frozenset = frozenset()
    roles_on_alpha: frozenset = frozenset()  # global roles + grants on the assistant "alpha"


@dataclass
class World:
    alpha: object
    beta: object
    actors: list
    grant: object
    subject: object
    job: object = None
    sessions: dict = field(default_factory=dict)  # actor label -> session cookie value


@pytest.fixture(autouse=True)
def single_sign_on(settings):
    """Single sign-on switched on (its URLs answer 404 while it is off), with a provider
    that is never reached: the probes carry no authorization code."""
    endpoint = "https://idp.invalid/realms/studio/protocol/openid-connect/"
    endpoints = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": endpoint + "auth",
        "OIDC_OP_TOKEN_ENDPOINT": endpoint + "token",
        "OIDC_OP_USER_ENDPOINT": endpoint + "userinfo",
        "OIDC_OP_JWKS_ENDPOINT": endpoint + "certs",
    }
    for name, value in studio_settings(endpoints).items():
        setattr(settings, name, value)


@pytest.fixture(scope="module")
def world_rows(django_db_setup, django_db_blocker):
    """The world's rows, made once per module inside a transaction that is rolled back when the
    module's tests are done. Each test runs in a savepoint inside it (pytest-django's `db`), and
    each request in a savepoint of its own, so what one test adds or changes is gone before the
    next one starts."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = _build_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def world(world_rows, db):
    return world_rows


def _user(username, *roles, grants=None):
    from django.contrib.auth.models import Group

    from apps.accounts.models import User

    user = User.objects.create_user(username=username, password="pw")
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=Role(role).label)[0])
    for assistant, granted in (grants or {}).items():
        for role in granted:
            AssistantRole.objects.create(user=user, assistant=assistant, role=Role(role).value)
    return user


def _build_world():
    from apps.projects.models import Assistant

    alpha, beta = Assistant.objects.create(name="alpha"), Assistant.objects.create(name="beta")
    actors = [Actor("anonymous", None)]
    for role in Role:
        user = _user(f"global-{role.value}", role)
        actors.append(Actor(f"global {role.label}", user, frozenset({role}), frozenset({role})))
    for role in Role:
        user = _user(f"granted-{role.value}", grants={alpha: [role]})
        actors.append(Actor(f"{role.label} on alpha only", user, frozenset(), frozenset({role})))
    # Holds the strongest role, but on another assistant: alpha must not even exist for them.
    outsider = _user("outsider", grants={beta: [Role.SUPERUSER]})
    actors.append(Actor("SuperUser on beta only", outsider))
    for actor in actors:
        if actor.user is not None:
            ApiToken.issue(actor.user, "matrix")
    grant = AssistantRole.objects.filter(assistant=alpha).first()
    _flow_content(alpha)
    world = World(alpha, beta, actors, grant, subject=actors[1].user, job=_trained_version(alpha))
    # Each person logs in once: their session lives in the module's transaction, and what a
    # request does to it (logging out, say) is rolled back with the request's savepoint.
    for actor in actors:
        if actor.user is not None:
            client = Client()
            client.force_login(actor.user)
            world.sessions[actor.label] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return world


def _flow_content(assistant):
    """A flow (with a version), response, slot, action, intent and example for the flow
    builder's and NLU pages' URLs."""
    from apps.flows.models import CustomAction, Flow, FlowVersion, Response, Slot
    from apps.nlu.models import Example, Intent

    Slot.objects.create(
        assistant=assistant, name="amount", type="float", definition={"type": "float"}
    )
    Response.objects.create(assistant=assistant, name="utter_hi", variations=[{"text": "Hi"}])
    CustomAction.objects.create(assistant=assistant, name="action_pay")
    definition = {"description": "Says hi", "steps": [{"action": "utter_hi"}]}
    Flow.objects.create(assistant=assistant, name="say_hi", definition=definition)
    FlowVersion.objects.create(assistant=assistant, flow_name="say_hi", definition=definition)
    intent = Intent.objects.create(assistant=assistant, name="greet")
    Example.objects.create(intent=intent, text="hello there")
    from apps.projects.models import AssistantFiles

    AssistantFiles.objects.update_or_create(
        assistant=assistant, defaults={"other_files": {"docs/reading-rooms.txt": "Open at 9.\n"}}
    )


def _trained_version(assistant):
    """A finished training with its model in storage, for the version and job URLs."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from apps.training.models import Deployment, ModelVersion, TrainingJob

    stored = default_storage.save(f"models/{assistant.name}/1.tar.gz", ContentFile(b"model"))
    version = ModelVersion.objects.create(
        assistant=assistant,
        number=1,
        input_files={"domain.yml": "intents: [a]\n"},
        model_file=stored,
    )
    # It was live and its bot has stopped: whoever may try it may start it again.
    Deployment.objects.create(
        assistant=assistant,
        version=version,
        status=Deployment.Status.STOPPED,
        live_at=timezone.now(),
        stopped_at=timezone.now(),
    )
    return TrainingJob.objects.create(
        assistant=assistant,
        version=version,
        status=TrainingJob.Status.SUCCEEDED,
        log="matrix training log\n",
    )


def _pod_link(purpose):
    """A signed link of a training that runs (or a bot that is live): whoever holds one may
    use it, as a training or bot pod does (apps/training/pods.py)."""

    def filler(world, actor):
        from apps.training import pods
        from apps.training.models import Deployment, TrainingJob

        version = world.job.version
        if purpose == "bot-model":
            row = Deployment.objects.create(
                assistant=world.alpha, version=version, status="live", attempts=1
            )
        else:
            later = version.assistant.versions.create(number=100 + TrainingJob.objects.count())
            row = TrainingJob.objects.create(
                assistant=world.alpha, version=later, status="running", attempts=1
            )
        return pods.sign(purpose, row.pk, row.attempts)

    return filler


def _cache_entry(world) -> str:
    """The key of a whole entry of alpha's training cache (what a cache link reads)."""
    import hashlib
    import json

    from apps.training import cache_storage

    key, data = "0" * 64, b"weights"
    manifest = {
        "format": cache_storage.FORMAT,
        "component": "nlu_classifier",
        "key": key,
        "files": {"model.bin": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}},
    }
    cache_storage.store_entry(
        world.alpha.pk, "nlu_classifier", key, {"model.bin": data}, json.dumps(manifest).encode()
    )
    return key


def _own_token(world, actor):
    user = actor.user or world.subject
    return user.api_tokens.first().pk


FILLERS = {
    "name": lambda world, actor: world.alpha.name,
    "grant_id": lambda world, actor: world.grant.pk,
    "user_id": lambda world, actor: world.subject.pk,
    "token_id": _own_token,
    "job_id": lambda world, actor: world.job.pk,
    "import_id": lambda world, actor: _import_job(world.alpha),
    "number": lambda world, actor: world.job.version.number,
    "version": lambda world, actor: world.job.version.number,
    "conversation_id": lambda world, actor: _conversations().stored_conversation(world.alpha).pk,
    "conversation": lambda world, actor: _conversations().stored_conversation(world.alpha).pk,
    "event_id": lambda world, actor: _conversations().stored_user_event(world.alpha).pk,
    "sender_id": lambda world, actor: "matrix-sender",
    "tag_id": lambda world, actor: _conversations().stored_tag(world.alpha).pk,
    "flow_name": lambda world, actor: "say_hi",
    "pattern_name": lambda world, actor: "pattern_chitchat",
    "version_id": lambda world, actor: world.alpha.flow_versions.get(flow_name="say_hi").pk,
    "response_name": lambda world, actor: "utter_hi",
    "slot_name": lambda world, actor: "amount",
    "action_name": lambda world, actor: "action_pay",
    "intent_name": lambda world, actor: "greet",
    "example_id": lambda world, actor: _example_id(world.alpha),
    "secret_id": lambda world, actor: _secret_id(world.alpha),
    "input_link": _pod_link("training-input"),
    "model_link": _pod_link("training-model"),
    "cache_link": _pod_link("training-cache"),
    "component": lambda world, actor: "nlu_classifier",
    "key": lambda world, actor: _cache_entry(world),
    "bot_link": _pod_link("bot-model"),
    "item_id": lambda world, actor: _annotation(world, actor).pk,
    "batch_id": lambda world, actor: _annotation(world, actor).batch_id,
    "run_id": lambda world, actor: _test_run(world).pk,
    "comparison_id": lambda world, actor: _comparison(world).pk,
    "replay_id": lambda world, actor: _replay(world, actor, conversation=True).pk,
    "try_replay_id": lambda world, actor: _replay(world, actor, conversation=False).pk,
}


def _test_run(world):
    """A finished test run of alpha's trained version."""
    from apps.testing.models import TestRun

    found = TestRun.objects.filter(assistant=world.alpha).first()
    return found or TestRun.objects.create(
        assistant=world.alpha, version=world.job.version, status=TestRun.Status.PASSED
    )


def _comparison(world):
    """A comparison of the trained version (apps/comparison)."""
    from apps.comparison.models import Comparison

    version = world.job.version
    return Comparison.objects.create(assistant=world.alpha, candidate=version, base=version)


def _replay(world, actor, *, conversation):
    """A replay of the stored conversation, or of the actor's Try session (theirs alone)."""
    from apps.comparison.models import Replay

    stored = _conversations().stored_conversation(world.alpha) if conversation else None
    return Replay.objects.create(
        assistant=world.alpha,
        version=world.job.version,
        conversation=stored,
        requested_by=actor.user or world.subject,
        source=[{"user": "hello", "bot": [], "flows": []}],
    )


def _annotation(world, actor):
    """A message of the conversation in a batch assigned to the actor (whose inbox it is in)."""
    import uuid

    from apps.annotation.models import Annotation, Batch

    user = actor.user or world.subject
    found = Annotation.objects.filter(batch__assignee=user).first()
    if found is not None:
        return found
    conversation = _conversations().stored_conversation(world.alpha)
    event = conversation.events.create(
        type="user",
        timestamp=conversation.started_at,
        fingerprint=uuid.uuid4(),
        data={"event": "user", "text": "send 50 to Joe"},
        text="send 50 to Joe",
    )
    batch = Batch.objects.create(
        assistant=world.alpha, number=Batch.objects.count() + 1, assignee=user
    )
    return Annotation.objects.create(
        batch=batch,
        assistant=world.alpha,
        event=event,
        conversation=conversation,
        text=event.text,
        message_at=event.timestamp,
        intent="greet",
    )


def _secret_id(assistant):
    from apps.projects.secrets import set_secret

    return set_secret(assistant, "MATRIX_TOKEN", "matrix-secret-value").pk


def _import_job(assistant):
    """A full replace waiting for its confirmation."""
    from apps.projects.models import ImportJob

    job, _ = ImportJob.objects.get_or_create(
        assistant=assistant, defaults={"status": ImportJob.Status.AWAITING_CONFIRMATION}
    )
    return job.pk


def _example_id(assistant):
    from apps.nlu.models import Example

    return Example.objects.get(intent__assistant=assistant, text="hello there").pk


def _conversations():
    from apps.ingestion.tests import factories

    return factories


def build_url(route: Route, world: World, actor: Actor) -> str:
    def fill(match):
        kwarg = match.group(2)
        if kwarg not in FILLERS:
            pytest.fail(f"{route.name}: no filler for URL parameter {kwarg!r}; add one to FILLERS")
        return str(FILLERS[kwarg](world, actor))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route.pattern)


def methods_of(route: Route) -> list[str]:
    """The methods the view answers; it is requested with these by everyone, and with the
    other unsafe methods by those who must be refused."""
    view_class = getattr(route.callback, "cls", None)
    if view_class is not None:
        return ["get"] + [m for m in UNSAFE_PROBES if hasattr(view_class, m)] or ["post"]
    return ["get", "post"]


def probes(answered: list[str], turn: int, people: int) -> list[str]:
    """The methods one person asks a URL with: GET, every unsafe method the view answers, and
    of those it does not answer, the `turn`-th in rotation among the `people` refused the same
    way (all of them when there are fewer such people than methods). A view refuses before it
    dispatches on the method (the access decorators wrap it), so a method it does not answer
    goes the same way as the others; the rotation still puts each of them to every kind of
    refusal."""
    unanswered = [method for method in UNSAFE_PROBES if method not in answered]
    asked = ["get", *(method for method in UNSAFE_PROBES if method in answered)]
    if people < len(unanswered):
        return asked + unanswered
    if unanswered:
        asked.append(unanswered[turn % len(unanswered)])
    return asked


def needed(access: Access, method: str) -> frozenset[Cap]:
    """What the specification says a request needs, worked out here and not by the access
    helpers under test: the capability always, and the write capability as well for an unsafe
    method (a write never needs less than a look)."""
    caps = {access.capability}
    if method.upper() not in SAFE:
        caps.add(access.write_capability)
    caps.discard(None)
    return frozenset(caps)


def expected(access: Access, actor: Actor, method: str, is_api: bool) -> str:
    """'allow', 'deny' (403), 'hide' (404) or 'login' (redirect to login / 401)."""
    if access.scope == "public":
        return "allow"
    if actor.user is None:
        return "login"
    capabilities = needed(access, method)
    if access.scope == "authenticated" or not capabilities:
        return "allow"
    if access.scope == "global":
        assert capabilities <= GLOBAL_CAPS, f"{capabilities} are not all global capabilities"
        return "allow" if capabilities <= caps_of(actor.global_roles) else "deny"
    if access.scope == "assistant":
        if not actor.roles_on_alpha:
            return "hide"
        return "allow" if capabilities <= caps_of(actor.roles_on_alpha) else "deny"
    raise AssertionError(f"unknown scope {access.scope}")


def verdict(response, is_api: bool) -> str:
    status = response.status_code
    if status >= 500:
        return f"error {status}"
    if status == 403:
        return "deny"
    if status == 404:
        return "hide"
    if status == 401 or (status == 302 and "/login/" in response.get("Location", "")):
        return "login"
    return "allow"


def shown_secrets(response) -> list[str]:
    """What of SECRETS the answer shows."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    text = body.decode("utf-8", errors="replace")
    return [what for secret, what in SECRETS.items() if secret in text]


def check_route(route: Route, world: World, *, refusals_too: bool = True) -> list[str]:
    """What is wrong with `route`'s answers to every person. With ``refusals_too=False`` only
    the requests that must be answered are made (CI's SQLite pass, see the test below)."""
    access = declared_access(route.callback)
    if access is None:
        return [f"{route.name} ({route.pattern}) declares no access: use an access decorator"]
    problems = []
    is_api = route.pattern.startswith("api/")
    # The people who must be refused a write, by how (deny, hide, login): each kind of refusal
    # takes its turns at the methods the view does not answer (`probes`).
    refusals: dict[str, list[Actor]] = {}
    for actor in world.actors:
        refusals.setdefault(expected(access, actor, "delete", is_api), []).append(actor)
    for actor in world.actors:
        kind = refusals[expected(access, actor, "delete", is_api)]
        client = Client()
        if actor.user is not None:
            client.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions[actor.label]
        url = build_url(route, world, actor)
        answered = methods_of(route)
        for method in probes(answered, kind.index(actor), len(kind)):
            want = expected(access, actor, method, is_api)
            if want == "allow" and method not in answered:
                continue  # e.g. PUT to a page that only takes POST: a 405 for whoever may
            if want != "allow" and not refusals_too:
                continue
            # Each request runs in a savepoint that is rolled back, so a permitted POST or
            # DELETE cannot change what the next person sees.
            with transaction.atomic():
                response = getattr(client, method)(url)
                transaction.set_rollback(True)
            got = verdict(response, is_api)
            if access.scope == "public" and got == "login":
                got = "allow"  # e.g. logging out lands on the login page
            shown = shown_secrets(response) if want != "allow" else []
            if got != want or shown:
                problem = f"{method.upper()} {url} as {actor.label}: expected {want}, got {got}"
                if shown:
                    problem += f"; the answer shows {', '.join(shown)}"
                problems.append(problem)
    return problems


# The security specification: what every URL requires, written out here so that weakening a
# view's declaration shows up as a change to this table in review. A new URL fails until it is
# listed. (scope, capability for GET/HEAD, capability for other methods)
P, AU, G, A = "public", "authenticated", "global", "assistant"
EXPECTED_ACCESS = {
    "healthz": (P, None, None),
    "api:schema": (P, None, None),
    "graphql": (P, None, None),
    "api:assistants": (G, None, Cap.CREATE_ASSISTANT),
    "api:assistant": (A, Cap.VIEW_ASSISTANT, Cap.MANAGE_SETTINGS),
    "api:assistant_export": (A, Cap.EXPORT, None),
    "api:assistant_import": (A, Cap.MANAGE_SETTINGS, None),
    "api:assistant_import_job": (A, Cap.MANAGE_SETTINGS, None),
    "api:train": (A, Cap.TRAIN, None),
    "api:training_job": (A, Cap.VIEW_ASSISTANT, None),
    "api:version_model": (A, Cap.EXPORT, None),
    "api:version_input": (A, Cap.EXPORT, None),
    # The assistant comes from ?assistant=: checked in the view (tests in apps/training).
    "api:download_model_file": (AU, None, None),
    "api:download_model_input": (AU, None, None),
    "api:versions": (A, Cap.TRY, None),
    "training:train": (A, Cap.TRAIN, None),
    "training:job": (A, Cap.VIEW_ASSISTANT, None),
    "training:cancel": (A, Cap.TRAIN, None),
    "training:versions": (A, Cap.TRY, None),
    "training:edit_version": (A, Cap.TRAIN, None),
    "training:deploy": (A, Cap.TRAIN, None),
    "training:model": (A, Cap.EXPORT, None),
    "training:input": (A, Cap.EXPORT, None),
    "training:log": (A, Cap.TRY, None),
    "training:try": (A, Cap.TRY, None),
    "training:try_message": (A, Cap.TRY, None),
    "training:try_restart": (A, Cap.TRY, None),
    "training:try_start_flow": (A, Cap.TRY, None),
    "training:try_version": (A, Cap.TRY, None),
    "training:try_transcript": (A, Cap.TRY, None),
    "training:try_language": (A, Cap.TRY, None),
    # Signed links of training and bot pods: the link is the credential (apps/training/pods.py).
    "training:pod_input": (P, None, None),
    "training:pod_model": (P, None, None),
    "training:pod_cache": (P, None, None),
    "training:pod_bot_model": (P, None, None),
    "comparison:compare": (A, Cap.TRY, Cap.TRAIN),
    "comparison:make_live": (A, Cap.TRAIN, None),
    "comparison:detail": (A, Cap.TRY, None),
    "comparison:replay_conversation": (A, Cap.VIEW_CONVERSATIONS, Cap.TRY),
    "comparison:replay": (A, Cap.VIEW_CONVERSATIONS, None),
    "comparison:replay_try": (A, Cap.TRY, None),
    "comparison:try_replay": (A, Cap.TRY, None),
    "accounts:login": (P, None, None),
    "accounts:logout": (P, None, None),
    "accounts:oidc_login": (P, None, None),
    "accounts:oidc_callback": (P, None, None),
    "accounts:password_change": (AU, None, None),
    "accounts:password_change_done": (AU, None, None),
    "accounts:tokens": (AU, None, None),
    "accounts:token_revoke": (AU, None, None),
    "accounts:user_list": (G, Cap.MANAGE_USERS, None),
    "accounts:user_create": (G, Cap.MANAGE_USERS, None),
    "accounts:user_edit": (G, Cap.MANAGE_USERS, None),
    "accounts:lockouts": (G, Cap.MANAGE_USERS, None),
    "realm:openid_configuration": (P, None, None),
    "realm:token": (P, None, None),
    "realm:certs": (P, None, None),
    "projects:welcome": (AU, None, None),
    "projects:create": (G, Cap.CREATE_ASSISTANT, None),
    "projects:open": (A, Cap.VIEW_ASSISTANT, None),
    "projects:overview": (A, Cap.VIEW_ASSISTANT, None),
    "projects:settings": (A, Cap.MANAGE_SETTINGS, None),
    "projects:delete": (A, Cap.MANAGE_SETTINGS, None),
    "projects:import": (A, Cap.MANAGE_SETTINGS, None),
    "projects:secrets": (A, Cap.MANAGE_SETTINGS, None),
    "projects:delete_secret": (A, Cap.MANAGE_SETTINGS, None),
    "projects:import_job": (A, Cap.MANAGE_SETTINGS, None),
    "projects:export": (A, Cap.EXPORT, None),
    "projects:members": (A, Cap.MANAGE_USERS, None),
    "projects:knowledge": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "projects:stories": (A, Cap.VIEW_FLOWS, None),
    "projects:revoke_member": (A, Cap.MANAGE_USERS, None),
    "api:conversations": (A, Cap.VIEW_CONVERSATIONS, None),
    "api:conversation": (A, Cap.VIEW_CONVERSATIONS, Cap.DELETE_CONVERSATIONS),
    "api:sender_conversations": (A, Cap.DELETE_CONVERSATIONS, None),
    "ingestion:list": (A, Cap.VIEW_CONVERSATIONS, None),
    "ingestion:detail": (A, Cap.VIEW_CONVERSATIONS, None),
    "ingestion:review": (A, Cap.TAG_CONVERSATIONS, None),
    "ingestion:delete": (A, Cap.DELETE_CONVERSATIONS, None),
    "ingestion:tags": (A, Cap.VIEW_CONVERSATIONS, Cap.TAG_CONVERSATIONS),
    "ingestion:tag_edit": (A, Cap.TAG_CONVERSATIONS, None),
    "ingestion:add_example": (A, Cap.VIEW_CONVERSATIONS, Cap.ANNOTATE),
    "ingestion:status": (G, Cap.MANAGE_USERS, None),
    "ingestion:unrouted": (G, Cap.MANAGE_USERS, None),
    "analytics:dashboard": (A, Cap.VIEW_ANALYTICS, None),
    "analytics:export": (A, Cap.VIEW_ANALYTICS, None),
    "analytics:success": (A, Cap.VIEW_ANALYTICS, Cap.DEFINE_SUCCESS),
    "annotation:dashboard": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:inbox": (A, Cap.ANNOTATE, None),
    "annotation:inbox_item": (A, Cap.ANNOTATE, None),
    "annotation:inbox_entity": (A, Cap.ANNOTATE, None),
    "annotation:inbox_unentity": (A, Cap.ANNOTATE, None),
    "annotation:review_list": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:review_batch": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:review_item": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:review_entity": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:review_unentity": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:history": (A, Cap.REVIEW_ANNOTATIONS, None),
    "annotation:history_export": (A, Cap.EXPORT_ANNOTATIONS, None),
    "flows:list": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:create": (A, Cap.EDIT_FLOWS, None),
    "flows:detail": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:start": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:step_add": (A, Cap.EDIT_FLOWS, None),
    "flows:step_edit": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:step_delete": (A, Cap.EDIT_FLOWS, None),
    "flows:duplicate": (A, Cap.EDIT_FLOWS, None),
    "flows:rename": (A, Cap.EDIT_FLOWS, None),
    "flows:delete": (A, Cap.EDIT_FLOWS, None),
    "flows:history": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:restore": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:undo": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:redo": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:responses": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:response_create": (A, Cap.EDIT_FLOWS, None),
    "flows:response_edit": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:response_delete": (A, Cap.EDIT_FLOWS, None),
    "flows:slots": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:slot_create": (A, Cap.EDIT_FLOWS, None),
    "flows:slot_edit": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:slot_delete": (A, Cap.EDIT_FLOWS, None),
    "flows:actions": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:action_create": (A, Cap.EDIT_FLOWS, None),
    "flows:action_edit": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:action_delete": (A, Cap.EDIT_FLOWS, None),
    # Issue 17: flow status and the Patterns tab.
    "flows:flow_status": (A, Cap.EDIT_FLOWS, None),
    "flows:patterns": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:pattern": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:pattern_customise": (A, Cap.EDIT_FLOWS, None),
    "flows:pattern_reset": (A, Cap.EDIT_FLOWS, None),
    "flows:inline_intent": (A, Cap.EDIT_FLOWS, None),
    # Issue 19: stable versions of a flow.
    "flows:save_stable": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "flows:revert_stable": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "projects:files": (A, Cap.MANAGE_SETTINGS, None),
    "flows:languages": (A, Cap.MANAGE_SETTINGS, None),
    "flows:translations": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "nlu:intents": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:intent": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:intent_delete": (A, Cap.EDIT_NLU, None),
    "nlu:examples_move": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:example_annotate": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:example_unannotate": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:example_delete": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:entities": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:synonyms": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:regexes": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    "nlu:lookups": (A, Cap.VIEW_NLU, Cap.EDIT_NLU),
    # Issue 19: test cases and test runs (apps/testing).
    "testing:tests": (A, Cap.VIEW_FLOWS, None),
    "testing:edit": (A, Cap.VIEW_FLOWS, Cap.EDIT_FLOWS),
    "testing:delete": (A, Cap.EDIT_FLOWS, None),
    "testing:from_try": (A, Cap.TRY, None),
    "testing:try_download": (A, Cap.TRY, None),
    "testing:from_conversation": (A, Cap.VIEW_CONVERSATIONS, None),
    "testing:start_run": (A, Cap.VIEW_FLOWS, Cap.TRAIN),
    "testing:run": (A, Cap.VIEW_FLOWS, None),
    "testing:cancel_run": (A, Cap.VIEW_FLOWS, Cap.TRAIN),
    "api:test_runs": (A, Cap.VIEW_FLOWS, Cap.TRAIN),
    "api:test_run": (A, Cap.VIEW_FLOWS, None),
}


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_every_url_declares_the_access_the_specification_lists(route):
    access = declared_access(route.callback)
    assert access is not None, f"{route.name} declares no access"
    assert route.name in EXPECTED_ACCESS, f"{route.name} is new: add it to EXPECTED_ACCESS"
    scope, read, write = EXPECTED_ACCESS[route.name]
    assert (access.scope, access.capability, access.write_capability) == (scope, read, write)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_it_answers_every_person_as_the_role_map_says(route, world, pytestconfig):
    # CI's second pass (--database-tests-only, on SQLite) makes only the requests that must be
    # answered, whose views run their queries on the other database; a refusal is decided by
    # the access helpers before the view runs, by the same queries on either database, and the
    # first pass (PostgreSQL) and `make test` (SQLite) make every request.
    refusals_too = not pytestconfig.getoption("database_tests_only", False)
    problems = check_route(route, world, refusals_too=refusals_too)
    assert not problems, "\n".join(problems)


def test_it_covers_the_pages_that_exist():
    names = {r.name for r in ROUTES}
    assert {"projects:welcome", "projects:settings", "accounts:user_list", "api:assistant"} <= names


def test_every_role_has_its_capabilities_listed():
    assert set(ROLE_CAPS) == set(Role)
