"""The hub's profiles, read from KubeSpawner's ``profile_list`` format.

:func:`profiles_from_list` is a pure pipeline over a deep copy of the configuration. It reads what
KubeSpawner reads: a list of profile dicts, or (KubeSpawner 7.1) a dict whose values are profile
dicts, taken in sorted key order as KubeSpawner does. Each profile has ``display_name``, optional
``slug`` (generated from ``display_name`` exactly as KubeSpawner does when absent; KubeSpawner does
*not* use the outer dict key as the slug, so neither do we), ``description``, ``default`` and
``kubespawner_override``. From the override we read ``cpu_guarantee``, ``cpu_limit``,
``mem_guarantee``, ``mem_limit``, ``image`` (or its deprecated alias ``image_spec``) and
``extra_resource_limits``; a key the override does not set is inherited from
:class:`ProfileDefaults` (``c.KubeSpawner.*`` < profile override; ``extra_resource_limits`` is
merged key by key and ``None`` deletes a key, as KubeSpawner does for dict traits).
``profile_options`` are not read here: on a KubeSpawner hub :mod:`.kubeprofiles` reads the list
with KubeSpawner's own functions, one :class:`Profile` per option alternative, and builds each with
:func:`profile_from_entry`.

Our own optional block on a profile dict::

    execplanner: {max_duration: "PT8H" | 28800, prepare: "PT30S" | 30, pool: "gpu"}

Durations follow :mod:`~jupyterhub_execplanner.model.timing`, as the hub's settings do: seconds or
ISO 8601, never months or years; they are rounded up to whole seconds, as offers carry them.

Accelerators are the integer-valued entries of ``extra_resource_limits``
(``{"nvidia.com/gpu": "1"}``); entries that are not whole counts (``hugepages-2Mi: 1Gi``) and zero
counts are not accelerators. Only the first profile marked ``default`` keeps ``default=True`` (the
one KubeSpawner picks); with none marked, the first profile is the default, as in KubeSpawner.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from ..model import timing
from .quantities import parse_count, parse_cpu, parse_memory

EMPTY: Mapping[str, Any] = MappingProxyType({})
_NOT_ACCELERATORS = ("cpu", "memory", "ephemeral-storage", "hugepages-")
_OUR_KEYS = ("max_duration", "prepare", "pool")

_kubespawner_slugify: Callable[..., str] | None
try:  # KubeSpawner generates missing slugs with python-slugify (kubespawner/spawner.py)
    from slugify import slugify as _kubespawner_slugify
except ImportError:  # pragma: no cover - python-slugify comes with kubespawner
    _kubespawner_slugify = None


def slugify(text: str) -> str:
    """The slug KubeSpawner generates for a profile without one: ``slugify(display_name)`` from
    python-slugify. Without python-slugify (no KubeSpawner installed) a documented equivalent for
    ASCII text: drop apostrophes, lower-case, every run of other characters -> ``-``, trim
    ``-``; non-ASCII letters lose their accents (python-slugify transliterates more)."""
    if _kubespawner_slugify is not None:
        return str(_kubespawner_slugify(text))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = re.sub(r"(?<=\d),(?=\d)", "", ascii_text.replace("'", "")).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


class ProfileError(ValueError):
    """A profile the planner cannot use. ``str()`` names the profile, the key and the fix."""

    def __init__(self, message: str, *, slug: str | None = None, key: str | None = None):
        super().__init__(message)
        self.slug, self.key = slug, key


@dataclass(frozen=True)
class ProfileDefaults:
    """Spawner-level settings a profile inherits when its override does not set them. Values are
    raw configuration values (``"4G"``, ``"PT8H"``, seconds) and are parsed with the profiles."""

    cpu_guarantee: Any = None
    cpu_limit: Any = None
    mem_guarantee: Any = None
    mem_limit: Any = None
    image: str | None = None
    extra_resource_limits: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    max_duration: Any = None
    prepare: Any = timedelta(seconds=30)

    @classmethod
    def from_spawner(cls, spawner: object, **ours: Any) -> ProfileDefaults:
        """Read the resource traits of a spawner (class or instance); ``ours`` sets the rest."""
        names = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit", "image")
        found = {name: getattr(spawner, name, None) for name in names}
        found["extra_resource_limits"] = dict(getattr(spawner, "extra_resource_limits", None) or {})
        kept = {k: v for k, v in found.items() if isinstance(v, str | int | float | dict)}
        return cls(**{**kept, **ours})


@dataclass(frozen=True)
class UnlistedImage:
    """A KubeSpawner profile option whose ``unlisted_choice`` sets the image (``image: "{value}"``):
    a docker-container request can fill it with any image ``re.match``-ing ``pattern`` (the
    option's ``validation_regex``; None accepts any image), as KubeSpawner validates it. An image
    one of the option's ``listed`` choices sets is offered with that choice instead."""

    option: str
    pattern: str | None = None
    listed: frozenset[str] = frozenset()  # the images the option's listed choices set

    def accepts(self, image: str | None) -> bool:
        if not image:
            return False
        return self.pattern is None or re.match(self.pattern, image) is not None

    def user_options(self, image: str) -> dict[str, str]:
        """The KubeSpawner ``user_options`` entry that runs ``image``."""
        return {f"{self.option}--unlisted-choice": image}


@dataclass(frozen=True)
class Profile:
    """One profile as the planner sees it. Cores and memory (GiB) are what a server on it is
    guaranteed (``*_min``) and limited to (``*_max``; None = up to what the pool has).

    On KubeSpawner (see :mod:`.kubeprofiles`) a profile is one alternative of a ``profile_list``
    entry: ``options`` are its ``profile_options`` choices (option -> choice key, sent as
    ``user_options`` with ``profile: slug``), ``node_selector`` and ``tolerations`` are what its
    pod gets (the capacity side matches nodes with them), and ``unlisted_image`` is set on the
    alternative whose image a docker-container request fills (``image`` is then None)."""

    slug: str
    display_name: str
    description: str = ""
    cores_min: float = 0
    cores_max: float | None = None
    memory_min: float = 0
    memory_max: float | None = None
    accelerators: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    image: str | None = None
    pool: str = "default"
    max_duration: timedelta | None = None
    prepare: timedelta = timedelta(seconds=30)
    default: bool = False
    override: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    options: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    node_selector: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    unlisted_image: UnlistedImage | None = None


def profile_label(profile: Profile) -> str:
    """The profile's slug, with its options when it has any: ``python (image=scipy)``."""
    if not profile.options:
        return profile.slug
    return f"{profile.slug} ({', '.join(f'{k}={v}' for k, v in profile.options.items())})"


def profiles_from_list(profile_list: Any, *, defaults: ProfileDefaults) -> list[Profile]:
    """Profiles from KubeSpawner's ``profile_list`` (a list, or a dict of slug -> profile).

    Raises ProfileError for a callable list, a malformed entry, a bad quantity, limits below
    guarantees, or duplicate slugs. An empty list gives no profiles."""
    if callable(profile_list):
        raise ProfileError("a callable profile_list is not supported yet; give a list")
    if isinstance(profile_list, Mapping):
        entries = [(f"profile_list[{k!r}]", profile_list[k]) for k in sorted(profile_list)]
    elif isinstance(profile_list, list | tuple):
        entries = [(f"profile_list[{i}]", entry) for i, entry in enumerate(profile_list)]
    else:
        raise ProfileError(
            f"profile_list must be a list of profile dicts, not {type(profile_list).__name__}"
        )
    profiles = [
        profile_from_entry(where, copy.deepcopy(entry), defaults) for where, entry in entries
    ]
    seen: dict[str, str] = {}
    for (where, _), profile in zip(entries, profiles, strict=True):
        if profile.slug in seen:
            raise ProfileError(
                f"profile {profile.slug!r}: {seen[profile.slug]} and {where} have the same slug; "
                "give each profile a unique 'slug'",
                slug=profile.slug,
                key="slug",
            )
        seen[profile.slug] = where
    chosen = next((i for i, p in enumerate(profiles) if p.default), 0)
    return [replace(p, default=(i == chosen)) for i, p in enumerate(profiles)]


def local_host_profile(totals: Mapping[str, float], defaults: ProfileDefaults) -> Profile:
    """One profile for a hub without a profile_list: the whole host (or what the spawner limits
    allow, if lower). Integer-valued totals other than cores and memory become accelerators."""
    cores, memory = float(totals.get("cores", 0)), float(totals.get("memory", 0))
    limits = _resources("local", {}, defaults)
    if limits["cores_max"] is not None:
        cores = min(cores, limits["cores_max"])
    if limits["memory_max"] is not None:
        memory = min(memory, limits["memory_max"])
    accelerators = {
        name: int(value)
        for name, value in totals.items()
        if name not in ("cores", "memory") and value >= 1 and float(value).is_integer()
    }
    profile = Profile(
        slug="local",
        display_name=f"This host ({cores:g} cores, {memory:g} GiB)",
        description="A server on the hub's own host.",
        cores_min=min(limits["cores_min"], cores),
        cores_max=cores,
        memory_min=min(limits["memory_min"], memory),
        memory_max=memory,
        accelerators=MappingProxyType(accelerators),
        image=defaults.image,
        max_duration=_duration("local", "max_duration", defaults.max_duration, positive=True),
        prepare=_duration("local", "prepare", defaults.prepare) or timedelta(0),
        default=True,
    )
    return profile


def profile_summary(profile: Profile) -> dict[str, Any]:
    """A JSON-ready description of a profile (for ``GET /``). The KubeSpawner keys (``options``,
    ``unlisted_image``, ``node_selector``, ``tolerations``) are present only when set."""
    summary: dict[str, Any] = {
        "slug": profile.slug,
        "display_name": profile.display_name,
        "description": profile.description,
        "cores": {"min": profile.cores_min, "max": profile.cores_max},
        "memory": {"min": profile.memory_min, "max": profile.memory_max},
        "accelerators": dict(profile.accelerators),
        "image": profile.image,
        "pool": profile.pool,
        "max_duration": (
            timing.format_duration(profile.max_duration) if profile.max_duration is not None else None
        ),
    }
    if profile.options:
        summary["options"] = dict(profile.options)
    if profile.unlisted_image is not None:
        summary["unlisted_image"] = {
            "option": profile.unlisted_image.option,
            "validation_regex": profile.unlisted_image.pattern,
        }
    if profile.node_selector:
        summary["node_selector"] = dict(profile.node_selector)
    if profile.tolerations:
        summary["tolerations"] = [dict(t) for t in profile.tolerations]
    return summary


# -- the pipeline ---------------------------------------------------------------------------------


def profile_from_entry(where: str, entry: Any, defaults: ProfileDefaults) -> Profile:
    """One ``profile_list`` entry (already copied) as a Profile; ``where`` names it in errors."""
    if not isinstance(entry, Mapping):
        raise ProfileError(f"{where} must be a dict with at least 'display_name'")
    display_name = entry.get("display_name")
    if not isinstance(display_name, str) or not display_name.strip():
        raise ProfileError(
            f"{where} needs a 'display_name' (a non-empty string)", key="display_name"
        )
    slug = entry["slug"] if "slug" in entry else slugify(display_name)
    if not isinstance(slug, str) or not slug:
        raise ProfileError(
            f"{where} ({display_name!r}) has no usable slug; set 'slug' to a short machine name",
            key="slug",
        )
    override = entry.get("kubespawner_override") or {}
    if not isinstance(override, Mapping):
        raise ProfileError(
            f"profile {slug!r}: kubespawner_override must be a dict",
            slug=slug,
            key="kubespawner_override",
        )
    ours = entry.get("execplanner") or {}
    if not isinstance(ours, Mapping) or set(ours) - set(_OUR_KEYS):
        raise ProfileError(
            f"profile {slug!r}: execplanner must be a dict with only the keys "
            f"{', '.join(_OUR_KEYS)}; found {list(ours) if isinstance(ours, Mapping) else ours!r}",
            slug=slug,
            key="execplanner",
        )
    image = _override_or_default(slug, override, defaults, "image", alias="image_spec")
    if image is not None and not isinstance(image, str):
        raise ProfileError(f"profile {slug!r}: image must be a string", slug=slug, key="image")
    pool = ours.get("pool", "default")
    if not isinstance(pool, str) or not pool:
        raise ProfileError(
            f"profile {slug!r}: execplanner.pool must be a pool name",
            slug=slug,
            key="execplanner.pool",
        )
    description = entry.get("description") or ""
    return Profile(
        slug=slug,
        display_name=display_name,
        description=str(description),
        **_resources(slug, override, defaults),
        accelerators=MappingProxyType(_accelerators(slug, override, defaults)),
        image=image,
        pool=pool,
        max_duration=_duration(
            slug, "execplanner.max_duration", ours.get("max_duration", defaults.max_duration), True
        ),
        prepare=_duration(slug, "execplanner.prepare", ours.get("prepare", defaults.prepare))
        or timedelta(0),
        default=bool(entry.get("default", False)),
        override=MappingProxyType(dict(override)),
    )


def _override_or_default(
    slug: str, override: Mapping[str, Any], defaults: ProfileDefaults, key: str, alias: str = ""
) -> Any:
    for name in (key, alias):
        if name and name in override:
            value = override[name]
            if callable(value):
                raise ProfileError(
                    f"profile {slug!r}: kubespawner_override.{name} is a callable, which the "
                    "planner cannot evaluate; give a value",
                    slug=slug,
                    key=f"kubespawner_override.{name}",
                )
            return value
    return getattr(defaults, key)


def _source(override: Mapping[str, Any], key: str) -> str:
    return f"kubespawner_override.{key}" if key in override else f"c.KubeSpawner.{key}"


def _resources(slug: str, override: Mapping[str, Any], defaults: ProfileDefaults) -> dict[str, Any]:
    parsed: dict[str, float | None] = {}
    for key, parser in (
        ("cpu_guarantee", parse_cpu),
        ("cpu_limit", parse_cpu),
        ("mem_guarantee", parse_memory),
        ("mem_limit", parse_memory),
    ):
        value = _override_or_default(slug, override, defaults, key)
        try:
            parsed[key] = None if value is None else parser(value)
        except ValueError as e:
            raise ProfileError(
                f"profile {slug!r}: {_source(override, key)}: {e}",
                slug=slug,
                key=_source(override, key),
            ) from None
    for low, high, unit in (
        ("cpu_guarantee", "cpu_limit", "cores"),
        ("mem_guarantee", "mem_limit", "GiB"),
    ):
        lo, hi = parsed[low], parsed[high]
        if hi is not None and hi <= 0:
            raise ProfileError(
                f"profile {slug!r}: {_source(override, high)} is 0; remove it (no limit) or set "
                "it above 0",
                slug=slug,
                key=_source(override, high),
            )
        if lo is not None and hi is not None and hi < lo:
            raise ProfileError(
                f"profile {slug!r}: {_source(override, high)} ({hi:g} {unit}) is below "
                f"{_source(override, low)} ({lo:g} {unit}); raise {high} or lower {low}",
                slug=slug,
                key=_source(override, high),
            )
    return {
        "cores_min": parsed["cpu_guarantee"] or 0.0,
        "cores_max": parsed["cpu_limit"],
        "memory_min": parsed["mem_guarantee"] or 0.0,
        "memory_max": parsed["mem_limit"],
    }


def _accelerators(
    slug: str, override: Mapping[str, Any], defaults: ProfileDefaults
) -> dict[str, int]:
    merged: dict[str, Any] = dict(defaults.extra_resource_limits or {})
    extra = override.get("extra_resource_limits", {})
    if callable(extra) or not isinstance(extra, Mapping):
        raise ProfileError(
            f"profile {slug!r}: kubespawner_override.extra_resource_limits must be a dict such as "
            "{'nvidia.com/gpu': '1'}",
            slug=slug,
            key="kubespawner_override.extra_resource_limits",
        )
    for name, value in extra.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    counts: dict[str, int] = {}
    for name, value in merged.items():
        if not isinstance(name, str) or name.startswith(_NOT_ACCELERATORS):
            continue
        try:
            count = parse_count(value)
        except ValueError:
            continue  # not a whole count (e.g. '1Gi'): a resource, but not an accelerator
        if count > 0:
            counts[name] = count
    return counts


def _duration(slug: str, key: str, value: Any, positive: bool = False) -> timedelta | None:
    """A profile's ``execplanner.prepare`` (zero or more) or ``max_duration`` (``positive``), by the
    rules of :mod:`~jupyterhub_execplanner.model.timing`, rounded up to whole seconds for offers."""
    if value is None:
        return None
    try:
        result = timing.parse_duration(value, zero=not positive)
    except timing.TimeError as e:
        no_limit = "; or remove it for no limit" if positive and e.reason.startswith("is zero") else ""
        message = f"profile {slug!r}: {key} = {e.shown} {e.reason}{no_limit}"
        raise ProfileError(message, slug=slug, key=key) from None
    return timing.whole_seconds(result)
