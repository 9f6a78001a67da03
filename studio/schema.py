"""Additions to the generated OpenAPI schema: the error answers every endpoint can give."""

ERROR_BODY = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
COMMON_ERRORS = {
    "401": "No valid token (`Authorization: Bearer stu_...`) or session.",
    "403": "Your role does not allow this.",
    "404": "No such object, or an assistant you have no role on.",
}


def add_error_responses(result, generator, request, public):
    """Document 401, 403 and 404 on every operation that does not say otherwise."""
    for path, operations in result.get("paths", {}).items():
        if path.endswith("/schema"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in COMMON_ERRORS.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_BODY}},
                    },
                )
    return result
