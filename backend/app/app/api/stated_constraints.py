"""Rules the API enforces on requests that the models' JSON Schemas leave out, stated in
the OpenAPI document so that clients, generated SDKs and fuzzers know them:

- text holds no NUL character (app.api.body_limits refuses it anywhere in a body or a
  query), in values and in the keys of free-form objects;
- a tool's inputs refuse unknown keys at any depth (app.tools.inputs), unless the tool's
  inputs model sets `extra` itself;
- `tool` names a registered tool, and `inputs` follow that tool's inputs model: one
  `oneOf` branch per tool in every body that names a tool.
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI

from app.api.routing import tool_submit_operation_id
from app.tools.base import AnyTool

NUL_FREE = r"^[^\x00]*$"
# Any JSON value whose text holds no NUL: what a free-form object may contain.
NUL_FREE_JSON = {
    "anyOf": [
        {"type": "string", "pattern": NUL_FREE},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NUL_FREE},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
    ]
}
# The request bodies that name a tool and carry its inputs.
BODIES_NAMING_A_TOOL = ("JobCreate", "JobBatchItem", "ScheduleCreate")

Schema = dict[str, Any]


def state_enforced_constraints(app: FastAPI, tools: Callable[[], dict[str, AnyTool]]) -> None:
    build = app.openapi

    def openapi() -> Schema:
        document = build()
        schemas = document["components"]["schemas"]
        schemas["JsonValue"] = NUL_FREE_JSON
        tool_inputs = _tool_inputs(document, tools())
        for body in BODIES_NAMING_A_TOOL:
            _one_branch_per_tool(schemas[body], tool_inputs)
        for name in _request_components(document):
            _nul_free(schemas[name])
        for operation in _operations(document):
            for parameter in operation.get("parameters", []):
                _nul_free(parameter["schema"])
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(document: Schema) -> Iterator[Schema]:
    for item in document["paths"].values():
        yield from item.values()


def _tool_inputs(document: Schema, tools: dict[str, AnyTool]) -> dict[str, Schema]:
    """Each tool's inputs schema as the body of its own submit route refers to it, with
    unknown keys refused where the tool refuses them."""
    schemas = document["components"]["schemas"]
    submits = {operation["operationId"]: operation for operation in _operations(document)}
    found = {}
    for name, tool in tools.items():
        operation = submits.get(tool_submit_operation_id(name))
        if operation is None:
            continue  # a tool that failed its checks has no route
        body = _resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
        inputs = body["properties"]["inputs"]
        if "extra" not in tool.inputs_model.model_config:
            for component in _referenced(document, inputs):
                _forbid_unknown_keys(schemas[component])
        found[name] = inputs
    return found


def _one_branch_per_tool(body: Schema, tool_inputs: dict[str, Schema]) -> None:
    body["properties"]["tool"]["enum"] = sorted(tool_inputs)
    body["oneOf"] = [
        {
            "properties": {"tool": {"const": name}, "inputs": inputs},
            "required": ["tool", "inputs"] if _requires_something(inputs) else ["tool"],
        }
        for name, inputs in sorted(tool_inputs.items())
    ]


def _requires_something(inputs: Schema) -> bool:
    return bool(inputs.get("required"))


def _forbid_unknown_keys(schema: Any) -> None:
    if isinstance(schema, dict):
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _forbid_unknown_keys(value)
    elif isinstance(schema, list):
        for value in schema:
            _forbid_unknown_keys(value)


def _nul_free(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"format", "enum", "const"} & set(schema):
            if "pattern" not in schema:
                schema["pattern"] = NUL_FREE
            elif schema["pattern"] != NUL_FREE and {"pattern": NUL_FREE} not in schema.get(
                "allOf", []
            ):
                schema.setdefault("allOf", []).append({"pattern": NUL_FREE})
        if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
            schema.setdefault("propertyNames", {}).setdefault("pattern", NUL_FREE)
            if schema.get("additionalProperties", True) is True:
                schema["additionalProperties"] = {"$ref": "#/components/schemas/JsonValue"}
        for value in schema.values():
            _nul_free(value)
    elif isinstance(schema, list):
        for value in schema:
            _nul_free(value)


def _request_components(document: Schema) -> set[str]:
    """The components that request bodies use, directly or through others."""
    found: set[str] = set()
    for operation in _operations(document):
        for content in operation.get("requestBody", {}).get("content", {}).values():
            found |= _referenced(document, content.get("schema", {}))
    return found


def _referenced(document: Schema, schema: Any, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
            name = reference.removeprefix("#/components/schemas/")
            if name not in seen:
                seen.add(name)
                _referenced(document, document["components"]["schemas"][name], seen)
        for value in schema.values():
            _referenced(document, value, seen)
    elif isinstance(schema, list):
        for value in schema:
            _referenced(document, value, seen)
    return seen


def _resolve(document: Schema, schema: Schema) -> Schema:
    reference = schema.get("$ref")
    if reference is None:
        return schema
    resolved: Schema = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    return resolved
