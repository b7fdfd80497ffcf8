"""The service's own OpenAPI 3.1 document (``openapi.yaml`` beside this module), and schema helpers.

:func:`load_openapi` gives the document (served at ``GET openapi.yaml``); :func:`schema_for`
turns one of its ``components.schemas`` into a self-contained JSON schema; :func:`validate` checks
a document against one of them. ``validate`` needs ``openapi-schema-validator`` (a test
dependency), which is imported only when it is called, so the running service does not need it.
"""

from __future__ import annotations

import copy
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

_PACKAGE = __name__.rpartition(".")[0]
_RESOURCE = "openapi.yaml"


@lru_cache(maxsize=1)
def openapi_text() -> str:
    """The document as written (YAML text)."""
    return resources.files(_PACKAGE).joinpath(_RESOURCE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    doc = yaml.safe_load(openapi_text())
    if not isinstance(doc, dict):
        raise RuntimeError(f"{_PACKAGE}/{_RESOURCE} is not a YAML mapping")
    return doc


def load_openapi() -> dict[str, Any]:
    """The OpenAPI document as a dict (parsed once; each call returns a fresh copy)."""
    return copy.deepcopy(_document())


def schema_names() -> list[str]:
    """The names under ``components.schemas``."""
    return sorted(_document()["components"]["schemas"])


def schema_for(name: str) -> dict[str, Any]:
    """A self-contained JSON schema for ``#/components/schemas/<name>``.

    The schema's own keywords are at the top level and the document's ``components`` are attached
    beside them, so the internal ``$ref: '#/components/schemas/...'`` references resolve.
    """
    components = _document()["components"]
    try:
        schema = components["schemas"][name]
    except KeyError:
        known = ", ".join(schema_names())
        raise KeyError(f"no schema {name!r} in the OpenAPI document; known: {known}") from None
    result = copy.deepcopy(schema)
    result["components"] = {"schemas": copy.deepcopy(components["schemas"])}
    return result


@cache
def _validator(name: str) -> Any:
    from openapi_schema_validator import OAS31Validator, oas31_format_checker

    schema = schema_for(name)
    OAS31Validator.check_schema(schema)
    return OAS31Validator(schema, format_checker=oas31_format_checker)


def validate(doc: Any, name: str) -> None:
    """Check ``doc`` against ``#/components/schemas/<name>``, formats included.

    Raises :class:`jsonschema.ValidationError` (the most relevant error) when it does not conform.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator(name).iter_errors(doc))
    if error is not None:
        raise error
