"""What every settings module shares: the one config section, the base of a concept's settings, the
:class:`Duration` trait, and checking a setting against a JSON Schema.

Every setting is a trait of :class:`~.settings.ExecPlanner`, the one config section
(``c.ExecPlanner.<name>``). Each concept's settings live in a module of their own, on a class that is
:class:`Settings` (a ``HasTraits``) and *not* a ``Configurable``: traitlets makes a config section of
every ``Configurable`` class in an object's MRO (``Configurable.section_names``), so a concept class
that was one would be a second way in (``c.RunSettings.x = 7``), read without the checks and the
documentation of ``c.ExecPlanner``. A ``HasTraits`` mixin only gives its traits, validators and
defaults to ``ExecPlanner``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from traitlets import HasTraits, TraitError, TraitType

from ..model import timing

CONFIG_SECTION = "ExecPlanner"


class Settings(HasTraits):
    """The base of each concept's settings. It keeps the parsed form of a setting that its validator
    made (a price book, the peers, the data collections), so the service uses it and never parses a
    setting twice; a default value, which no validator sees, is parsed on first use."""

    def _keep(self, name: str, value: Any, parsed: Any) -> Any:
        """Remember ``parsed`` as the form of ``value`` (the value the validator returns)."""
        self.__dict__.setdefault("_parsed_settings", {})[name] = (value, parsed)
        return value

    def _parsed(self, name: str, parse: Callable[[Any], Any]) -> Any:
        """The parsed form of the setting ``name``: the one its validator kept, or ``parse(value)``
        for a value no validator saw (the default)."""
        value = getattr(self, name)
        kept = self.__dict__.get("_parsed_settings", {}).get(name)
        if kept is not None and (kept[0] is value or kept[0] == value):
            return kept[1]
        parsed = parse(value)
        self._keep(name, value, parsed)
        return parsed

    def duration(self, name: str) -> timedelta:
        """The :class:`Duration` setting ``name`` as a timedelta (its value is seconds)."""
        return timedelta(seconds=getattr(self, name))


class Duration(TraitType[float, Any]):
    """A length of time: seconds (a number, or a string of one) or an ISO 8601 duration (``"PT5M"``),
    read by the rules of :mod:`~jupyterhub_execplanner.model.timing` (never months or years). The
    value is seconds, a float; with ``whole``, an int rounded up (for what needs whole seconds).

    Above zero, unless ``zero`` (for settings where 0 means off, or none); ``at_least`` and
    ``at_most`` bound it further (seconds). Messages name ``<section>.<name>`` (``section``: the
    config section, ``ExecPlanner`` unless given)."""

    default_value = 0.0
    info_text = "seconds or an ISO 8601 duration"

    def __init__(
        self,
        default_value: float,
        *,
        zero: bool = False,
        at_least: float | None = None,
        at_most: float | None = None,
        whole: bool = False,
        section: str = CONFIG_SECTION,
        help: str = "",
        **kwargs: Any,
    ) -> None:
        default: float | int = math.ceil(default_value) if whole else float(default_value)
        super().__init__(default, help=help, **kwargs)
        self.zero, self.at_least, self.at_most, self.whole = zero, at_least, at_most, whole
        self.section = section

    @property
    def rule(self) -> str:
        """What the value must be, in words (for messages and the documentation)."""
        if self.at_most is not None:
            return f"seconds between {self.at_least or 0:g} and {self.at_most:g}"
        if self.at_least is not None:
            return f"at least {self.at_least:g} second{'s' if self.at_least != 1 else ''}"
        return "0 or positive" if self.zero else "positive"

    def validate(self, obj: Any, value: Any) -> float | int:
        where = f"{self.section}.{self.name}"
        bounded = self.at_least is not None or self.at_most is not None
        try:
            seconds = timing.parse_seconds(value, zero=self.zero or bounded)
        except timing.OutOfRange as e:
            if bounded and e.reason.startswith("is negative"):
                raise TraitError(f"{where} must be {self.rule}, not {value!r}") from None
            raise TraitError(f"{where} = {e.shown} {e.reason}") from None
        except timing.TimeError as e:
            raise TraitError(f"{where} = {e.shown} {e.reason}") from None
        too_low = seconds < (self.at_least or 0) or (seconds == 0 and not self.zero)
        if bounded and (too_low or (self.at_most is not None and seconds > self.at_most)):
            raise TraitError(f"{where} must be {self.rule}, not {value!r}")
        if self.whole:
            return int(timing.whole_seconds(timedelta(seconds=seconds)).total_seconds())
        return float(seconds)


# -- JSON Schema ------------------------------------------------------------------------------------
# A schema's every constrained part has a "description": what the value must be, with an example.
# Properties marked "writeOnly" (tokens) are never shown in a message.


def check_schema(value: Any, schema: Mapping[str, Any], name: str, *, entry: str = "") -> None:
    """Raise TraitError if ``value`` (of the setting ``name``) does not match ``schema``: one message
    naming the setting, the entry (``peers[0] (peer 'hub-b')``: ``entry`` is the word for an item
    that has a ``name``), the key and the fix."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import relevance

    errors = list(Draft202012Validator(schema).iter_errors(value))
    if errors:
        raise TraitError(_schema_message(max(errors, key=relevance), value, name, entry))


def _where(value: Any, name: str, path: list[Any], entry: str) -> str:
    where = f"{CONFIG_SECTION}.{name}"
    for i, part in enumerate(path):
        where += f"[{part!r}]"
        if i == 0 and entry and isinstance(part, int) and isinstance(value, list):
            item = value[part]
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                where += f" ({entry} {item['name']!r})"
    return where


def _schema_message(error: Any, value: Any, name: str, entry: str) -> str:
    path = list(error.absolute_path)
    schema, instance = error.schema, error.instance
    described = schema.get("description", "")
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        unknown = sorted(str(k) for k in instance if k not in known)
        close = difflib.get_close_matches(unknown[0], known, n=1) if unknown and known else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        keys = f"; the keys are {', '.join(known)}" if known else ""
        return f"{_where(value, name, path, entry)}: unknown key {unknown[0]!r}{hint}{keys}"
    if error.validator == "required" and isinstance(instance, dict):
        missing = next(k for k in error.validator_value if k not in instance)
        fix = schema.get("properties", {}).get(missing, {}).get("description", "")
        give = f": give {fix}" if fix else ""
        return f"{_where(value, name, path, entry)}: {missing!r} is missing{give}"
    if error.validator in ("anyOf", "oneOf"):
        return f"{_where(value, name, path, entry)} {described or error.message}"
    if not described and error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        described = " or ".join(_TYPE_WORDS.get(k, str(k)) for k in kinds)
    shown = "" if schema.get("writeOnly") else f", not {instance!r}"
    named = len(error.schema_path) >= 3 and list(error.schema_path)[-3] == "properties"
    if named and path:  # a key the schema names: "<entry>: 'key' must be ..."
        return f"{_where(value, name, path[:-1], entry)}: {path[-1]!r} must be {described}{shown}"
    return f"{_where(value, name, path, entry)} must be {described or error.message}{shown}"


_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a dict",
}
