from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool


class RequestBody(BaseModel):
    """What a client sends: a key the model does not know is refused (422 naming it), not
    dropped, so that a misspelt option fails instead of silently taking its default; the
    OpenAPI document says so (`additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")


def _json_integer(value: object) -> object:
    """A JSON integer as JSON Schema reads one: a number without a fraction, `6.0` too;
    not `true` nor "6", which pydantic's lax mode would also take."""
    if isinstance(value, bool | str):
        raise ValueError("not an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Request bodies take what their JSON Schema says, no more: an integer is
# `Annotated[int, Field(...), JSON_INTEGER]` (after its bounds, which stay in the schema
# as minimum and maximum), a truth value a JsonBool.
JSON_INTEGER = BeforeValidator(_json_integer)
JsonBool = StrictBool
