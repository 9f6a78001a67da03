"""Rasa Studio's CI API (the model download API) and the versions list, in GraphQL.

    type Query {
      modelDownloadUrls(input: ModelDownloadUrlsInput!): ModelDownloadUrlsOutput!
      modelVersions(input: ModelVersionsInput!): [ModelVersion!]!
    }
    input ModelDownloadUrlsInput { assistantId: ID, assistantName: String,
                                   assistantVersionName: ID }
    type ModelDownloadUrlsOutput { modelFileUrl: String! modelInputUrl: String! }
    input ModelVersionsInput { assistantId: ID, assistantName: String }
    type ModelVersion { name: String! number: Int! label: String! createdAt: String!
                        trainedAt: String status: String! live: Boolean! }

`assistantId` is what `assistantByName` answers as the id: the assistant's name
(`assistantName` is accepted as well, as Rasa Studio's newer documents spell it).
`assistantVersionName` is a version's name or number; left out, the newest trained version. The
URLs are Studio's `/api/v1/download/model-file/<version>` and `.../model-input/<version>`
(with `?assistant=<name>`), which answer to a bearer credential with EXPORT on the assistant:
the model archive, and the files the version was trained from (a zip).
"""

from __future__ import annotations

from urllib.parse import urlencode

import strawberry
from django.urls import reverse
from strawberry.types import Info

from apps.accounts.roles import Cap
from apps.projects.graphql.context import Problem, assistant_for, assistant_name_of
from apps.training import selectors, services
from apps.training.models import ModelVersion


@strawberry.input
class ModelDownloadUrlsInput:
    assistant_id: strawberry.ID | None = None
    assistant_name: str | None = None
    assistant_version_name: strawberry.ID | None = None


@strawberry.type
class ModelDownloadUrlsOutput:
    model_file_url: str
    model_input_url: str


@strawberry.input
class ModelVersionsInput:
    assistant_id: strawberry.ID | None = None
    assistant_name: str | None = None


@strawberry.type(name="ModelVersion")
class ModelVersionOutput:
    name: str
    number: int
    label: str
    created_at: str
    trained_at: str | None
    status: str
    live: bool


def _version(assistant, given: str | None) -> ModelVersion:
    found = selectors.find_version(assistant, given)
    if found is not None:
        return found
    if given in (None, "", "latest"):
        raise Problem(f"{assistant.name} has no trained version yet.", code="NOT_FOUND")
    raise Problem(
        f"{assistant.name} has no version named {given!r} (give a version's name or number).",
        code="NOT_FOUND",
    )


def _status(version: ModelVersion) -> str:
    if version.is_trained:
        return "trained"
    return selectors.job_status(version) or "not trained"


@strawberry.type
class Query:
    @strawberry.field(name="modelDownloadUrls")
    def model_download_urls(
        self, info: Info, input: ModelDownloadUrlsInput
    ) -> ModelDownloadUrlsOutput:
        name = assistant_name_of(input.assistant_id, input.assistant_name)
        assistant = assistant_for(info, name, Cap.EXPORT)
        version = _version(assistant, input.assistant_version_name)
        if not version.is_trained:
            raise Problem(f"{version.label} of {assistant.name} has no model yet.", "NOT_FOUND")
        request = info.context.request
        query = "?" + urlencode({"assistant": assistant.name})

        def url(route: str) -> str:
            return request.build_absolute_uri(reverse(route, args=[str(version.number)]) + query)

        return ModelDownloadUrlsOutput(
            model_file_url=url("api:download_model_file"),
            model_input_url=url("api:download_model_input"),
        )

    @strawberry.field(name="modelVersions")
    def model_versions(self, info: Info, input: ModelVersionsInput) -> list[ModelVersionOutput]:
        """The assistant's versions, newest first (the Try page's list, for the command line)."""
        name = assistant_name_of(input.assistant_id, input.assistant_name)
        assistant = assistant_for(info, name, Cap.TRY)
        live = services.live_deployment(assistant)
        return [
            ModelVersionOutput(
                name=version.name or str(version.number),
                number=version.number,
                label=version.label,
                created_at=version.created_at.isoformat(),
                trained_at=version.trained_at.isoformat() if version.trained_at else None,
                status=_status(version),
                live=live is not None and live.version_id == version.pk,
            )
            for version in selectors.versions_newest_first(assistant).filter(
                pk__in=selectors.versions_tryable_by(assistant, info.context.user).values("pk")
            )
        ]
