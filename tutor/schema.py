"""OpenAPI post-processing: the document says exactly what the API accepts and answers.

What serializers alone cannot tell drf-spectacular is added here: the error answers every
operation can give, the pair rule, each exercise type's content, text that must hold a visible
character, the one-or-many body of error events, and links from each created resource to its own
operations (for clients and for stateful testing).
"""

from tutor.exercise_content import CONTENT_FIELDS, content_schema
from tutor.serializers import MAX_EVENTS_PER_REQUEST
from tutor.taxonomy import PAIR_FIELDS, pair_schema
from tutor.text import NO_NUL, VISIBLE_TEXT

ERROR_BODY = {"type": "object", "additionalProperties": True, "description": "What went wrong, by field."}
COMMON = {
    "401": "No valid credentials (send `Authorization: Token <key>`).",
    "403": "The client may not do this (staff only).",
    "429": "Too many requests; retry after the Retry-After header's seconds.",
    "503": "A dependency is down; retry later.",
}
WRITES = ("post", "put", "patch", "delete")


def add_error_responses(result, generator, request, public):
    """Add the 400/401/403/404/409/415/429/503 answers to each /api/ operation that lacks them."""
    for path, operations in _api_paths(result):
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = dict(COMMON)
            if operation.get("parameters") or operation.get("requestBody"):
                codes["400"] = "The input is invalid; the answer names each bad field."
            if operation.get("requestBody"):
                codes["415"] = "The body is not in a supported media type (send application/json)."
            if method in WRITES:
                codes["409"] = "The request conflicts with stored data that changed meanwhile (e.g. a deleted learner)."
            if "{" in path or path == "/api/generate-exercise":
                codes["404"] = "Not found."
            for code, description in codes.items():
                responses.setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}},
                )
    return result


def add_rules(result, generator, request, public):
    """Write the pair rule, the content rule, the text rule and the error events' one-or-many body into the schemas."""
    for component in result.get("components", {}).get("schemas", {}).values():
        properties = component.get("properties", {})
        rules = [
            _together(component, fields, branches)
            for fields, branches in ((PAIR_FIELDS, pair_schema()), (CONTENT_FIELDS, content_schema()))
            # Codes and content, where they are sent or stored: not the labels of a recommendation.
            if all(name in properties and properties[name].get("type") != "string" for name in fields)
        ]
        if rules:
            component["allOf"] = rules
        for field in properties.values():
            if field.get("type") == "string" and not ({"format", "enum", "pattern"} & set(field)):
                field["pattern"] = VISIBLE_TEXT if field.get("minLength", 0) >= 1 else NO_NUL
    # An attempt is scored by the client or graded from its answers, never both (answers null say none).
    result["components"]["schemas"]["ExerciseAttemptRequest"]["not"] = {
        "required": ["answers", "score"],
        "properties": {"answers": {"type": "object"}},
    }
    events = result["paths"]["/api/error-events"]["post"]["requestBody"]["content"]["application/json"]
    one = events["schema"]["items"]
    events["schema"] = {
        "oneOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_EVENTS_PER_REQUEST}]
    }
    return result


def _together(component: dict, fields: tuple[str, str], branches: list[dict]) -> dict:
    """One of `branches` when both fields are sent; in a partial update, both or neither."""
    if all(name in component.get("required", []) for name in fields):
        return {"oneOf": branches}
    return {
        "anyOf": [
            {"required": list(fields), "oneOf": branches},
            {"not": {"anyOf": [{"required": [name]} for name in fields]}},
        ]
    }


def add_links(result, generator, request, public):
    """Link each created resource (its 201) to the operations on its own path."""
    paths = result.get("paths", {})
    for path, operations in _api_paths(result):
        created = operations.get("post", {}).get("responses", {}).get("201")
        own = paths.get(f"{path}/{{id}}", {})
        if created is None or not own:
            continue
        created["links"] = {
            operation["operationId"]: {
                "operationId": operation["operationId"],
                "parameters": {"id": "$response.body#/id"},
            }
            for operation in own.values()
        }
    return result


def _api_paths(result):
    return [(path, ops) for path, ops in result.get("paths", {}).items() if not path.startswith("/api/schema")]
