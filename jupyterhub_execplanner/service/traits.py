"""What every settings module shares: the config section's name and durations given as seconds or ISO 8601."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from traitlets import Float, TraitError, Unicode, Union

from ..model.schedule import parse_duration

CONFIG_SECTION = "ExecPlanner"


def to_seconds(value: Any, name: str) -> float:
    """Seconds from a number or an ISO 8601 duration string; TraitError naming the setting if neither."""
    if isinstance(value, bool):
        raise TraitError(
            f"{CONFIG_SECTION}.{name} must be seconds or an ISO 8601 duration, not {value!r}"
        )
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        try:
            seconds = parse_duration(str(value)).total_seconds()
        except ValueError as e:
            raise TraitError(
                f"{CONFIG_SECTION}.{name} = {value!r} is not a duration: give seconds (300) or an "
                f"ISO 8601 duration such as 'PT5M'. ({e})"
            ) from e
    if seconds <= 0:
        raise TraitError(f"{CONFIG_SECTION}.{name} must be positive, not {value!r}")
    return seconds


def duration_trait(default_value: float, help: str) -> Union:
    return Union([Float(), Unicode()], default_value=default_value, help=help).tag(config=True)
