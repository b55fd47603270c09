"""Rules the API enforces on requests that the models' JSON Schemas leave out, stated in
the OpenAPI document so that clients, generated SDKs and fuzzers know them:

- text holds no NUL character (app.api.body_limits refuses it anywhere in a body or a
  query), in values and in the keys of free-form objects;
- a tool's inputs refuse unknown keys at any depth (app.tools.inputs), unless the tool's
  inputs model sets `extra` itself;
- `tool` names a registered tool, and selects the schema of `inputs`: a body that names
  a tool and carries its inputs (`POST /jobs`, `/jobs/batch`, `/schedules`) is one of a
  body per tool (`JobCreate-echo`, ...), told apart by `tool`, each a named component so
  that generated clients give each a class of its own;
- a time zone is one of the IANA zones (a pattern, shared as the `TimeZone` component).
"""

import copy
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, NamedTuple

from fastapi import FastAPI
from pydantic import ValidationError

from app.api.routing import tool_submit_operation_id
from app.schemas.schedule import TIME_ZONE_PATTERN
from app.tools.base import AnyTool

NUL_FREE = r"^[^\x00]*$"
# The request bodies that name a tool and carry its inputs.
BODIES_NAMING_A_TOOL = ("JobCreate", "JobBatchItem", "ScheduleCreate", "ScheduleUpdate")

Schema = dict[str, Any]


def state_enforced_constraints(app: FastAPI, tools: Callable[[], dict[str, AnyTool]]) -> None:
    build = app.openapi

    # Once: the document is built once and kept (FastAPI's app.openapi_schema), and the
    # walks below need not run again for every GET of openapi.json.
    @cache
    def openapi() -> Schema:
        document = build()
        schemas = document["components"]["schemas"]
        inputs_by_tool = _typed_inputs(document, tools())
        for body in BODIES_NAMING_A_TOOL:
            _one_body_per_tool(schemas, body, inputs_by_tool)
        for name in _request_components(document):
            _nul_free(schemas[name])
        for operation in _operations(document):
            for parameter in operation.get("parameters", []):
                _nul_free(parameter["schema"])
        _unique_titles(schemas)
        _time_zones_shared(schemas)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _time_zones_shared(schemas: Schema) -> None:
    """The zones' pattern (9 kB) once, as the `TimeZone` component, not in every body
    that has a `timezone`."""

    for schema in _schemas_in(schemas):
        if schema.get("pattern") == TIME_ZONE_PATTERN:
            del schema["pattern"]
            schema["$ref"] = "#/components/schemas/TimeZone"
    schemas["TimeZone"] = {"title": "TimeZone", "type": "string", "pattern": TIME_ZONE_PATTERN}


def _unique_titles(schemas: Schema) -> None:
    """Two tools' inputs models of one class name (`Inputs`, from two packages) get
    component names that FastAPI made unique, but keep one title, which generated
    clients name their classes after and then drop both: such models are titled by their
    component names."""
    titles = Counter(schema.get("title") for schema in schemas.values())
    for name, schema in schemas.items():
        if titles[schema.get("title")] > 1 and schema.get("title") is not None:
            schema["title"] = name


def _operations(document: Schema) -> Iterator[Schema]:
    for item in document["paths"].values():
        yield from item.values()


class ToolInputs(NamedTuple):
    schema: Schema
    # Whether a body must carry them: no inputs at all is `{}`, which some tools refuse.
    required: bool


def _typed_inputs(document: Schema, tools: dict[str, AnyTool]) -> dict[str, ToolInputs]:
    """The schema of each tool's inputs, as its own submit route types them, refusing
    unknown keys there where the tool refuses them."""
    schemas = document["components"]["schemas"]
    submits = {operation["operationId"]: operation for operation in _operations(document)}
    found = {}
    for name, tool in sorted(tools.items()):
        operation = submits.get(tool_submit_operation_id(name))
        if operation is None:
            continue  # a tool that failed its checks has no route
        body = _resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
        inputs = body["properties"]["inputs"]
        if "extra" not in tool.inputs_model.model_config:
            for component in _referenced(document, inputs):
                _forbid_unknown_keys(schemas[component])
        try:
            tool.inputs_model.model_validate({})
        except ValidationError:
            found[name] = ToolInputs(inputs, required=True)
        else:
            found[name] = ToolInputs(inputs, required=False)
    return found


def _one_body_per_tool(schemas: Schema, body: str, inputs_by_tool: dict[str, ToolInputs]) -> None:
    """`body` becomes one of a copy per tool, whose `tool` is that tool's name and whose
    `inputs` are that tool's; where `tool` may be left out (a change of a schedule), also
    of a copy without either."""
    if not inputs_by_tool:
        return  # no tool: `oneOf` takes at least one schema
    generic = schemas.pop(body)
    generic.pop("dependentRequired", None)
    title = generic["title"]
    # Without a discriminator where a variant has no `tool`: OpenAPI's needs it in each.
    discriminated = "tool" in generic.get("required", [])
    variants = {}
    for tool, inputs in inputs_by_tool.items():
        variant = copy.deepcopy(generic)
        variant["properties"]["tool"] = {"type": "string", "const": tool, "title": "Tool"}
        variant["properties"]["inputs"] = copy.deepcopy(inputs.schema)
        required = ["tool", "inputs"] if inputs.required or not discriminated else ["tool"]
        variant["required"] = list(dict.fromkeys([*variant.get("required", []), *required]))
        variants[tool] = variant
    if not discriminated:
        same_tool = copy.deepcopy(generic)
        del same_tool["properties"]["tool"], same_tool["properties"]["inputs"]
        variants["same-tool"] = same_tool
    references = {}
    for name, variant in variants.items():
        variant["title"] = f"{title}-{name}"
        schemas[variant["title"]] = variant
        references[name] = f"#/components/schemas/{variant['title']}"
    one_of: Schema = {
        "title": title,
        "description": generic.get("description", ""),
        "oneOf": [{"$ref": reference} for reference in references.values()],
    }
    if discriminated:
        one_of["discriminator"] = {"propertyName": "tool", "mapping": references}
    schemas[body] = one_of


def _schemas_in(value: Any, *, leaving_out: str | None = None) -> Iterator[Schema]:
    """Every object in a schema, outer ones first, each before what is inside it, so that
    what the caller adds to one is walked too; the values under the key `leaving_out`
    are not."""
    if isinstance(value, dict):
        yield value
        for key, item in list(value.items()):
            if key != leaving_out:
                yield from _schemas_in(item, leaving_out=leaving_out)
    elif isinstance(value, list):
        for item in value:
            yield from _schemas_in(item, leaving_out=leaving_out)


def _forbid_unknown_keys(schema: Any) -> None:
    for inner in _schemas_in(schema):
        # Models only: a `oneOf` branch that names a field or two must not forbid the others.
        if inner.get("type") == "object" and "properties" in inner:
            inner.setdefault("additionalProperties", False)


def _nul_free(schema: Any) -> None:
    # What must `not` match is not text a client sends.
    for inner in _schemas_in(schema, leaving_out="not"):
        if inner.get("type") == "string" and not {"format", "enum", "const"} & set(inner):
            if "pattern" not in inner:
                inner["pattern"] = NUL_FREE
            elif inner["pattern"] != NUL_FREE and {"pattern": NUL_FREE} not in inner.get(
                "allOf", []
            ):
                inner.setdefault("allOf", []).append({"pattern": NUL_FREE})
        # A map's keys are text too. (Free-form JSON values, such as an echo's `payload`,
        # are left as any JSON: a schema that refers to itself inside a union, which
        # stating NUL-free text at every depth takes, breaks generated clients.)
        if inner.get("type") == "object" and "properties" not in inner:
            inner.setdefault("propertyNames", {}).setdefault("pattern", NUL_FREE)


def _request_components(document: Schema) -> set[str]:
    """The components that request bodies use, directly or through others."""
    found: set[str] = set()
    for operation in _operations(document):
        for content in operation.get("requestBody", {}).get("content", {}).values():
            found |= _referenced(document, content.get("schema", {}))
    return found


def _referenced(document: Schema, schema: Any, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    for inner in _schemas_in(schema):
        reference = inner.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
            name = reference.removeprefix("#/components/schemas/")
            if name not in seen:
                seen.add(name)
                _referenced(document, document["components"]["schemas"][name], seen)
    return seen


def _resolve(document: Schema, schema: Schema) -> Schema:
    reference = schema.get("$ref")
    if reference is None:
        return schema
    resolved: Schema = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    return resolved
