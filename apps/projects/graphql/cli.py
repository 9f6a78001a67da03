"""The operations of Rasa Pro's `rasa studio` CLI (reference section 4.5).

An assistant's `id` here is its name, so ids are the same on every install. Uploads go through
the import machinery of `apps.projects.content` (parse, validate as the import page does,
replace the rows in one transaction): a refused upload changes nothing. A part left out of
`uploadModernAssistant` is left unchanged (`push config` sends config.yml alone); a part given
replaces that part whole (flows not in it are removed, as a local deletion pushed).
"""

from __future__ import annotations

import enum
from typing import Annotated

import strawberry
from django.core.exceptions import ValidationError
from django.db import transaction
from strawberry.scalars import JSON
from strawberry.types import Info

from apps.accounts.roles import Cap
from apps.projects import content, services
from apps.projects.graphql import blobs
from apps.projects.graphql.context import (
    Problem,
    assistant_for,
    assistant_or_none,
    require,
    signed_in_user,
)
from apps.projects.models import Assistant
from engine import formats

NO_ENDPOINTS = "# No endpoints.yml in Studio yet: the assistant uses none.\n"


@strawberry.type
class LicenseDetails:
    valid: bool
    scopes: list[str]


@strawberry.type(name="Assistant")
class AssistantType:
    id: strawberry.ID
    name: str
    mode: str


def _assistant(assistant: Assistant) -> AssistantType:
    return AssistantType(id=strawberry.ID(assistant.name), name=assistant.name, mode=assistant.mode)


@strawberry.type(name="AssistantByName_AssistantNotFound")
class AssistantByName_AssistantNotFound:
    _: bool | None = None


@strawberry.type(name="DeleteAssistant_AssistantNotFound")
class DeleteAssistant_AssistantNotFound:
    _: bool | None = None


AssistantByNameResult = Annotated[
    AssistantType | AssistantByName_AssistantNotFound,
    strawberry.union("AssistantByNameResult"),
]
DeleteAssistantResult = Annotated[
    AssistantType | DeleteAssistant_AssistantNotFound,
    strawberry.union("DeleteAssistantResult"),
]


@strawberry.type
class Prompts:
    """The prompt texts, under the client's snake_case names."""

    command_generator: str | None = strawberry.field(name="command_generator", default=None)
    contextual_response_rephraser: str | None = strawberry.field(
        name="contextual_response_rephraser", default=None
    )
    enterprise_search: str | None = strawberry.field(name="enterprise_search", default=None)


@strawberry.type
class ExportModernAsEncodedYamlOutput:
    nlu: str | None
    flows: str | None
    domain: str | None
    endpoints: str | None
    config: str | None
    prompts: Prompts | None


@strawberry.type
class ExportClassicAsEncodedYamlOutput:
    nlu: str | None
    domain: str | None


ExportAsEncodedYamlResult = Annotated[
    ExportModernAsEncodedYamlOutput | ExportClassicAsEncodedYamlOutput,
    strawberry.union("ExportAsEncodedYamlResult"),
]


@strawberry.enum
class ExportObjectType(enum.Enum):
    Intent = "Intent"
    Entity = "Entity"


@strawberry.input
class ExportObject:
    name: list[str]
    type: ExportObjectType


@strawberry.input
class AssistantByNameInput:
    assistantName: str


@strawberry.input
class DeleteAssistantInput:
    assistantId: strawberry.ID


@strawberry.input
class ExportAsEncodedYamlInput:
    assistantName: str
    objects: list[ExportObject] | None = None


@strawberry.input
class UploadModernAssistantInput:
    assistantName: str
    domain: str | None = None
    flows: str | None = None
    config: str | None = None
    endpoints: str | None = None
    nlu: str | None = None
    prompts: JSON | None = None


@strawberry.input
class ImportFromEncodedYamlInput:
    assistantName: str
    domain: str
    nlu: str


@strawberry.type
class Query:
    @strawberry.field(name="licenseDetails")
    def license_details(self, info: Info) -> LicenseDetails:
        """The CLI's sign-in probe: any signed-in user gets an answer (Studio needs no
        licence)."""
        signed_in_user(info)
        return LicenseDetails(valid=True, scopes=[])

    @strawberry.field(name="assistantByName")
    def assistant_by_name(self, info: Info, input: AssistantByNameInput) -> AssistantByNameResult:
        """The CLI asks before it uploads or links; an assistant the user has no role on is
        not found, as everywhere in Studio."""
        assistant = assistant_or_none(info, input.assistantName, Cap.VIEW_ASSISTANT)
        if assistant is None:
            return AssistantByName_AssistantNotFound()
        return _assistant(assistant)

    @strawberry.field(name="exportAsEncodedYaml")
    def export_as_encoded_yaml(
        self, info: Info, input: ExportAsEncodedYamlInput
    ) -> ExportAsEncodedYamlResult:
        assistant = assistant_for(info, input.assistantName, Cap.EXPORT)
        project = content.export_project(assistant)
        if input.objects:
            blobs.filter_objects(
                project, [{"name": o.name, "type": o.type.value} for o in input.objects]
            )
        files = formats.dump_project(project)
        nlu = blobs.encode(files.get(blobs.PART_PATHS["nlu"]))
        domain = blobs.encode(files.get(blobs.PART_PATHS["domain"]))
        if not assistant.is_modern:
            return ExportClassicAsEncodedYamlOutput(nlu=nlu, domain=domain)
        return ExportModernAsEncodedYamlOutput(
            nlu=nlu,
            flows=blobs.encode(files.get(blobs.PART_PATHS["flows"])),
            domain=domain,
            # Rasa's `download` stops at an empty endpoints part: an assistant made in Studio
            # has no endpoints.yml until someone writes one.
            endpoints=blobs.encode(files.get(blobs.PART_PATHS["endpoints"]) or NO_ENDPOINTS),
            config=blobs.encode(files.get(blobs.PART_PATHS["config"])),
            prompts=Prompts(**blobs.export_prompts(project)),
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(name="deleteAssistant")
    def delete_assistant(self, info: Info, input: DeleteAssistantInput) -> DeleteAssistantResult:
        assistant = assistant_or_none(info, str(input.assistantId), Cap.MANAGE_SETTINGS)
        if assistant is None:
            return DeleteAssistant_AssistantNotFound()
        answer = _assistant(assistant)
        services.delete_assistant(assistant)
        return answer

    @strawberry.mutation(name="uploadModernAssistant")
    def upload_modern_assistant(self, info: Info, input: UploadModernAssistantInput) -> bool:
        files = _decoded(
            {
                "domain": input.domain,
                "flows": input.flows,
                "config": input.config,
                "endpoints": input.endpoints,
                "nlu": input.nlu,
            }
        )
        prompts = _prompts(input.prompts)
        with transaction.atomic():
            assistant = _assistant_to_write(info, input.assistantName, Assistant.Mode.MODERN)
            if not assistant.is_modern:
                raise Problem(
                    f"{assistant.name} is a classic assistant: upload its NLU data (rasa studio "
                    "upload without --calm), or create a modern assistant under another name.",
                    code="BAD_REQUEST",
                )
            uploaded = _load(files)
            blobs.drop_flow_defaults(uploaded.flows)
            project = _replace_parts(content.export_project(assistant), uploaded, files)
            _store_prompts(project, prompts)
            _import(assistant, files, project)
        return True

    @strawberry.mutation(name="importFromEncodedYaml")
    def import_from_encoded_yaml(self, info: Info, input: ImportFromEncodedYamlInput) -> bool:
        """Classic assistants (CLIs up to 3.12 without --calm): intents, entities and their
        examples, merged by name into what the assistant holds."""
        files = _decoded({"domain": input.domain, "nlu": input.nlu})
        with transaction.atomic():
            assistant = _assistant_to_write(info, input.assistantName, Assistant.Mode.CLASSIC)
            uploaded = _load(files)
            _import(assistant, files, uploaded, partial=True)
        return True


def _decoded(given: dict[str, str | None]) -> dict[str, str]:
    try:
        return blobs.decode_parts(given)
    except blobs.BlobError as exc:
        raise Problem(str(exc), code="BAD_REQUEST") from None


def _prompts(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Problem("prompts: expected an object of prompt texts", code="BAD_REQUEST")
    out = {}
    for name, text in value.items():
        if name not in blobs.PROMPT_NAMES:
            raise Problem(
                f"prompts.{name}: unknown prompt (known: {', '.join(blobs.PROMPT_NAMES)})",
                code="BAD_REQUEST",
            )
        if text is not None and not isinstance(text, str):
            raise Problem(f"prompts.{name}: expected the prompt's text", code="BAD_REQUEST")
        if text:
            out[name] = text
    return out


def _assistant_to_write(info: Info, name: str, mode: str) -> Assistant:
    """The assistant an upload writes to: the user's, with MANAGE_SETTINGS, or a new one when
    none of that name exists and the user may create assistants."""
    assistant = assistant_or_none(info, name, Cap.MANAGE_SETTINGS)
    if assistant is not None:
        return assistant
    user = require(info, Cap.CREATE_ASSISTANT)
    if Assistant.objects.filter(name__iexact=name).exists():
        raise Problem(f"The name {name!r} is taken by another assistant.", code="CONFLICT")
    try:
        return services.create_assistant(name=name, mode=mode, created_by=user)
    except ValidationError as exc:
        messages = "; ".join(m for ms in exc.message_dict.values() for m in ms)
        raise Problem(f"assistantName: {messages}", code="BAD_REQUEST") from None


def _problems(exc: formats.FormatError) -> Problem:
    """The problems as the import page lists them, each naming the upload field first."""
    fields = {path: field for field, path in blobs.PART_PATHS.items()}
    lines = []
    for problem in exc.problems:
        field = fields.get(problem.file or "")
        if field:
            lines.append(f"{field} ({problem})")
        elif problem.file == content.STORED:
            # A part left out, as stored, that the parts given no longer agree with.
            lines.append(f"the assistant's stored content ({problem})")
        else:
            lines.append(str(problem))
    return Problem("The upload was refused, nothing changed: " + "; ".join(lines), "INVALID")


def _load(files: dict[str, str]) -> formats.Project:
    try:
        return formats.load_project_files(files)
    except formats.FormatError as exc:
        raise _problems(exc) from None


def _replace_parts(
    stored: formats.Project, uploaded: formats.Project, files: dict[str, str]
) -> formats.Project:
    """`stored` with each part the upload gives put in place of the stored part."""
    given = {field for field, path in blobs.PART_PATHS.items() if path in files}
    project = stored
    if "domain" in given:
        project.domain = uploaded.domain
    else:  # responses of retrieval intents come with the NLU data
        project = content.merge_projects(
            project, formats.Project(domain=uploaded.domain, source_lines=uploaded.source_lines)
        )
    if "flows" in given:
        project.flows = uploaded.flows
    if "nlu" in given:
        project.nlu = uploaded.nlu
    if "config" in given:
        project.config = uploaded.config
    if "endpoints" in given:
        project.endpoints = uploaded.endpoints
    project.prompts.update(uploaded.prompts)
    project.source_lines.update(uploaded.source_lines)
    project.rasa_files = list(uploaded.rasa_files) or ["config.yml"]
    return project


def _store_prompts(project: formats.Project, prompts: dict[str, str]) -> None:
    """Prompts are kept as the files config.yml and endpoints.yml name for them."""
    paths = blobs.prompt_paths(project.config, project.endpoints)
    for name, text in prompts.items():
        path = paths.get(name)
        if path is None:
            raise Problem(
                f"prompts.{name}: config.yml and endpoints.yml name no file for this prompt, "
                "so Studio has nowhere to keep it",
                code="BAD_REQUEST",
            )
        project.prompts[path] = text


def _import(
    assistant: Assistant,
    files: dict[str, str],
    project: formats.Project,
    *,
    partial: bool = False,
) -> None:
    try:
        content.import_files(assistant, files, partial=partial, uploaded=project)
    except formats.FormatError as exc:
        raise _problems(exc) from None
