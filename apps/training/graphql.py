"""Rasa Studio's Model Download API for CI on the one GraphQL endpoint: the URLs of a trained
version's model archive and of the files it was trained from. The SDL served:

    input ModelDownloadUrlsInput {
      assistantId: ID!            # the assistant's name (what assistantByName returns as id)
      assistantVersionName: ID    # a version number, a version's name, or latest (default)
    }
    type ModelDownloadUrlsOutput { modelFileUrl: String! modelInputUrl: String! }

    type Query {
      modelDownloadUrls(input: ModelDownloadUrlsInput!): ModelDownloadUrlsOutput!
    }

The URLs are absolute (built from the request) and name the assistant, so they fetch that
version with the same bearer credential (it needs EXPORT on the assistant):
`/api/v1/download/model-file/<number>?assistant=<name>` (the .tar.gz) and
`/api/v1/download/model-input/<number>?assistant=<name>` (a zip of the input files).
"""

from __future__ import annotations

from urllib.parse import urlencode

import strawberry
from django.urls import reverse
from strawberry.types import Info

from apps.accounts.roles import Cap
from apps.projects.graphql.context import Problem, assistant_for
from apps.training.api import version_named


@strawberry.input
class ModelDownloadUrlsInput:
    assistant_id: strawberry.ID
    assistant_version_name: strawberry.ID | None = None


@strawberry.type
class ModelDownloadUrlsOutput:
    model_file_url: str
    model_input_url: str


@strawberry.type
class Query:
    @strawberry.field(name="modelDownloadUrls")
    def model_download_urls(
        self, info: Info, input: ModelDownloadUrlsInput
    ) -> ModelDownloadUrlsOutput:
        assistant = assistant_for(info, str(input.assistant_id), Cap.EXPORT)
        wanted = str(input.assistant_version_name or "latest").strip()
        version = version_named(assistant, wanted)
        if version is None:
            raise Problem(
                f"assistantVersionName: {assistant.name} has no version {wanted!r}"
                + (" trained yet." if wanted == "latest" else "."),
                code="NOT_FOUND",
            )
        if not version.is_trained:
            raise Problem(
                f"assistantVersionName: version {version.number} of {assistant.name} has no "
                "model yet.",
                code="NOT_FOUND",
            )
        request = info.context.request
        query = "?" + urlencode({"assistant": assistant.name})

        def url(name: str) -> str:
            return request.build_absolute_uri(
                reverse(f"api:{name}", kwargs={"version": str(version.number)}) + query
            )

        return ModelDownloadUrlsOutput(
            model_file_url=url("download_model_file"), model_input_url=url("download_model_input")
        )
