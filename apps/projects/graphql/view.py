"""`POST /api/graphql/`: JSON in, JSON out, whatever goes wrong.

Rasa's CLI treats any answer that is not JSON as a crash and reads `errors` to tell success
from failure, so every answer here is a GraphQL response body: a bad credential, a body that
is not JSON and an unknown operation all come back as `{"errors": [{"message": ...}]}`. Only
bearer credentials count (no session cookie, so no cross-site request can use a browser's
login).
"""

from __future__ import annotations

import json

from cross_web import HTTPException
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView

from apps.accounts import bearer
from apps.projects.graphql.context import StudioContext
from apps.projects.graphql.schema import schema


def error_response(message: str, code: str, status: int = 200) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
    )


@method_decorator(csrf_exempt, name="dispatch")
class StudioGraphQLView(GraphQLView[StudioContext, None]):
    graphql_ide = None
    allow_queries_via_get = False

    def dispatch(self, request, *args, **kwargs):
        if request.method != "POST":
            return error_response(
                "Send GraphQL operations as POST with a JSON body.", "METHOD_NOT_ALLOWED", 405
            )
        try:
            request.graphql_user = bearer.user_from_request(request)
        except bearer.BearerError as exc:
            return error_response(exc.message, exc.code.upper())
        try:
            return self.run(request=request)
        except HTTPException as exc:
            return error_response(exc.reason, "BAD_REQUEST", exc.status_code)

    def get_context(self, request, response: HttpResponse) -> StudioContext:
        return StudioContext(request=request, response=response, user=request.graphql_user)

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))


graphql_view = StudioGraphQLView.as_view(schema=schema)
