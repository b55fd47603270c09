"""A tool's inputs from what a client sent. Unknown keys are refused at any depth, so a
misspelled input is a clear error instead of a default silently used; a tool whose
inputs model sets `extra` itself (`model_config = ConfigDict(extra="allow")`) decides
for itself and every model inside it."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator
from pydantic.config import ExtraValues
from pydantic_core import to_json


def validate_inputs(model: type[BaseModel], raw: object) -> BaseModel:
    """The inputs, validated as the JSON they are sent as and strictly, as their JSON
    Schema says: `false` is not the number 0, nor "5" the number 5 (pydantic's lax
    reading). Raises pydantic's ValidationError naming each bad field. An instance of
    the model is valid already (a typed route's body): it is not validated again."""
    if isinstance(raw, model):
        return raw
    extra: ExtraValues | None = None if "extra" in model.model_config else "forbid"
    return model.model_validate_json(to_json(_whole_numbers(raw)), strict=True, extra=extra)


def _whole_numbers(value: object) -> object:
    """`6.0` as 6: one number in JSON, and an integer to JSON Schema; strict validation
    takes only the second spelling for an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def strict_inputs_type(model: type[BaseModel]) -> Any:
    """The model as the type of a request body's field, refusing unknown keys like
    `validate_inputs` (its JSON Schema stays the model's)."""

    return Annotated[model, BeforeValidator(lambda raw: validate_inputs(model, raw))]
