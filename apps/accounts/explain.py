"""What a role may not do, in words: for read-only pages and the 403 and 404 pages.

Each capability has a phrase; the roles that hold it come from `apps.accounts.roles.ROLE_CAPS`,
so the messages never drift from what `apps.projects.access` enforces.
"""

from __future__ import annotations

from apps.accounts.roles import GLOBAL_CAPS, ROLE_CAPS, Cap, Role

# "Your role ... does not let you <phrase>."
CAPABILITY_WORDS: dict[Cap, str] = {
    Cap.VIEW_ASSISTANT: "open this assistant",
    Cap.VIEW_FLOWS: "view the flows, responses, slots and custom actions",
    Cap.EDIT_FLOWS: "edit the flows, responses, slots and custom actions",
    Cap.VIEW_NLU: "view the NLU data",
    Cap.EDIT_NLU: "edit the NLU data (intents, examples, entities, synonyms, regexes, lookups)",
    Cap.TRAIN: "train the assistant and manage its versions",
    Cap.TRY: "try the assistant",
    Cap.MANAGE_SETTINGS: "change the assistant's settings (config.yml, endpoints.yml, import)",
    Cap.EXPORT: "download the assistant's files",
    Cap.VIEW_CONVERSATIONS: "view conversations",
    Cap.TAG_CONVERSATIONS: "tag conversations and mark them reviewed",
    Cap.DELETE_CONVERSATIONS: "delete conversations",
    Cap.ANNOTATE: "add user messages to the training data",
    Cap.REVIEW_ANNOTATIONS: "review annotations",
    Cap.EXPORT_ANNOTATIONS: "export annotations",
    Cap.VIEW_ANALYTICS: "view the analytics dashboard",
    Cap.DEFINE_SUCCESS: "define the analytics success criterion",
    Cap.CREATE_ASSISTANT: "create assistants",
    Cap.MANAGE_USERS: "manage users and their roles",
}


def _join(words: list[str], last: str) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def role_names(roles) -> str:
    """'Business User', 'Annotator and Business User'."""
    return _join(sorted(Role(r).label for r in roles), "and")


def roles_granting(capability: Cap) -> str:
    """The roles that hold a capability, SuperUser last: 'Developer, Flow Builder or SuperUser'."""
    holders = [r.label for r in Role if r != Role.SUPERUSER and capability in ROLE_CAPS[r]]
    return _join([*holders, Role.SUPERUSER.label], "or")


def _your_roles(roles) -> str:
    return f"Your role{'s' if len(roles) > 1 else ''} {role_names(roles)}"


def who_grants(capability: Cap, assistant_name: str | None) -> str:
    """Who can give someone the capability, and which roles carry it."""
    needs = roles_granting(capability)
    if capability in GLOBAL_CAPS or assistant_name is None:
        return (
            f"This needs the role {needs} held for all of Studio: ask a global SuperUser "
            "to grant it on the Users page."
        )
    return (
        f"This needs the role {needs} on {assistant_name}: ask a SuperUser of {assistant_name} "
        "or a global SuperUser to grant it on the assistant's Members page."
    )


def denial(capability: Cap, roles, assistant_name: str | None = None) -> dict:
    """The 403 page's text: what is missing and who can grant it."""
    words = CAPABILITY_WORDS[capability]
    if assistant_name is None:
        what = f"Your role does not let you {words}."
    else:
        what = f"{_your_roles(roles)} on {assistant_name} does not let you {words}."
    return {"missing": what, "grant": who_grants(capability, assistant_name)}


def read_only_note(capability: Cap, roles, assistant_name: str) -> str:
    """For a page the user may look at but not change."""
    return (
        f"{_your_roles(roles)} on {assistant_name} lets you view this, not change it. "
        f"To {CAPABILITY_WORDS[capability]}, ask a SuperUser of {assistant_name} or a global "
        f"SuperUser for the role {roles_granting(capability)}."
    )
