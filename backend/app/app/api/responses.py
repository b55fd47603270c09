"""OpenAPI descriptions of the error answers routes share."""

from typing import Any

Responses = dict[int | str, dict[str, Any]]


def not_found(description: str) -> Responses:
    return {404: {"description": description}}
