"""OpenAPI post-processing: document the error answers every API operation can give."""

ERROR_BODY = {"type": "object", "additionalProperties": True, "description": "What went wrong, by field."}
COMMON = {
    "401": "No valid credentials (send `Authorization: Token <key>`).",
    "403": "The client may not do this (staff only).",
    "429": "Too many requests; retry after the Retry-After header's seconds.",
    "503": "A dependency is down; retry later.",
}


def add_error_responses(result, generator, request, public):
    """Add the 400/401/403/404/429/503 answers to each /api/ operation that lacks them."""
    for path, operations in result.get("paths", {}).items():
        if path.startswith("/api/schema"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            codes = dict(COMMON)
            if operation.get("parameters") or operation.get("requestBody"):
                codes["400"] = "The input is invalid; the answer names each bad field."
            if operation.get("requestBody"):
                codes["415"] = "The body is not in a supported media type (send application/json)."
            if "{" in path or path == "/api/generate-exercise":
                codes["404"] = "Not found."
            for code, description in codes.items():
                responses.setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}},
                )
    return result
