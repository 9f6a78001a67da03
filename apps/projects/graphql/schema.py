"""The one GraphQL schema: each app's Query (and Mutation) types, merged."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.tools import merge_types

from apps.ingestion import graphql as ingestion_graphql
from apps.projects.graphql import cli
from apps.projects.graphql.context import Problem
from apps.training import graphql as training_graphql

log = logging.getLogger(__name__)

QUERIES: tuple[type, ...] = (cli.Query, ingestion_graphql.Query, training_graphql.Query)
MUTATIONS: tuple[type, ...] = tuple(
    module.Mutation for module in (cli, ingestion_graphql) if hasattr(module, "Mutation")
)


def _masked(error: GraphQLError) -> bool:
    """Whether an error's message is hidden: yes for anything but a Problem or GraphQL's own
    errors (a malformed query, an unknown field, a wrong variable type)."""
    original = error.original_error
    if original is None or isinstance(original, Problem | GraphQLError):
        return False
    log.error("GraphQL resolver failed", exc_info=original)
    return True


class StudioSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Problems are answers, not failures: only the rest is logged (by `_masked`)."""


schema = StudioSchema(
    query=merge_types("Query", QUERIES),
    mutation=merge_types("Mutation", MUTATIONS) if MUTATIONS else None,
    extensions=[lambda: MaskErrors(should_mask_error=_masked)],
)
