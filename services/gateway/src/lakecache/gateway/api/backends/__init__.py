"""The gateway's models of the APIs of the services behind it: the catalog, the cacher, the evictor.

Each module models one service's routes (path variables, query string, JSON body, responses)
exactly as the service reads and answers them; what they share is here: how the services read
a query string.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from lakecache.gateway.api.common import Input


def _whole_number(value: Any) -> Any:
    # The services parse ``limit`` with int(): "10.0" is refused there (pydantic alone would take it).
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
    return value


PageSize = Annotated[int, BeforeValidator(_whole_number)]


def page_size(default: int, maximum: int) -> Any:
    """The ``limit`` field of a list with the service's own default and maximum."""
    return Field(default, ge=1, le=maximum, description=f"Most items in one page: 1 to {maximum}.")


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(description: str) -> Any:
    """A field that may be left out but not sent as null (the service refuses null for it)."""
    return Field(None, description=description, json_schema_extra=_drop_default)


class Query(Input):
    """A query string as the services read it: a parameter given empty (``?cursor=``) is absent."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data
