"""The roles of Rasa Studio and what each may do.

This is the one place that maps roles to capabilities. Views never check roles; they name the
capability they need and the access helpers in `apps.projects.access` decide.

A role can be held globally (membership of the Django group of the same label, as Rasa Studio's
Keycloak groups apply to every assistant) or on one assistant only (`AssistantRole`).
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    SUPERUSER = "superuser"
    DEVELOPER = "developer"
    FLOW_BUILDER = "flow_builder"
    NLU_EDITOR = "nlu_editor"
    BUSINESS_USER = "business_user"
    LEAD_ANNOTATOR = "lead_annotator"
    ANNOTATOR = "annotator"
    CONVERSATION_ANALYST = "conversation_analyst"
    CONVERSATION_VIEWER = "conversation_viewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> Role | None:
        for role, role_label in ROLE_LABELS.items():
            if role_label == label:
                return role
        return None


# The group names, as Rasa Studio's Keycloak groups are named.
ROLE_LABELS: dict[Role, str] = {
    Role.SUPERUSER: "SuperUser",
    Role.DEVELOPER: "Developer",
    Role.FLOW_BUILDER: "Flow Builder",
    Role.NLU_EDITOR: "NLU Editor",
    Role.BUSINESS_USER: "Business User",
    Role.LEAD_ANNOTATOR: "Lead Annotator",
    Role.ANNOTATOR: "Annotator",
    Role.CONVERSATION_ANALYST: "Conversation Analyst",
    Role.CONVERSATION_VIEWER: "Conversation Viewer",
}

ROLE_CHOICES = [(role.value, role.label) for role in Role]


class Cap(enum.StrEnum):
    """Capabilities. Assistant capabilities apply to one assistant; global ones to Studio."""

    # Assistant-scoped
    VIEW_ASSISTANT = "view_assistant"  # see that the assistant exists, open its overview
    VIEW_FLOWS = "view_flows"  # flows, responses, slots, actions (the CMS), read-only
    EDIT_FLOWS = "edit_flows"
    VIEW_NLU = "view_nlu"
    EDIT_NLU = "edit_nlu"
    TRAIN = "train"
    TRY = "try"
    MANAGE_SETTINGS = "manage_settings"  # config.yml, endpoints.yml, import, delete
    EXPORT = "export"  # download the assistant's files, CLI sync
    VIEW_CONVERSATIONS = "view_conversations"
    TAG_CONVERSATIONS = "tag_conversations"  # tag, mark reviewed, manage the tag list
    DELETE_CONVERSATIONS = "delete_conversations"
    ANNOTATE = "annotate"  # turn user messages into NLU examples
    REVIEW_ANNOTATIONS = "review_annotations"
    EXPORT_ANNOTATIONS = "export_annotations"
    VIEW_ANALYTICS = "view_analytics"  # the analytics dashboard and its CSV downloads
    DEFINE_SUCCESS = "define_success"  # save the analytics success criterion
    # Global
    CREATE_ASSISTANT = "create_assistant"
    MANAGE_USERS = "manage_users"


GLOBAL_CAPS = frozenset({Cap.CREATE_ASSISTANT, Cap.MANAGE_USERS})
ASSISTANT_CAPS = frozenset(Cap) - GLOBAL_CAPS

_VIEW = {Cap.VIEW_ASSISTANT}

ROLE_CAPS: dict[Role, frozenset[Cap]] = {
    Role.SUPERUSER: frozenset(Cap),
    Role.DEVELOPER: frozenset(
        _VIEW
        | {
            Cap.VIEW_FLOWS,
            Cap.EDIT_FLOWS,
            Cap.VIEW_NLU,
            Cap.EDIT_NLU,
            Cap.TRAIN,
            Cap.TRY,
            Cap.MANAGE_SETTINGS,
            Cap.EXPORT,
            Cap.REVIEW_ANNOTATIONS,
            Cap.EXPORT_ANNOTATIONS,
            Cap.CREATE_ASSISTANT,
            Cap.VIEW_ANALYTICS,
            Cap.DEFINE_SUCCESS,
        }
    ),
    Role.FLOW_BUILDER: frozenset(
        _VIEW | {Cap.VIEW_FLOWS, Cap.EDIT_FLOWS, Cap.VIEW_NLU, Cap.EDIT_NLU, Cap.TRAIN, Cap.TRY}
    ),
    Role.NLU_EDITOR: frozenset(
        _VIEW | {Cap.VIEW_FLOWS, Cap.VIEW_NLU, Cap.EDIT_NLU, Cap.TRAIN, Cap.ANNOTATE}
    ),
    Role.BUSINESS_USER: frozenset(_VIEW | {Cap.VIEW_FLOWS, Cap.VIEW_NLU, Cap.TRY}),
    Role.LEAD_ANNOTATOR: frozenset(
        _VIEW
        | {
            Cap.VIEW_NLU,
            Cap.EDIT_NLU,
            Cap.ANNOTATE,
            Cap.REVIEW_ANNOTATIONS,
            Cap.EXPORT_ANNOTATIONS,
        }
    ),
    Role.ANNOTATOR: frozenset(_VIEW | {Cap.VIEW_NLU, Cap.ANNOTATE}),
    Role.CONVERSATION_ANALYST: frozenset(
        _VIEW
        | {
            Cap.VIEW_CONVERSATIONS,
            Cap.TAG_CONVERSATIONS,
            Cap.DELETE_CONVERSATIONS,
            Cap.VIEW_ANALYTICS,
            Cap.DEFINE_SUCCESS,
        }
    ),
    Role.CONVERSATION_VIEWER: frozenset(_VIEW | {Cap.VIEW_CONVERSATIONS}),
}


def caps_of(roles) -> frozenset[Cap]:
    result: set[Cap] = set()
    for role in roles:
        result |= ROLE_CAPS[Role(role)]
    return frozenset(result)


# Where each role lands when it opens an assistant, as in Rasa Studio: the first of these page
# names that exists (see apps.projects.navigation.landing_url); the overview otherwise.
LANDING_PAGES: dict[Role, tuple[str, ...]] = {
    Role.SUPERUSER: ("flows", "nlu"),
    Role.DEVELOPER: ("flows", "nlu"),
    Role.FLOW_BUILDER: ("flows", "nlu"),
    Role.NLU_EDITOR: ("flows", "nlu"),
    Role.BUSINESS_USER: ("flows", "nlu"),
    Role.LEAD_ANNOTATOR: ("annotation_dashboard", "annotation_inbox", "nlu"),
    Role.ANNOTATOR: ("annotation_inbox", "nlu"),
    Role.CONVERSATION_ANALYST: ("conversations",),
    Role.CONVERSATION_VIEWER: ("conversations",),
}
