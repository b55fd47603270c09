"""A tool's inputs from what a client sent. Unknown keys are refused at any depth, so a
misspelled input is a clear error instead of a default silently used; a tool whose
inputs model sets `extra` itself (`model_config = ConfigDict(extra="allow")`) decides
for itself and every model inside it."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator


def validate_inputs(model: type[BaseModel], raw: object) -> BaseModel:
    """The inputs, validated; raises pydantic's ValidationError naming each bad field."""
    if "extra" in model.model_config:
        return model.model_validate(raw)
    return model.model_validate(raw, extra="forbid")


def strict_inputs_type(model: type[BaseModel]) -> Any:
    """The model as the type of a request body's field, refusing unknown keys like
    `validate_inputs` (its JSON Schema stays the model's)."""

    def validate(raw: object) -> object:
        return raw if isinstance(raw, model) else validate_inputs(model, raw)

    return Annotated[model, BeforeValidator(validate)]
