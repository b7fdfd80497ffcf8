"""KubeSpawner's ``profile_list`` read by KubeSpawner itself: one Profile per option alternative.

On a hub whose spawner is KubeSpawner (or a subclass of it) the broker does not interpret
``profile_list`` by itself. It makes a *planning spawner*: an instance of the hub's spawner class
built from the hub's configuration for a stand-in user, without the body of KubeSpawner's
``__init__`` (which loads a kube config and makes an API client). Nothing here talks to a cluster.
KubeSpawner's own methods then do the work:

1. The list: ``_sorted_dict_values(profile_list)`` (a dict's values in key order). A callable
   ``profile_list`` is called once, at service start, with the planning spawner, as
   ``load_user_options`` calls it (a coroutine it returns is awaited). Then
   ``_get_initialized_profile_list`` adds missing slugs, the default profile, default choices and
   the ``unlisted_choice`` defaults.
2. The alternatives of each profile: every choice of every ``profile_options`` option (the
   cartesian product, in option and choice order). An option whose enabled ``unlisted_choice``
   sets ``image: "{value}"`` is an image option: it adds alternatives whose image a
   docker-container request fills (one image option per alternative). There are at most
   :data:`MAX_ALTERNATIVES` per profile: the default alternative is always kept, the rest are
   dropped with a warning in the log.
3. The resources of each alternative: a fresh planning spawner gets ``user_options =
   {"profile": slug, option: choice, ...}`` and runs ``_validate_user_options`` and
   ``_load_profile``, so ``c.KubeSpawner`` < the profile's ``kubespawner_override`` < the choices'
   overrides in option order (dicts merged, ``None`` deletes a key, callables are called with the
   planning spawner). Read from the spawner's traits: ``cpu_guarantee``/``cpu_limit`` -> cores,
   ``mem_guarantee``/``mem_limit`` -> memory, ``extra_resource_limits`` -> accelerators (whole
   counts), ``image``, ``node_selector`` and ``tolerations``.

The stand-in user (:class:`StandInUser`) is named :data:`PLANNING_USER`. It is not an admin and has
no groups and no auth state. A callable that returns different lists for different users is
planned with what it returns for this user. When an offer is accepted, KubeSpawner calls the
callable again for the real user and refuses a profile slug that user does not have.

Pools: a profile's pool is its node selector as ``key=value`` pairs joined by ``,`` in key order
(``cloud.google.com/gke-nodepool=gpu``), or ``default`` when it has none. Our ``execplanner.pool``
on the profile dict overrides it. Profiles with the same node selector but different tolerations
get ``|tolerations=...`` appended, so all the profiles of a derived pool match the same nodes.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from traitlets import TraitError
from traitlets.config import Config

from .profiles import (
    EMPTY,
    Profile,
    ProfileDefaults,
    ProfileError,
    UnlistedImage,
    profile_from_entry,
)

log = logging.getLogger(__name__)

PLANNING_USER = "execplanner-planner"
MAX_ALTERNATIVES = 50
UNLISTED = "--unlisted-choice"
# the value an image option's unlisted choice is resolved with, to find what else it sets
PROBE_IMAGE = "execplanner.invalid/unlisted-choice:probe"
_SCALARS = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit", "image")


class StandInUser:
    """The user a planning spawner is made for. It is not a hub user and has no rights."""

    def __init__(self, name: str = PLANNING_USER) -> None:
        self.name = self.escaped_name = name
        self.id = 0
        self.admin = False
        self.groups: list[Any] = []
        self.url = f"/user/{name}/"
        self.urls: dict[str, str] = {}
        self.settings: dict[str, Any] = {}
        self.spawners: dict[str, Any] = {}

    async def get_auth_state(self) -> None:
        return None


@dataclass(frozen=True)
class Alternative:
    """One way to start a profile: a choice key for each option in ``choices``, and, when
    ``unlisted`` names an image option, the image a docker-container request gives."""

    choices: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    unlisted: str | None = None
    default: bool = False

    def user_options(self, slug: str, image: str = PROBE_IMAGE) -> dict[str, str]:
        """KubeSpawner's ``user_options`` for this alternative."""
        options = {"profile": slug, **self.choices}
        if self.unlisted is not None:
            options[self.unlisted + UNLISTED] = image
        return options


# -- the planning spawner --------------------------------------------------------------------------


def kubespawner_class(config: Config) -> type:
    """The hub's spawner class when it is KubeSpawner or a subclass of it, else KubeSpawner."""
    from kubespawner import KubeSpawner

    configured: Any = ""
    if "JupyterHub" in config:
        configured = config.JupyterHub.get("spawner_class", "")
    cls: Any = configured if isinstance(configured, type) else None
    if cls is None and isinstance(configured, str) and configured:
        cls = _load_class(configured)
    return cls if isinstance(cls, type) and issubclass(cls, KubeSpawner) else KubeSpawner


def _load_class(name: str) -> Any:
    from importlib.metadata import entry_points

    from traitlets.utils.importstring import import_item

    for entry in entry_points(group="jupyterhub.spawners"):
        if entry.name == name:
            return entry.load()
    try:
        return import_item(name) if "." in name else None
    except (ImportError, AttributeError):
        return None


@lru_cache(maxsize=8)
def planning_class(cls: type) -> type:
    """``cls`` without the body of KubeSpawner's ``__init__``: traits and config only."""
    from kubespawner import KubeSpawner

    def __init__(self: Any, **kwargs: Any) -> None:
        super(KubeSpawner, self).__init__(**kwargs)

    return type(f"Planning{cls.__name__}", (cls,), {"__init__": __init__, "__module__": __name__})


def planning_spawner(
    cls: type, config: Config, user_options: Mapping[str, Any] | None = None
) -> Any:
    """A spawner of class ``cls`` for the stand-in user, configured as the hub configures it."""
    try:
        spawner = planning_class(cls)(config=config, user=StandInUser())
    except TraitError as e:
        raise ProfileError(f"KubeSpawner refuses the hub's configuration: {e}") from None
    spawner.user_options = dict(user_options or {})
    return spawner


def _await(value: Any) -> Any:
    """The result of ``value``, awaited when it is awaitable (in a thread when a loop runs here)."""
    if not inspect.isawaitable(value):
        return value

    async def wait() -> Any:
        return await value

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def initialized_profile_list(spawner: Any) -> list[dict[str, Any]]:
    """The spawner's ``profile_list`` as ``load_user_options`` sees it, initialized by KubeSpawner."""
    source = "c.KubeSpawner.profile_list"
    raw = spawner._sorted_dict_values(spawner.profile_list)
    if callable(raw):
        try:
            raw = _await(raw(spawner))
        except Exception as e:
            raise ProfileError(
                f"{source} is a callable, which raised {type(e).__name__}: {e} when called with a "
                f"spawner for the stand-in user {PLANNING_USER!r}; make it work for that user",
                key="profile_list",
            ) from None
    if not isinstance(raw, list | tuple):
        raise ProfileError(
            f"{source} must be (or return) a list of profile dicts, not {type(raw).__name__}",
            key="profile_list",
        )
    _check_shape(raw)
    try:
        return list(spawner._get_initialized_profile_list(list(raw)))
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as e:
        raise ProfileError(f"KubeSpawner cannot read {source}: {e!r}", key="profile_list") from None


def _check_shape(entries: Sequence[Any]) -> None:
    for i, entry in enumerate(entries):
        where = f"profile_list[{i}]"
        name = entry.get("display_name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(
                f"{where} needs a 'display_name' (a non-empty string)", key="display_name"
            )
        options = entry.get("profile_options") or {}
        if not isinstance(options, Mapping) or not all(
            isinstance(o, Mapping) for o in options.values()
        ):
            raise ProfileError(
                f"{where} ({name!r}): profile_options must be a dict of option dicts",
                key="profile_options",
            )
        for option_name, option in options.items():
            choices = option.get("choices") or {}
            unlisted = option.get("unlisted_choice") or {}
            if not isinstance(choices, Mapping) or not all(
                isinstance(c, Mapping) for c in choices.values()
            ):
                raise ProfileError(
                    f"{where} ({name!r}): profile_options.{option_name}.choices must be a dict "
                    "of choice dicts",
                    key=f"profile_options.{option_name}.choices",
                )
            if not isinstance(unlisted, Mapping):
                raise ProfileError(
                    f"{where} ({name!r}): profile_options.{option_name}.unlisted_choice must be a "
                    "dict",
                    key=f"profile_options.{option_name}.unlisted_choice",
                )


# -- alternatives --------------------------------------------------------------------------------


def image_options(profile: Mapping[str, Any]) -> dict[str, UnlistedImage]:
    """The profile's options whose enabled ``unlisted_choice`` sets ``image`` to the value."""
    from kubespawner.utils import recursive_format

    found: dict[str, UnlistedImage] = {}
    for name, option in (profile.get("profile_options") or {}).items():
        unlisted = option.get("unlisted_choice") or {}
        image = (unlisted.get("kubespawner_override") or {}).get("image")
        if unlisted.get("enabled") and recursive_format(image, value=PROBE_IMAGE) == PROBE_IMAGE:
            found[name] = UnlistedImage(name, unlisted.get("validation_regex") or None)
    return found


def alternatives(
    profile: Mapping[str, Any], images: Mapping[str, UnlistedImage], limit: int = MAX_ALTERNATIVES
) -> tuple[list[Alternative], int]:
    """The profile's alternatives (at most ``limit``, the default one kept) and how many there are.
    ``profile`` is initialized (KubeSpawner marked the default choices)."""
    options = profile.get("profile_options") or {}
    rows: list[list[tuple[str, str | None]]] = []
    for name, option in options.items():
        row: list[tuple[str, str | None]] = [(name, key) for key in option.get("choices") or {}]
        if name in images:
            row.append((name, None))
        rows.append(row)
    chosen: list[Alternative] = []
    total = 0
    default: Alternative | None = None
    for combo in itertools.product(*rows):
        unlisted = [name for name, key in combo if key is None]
        if len(unlisted) > 1:
            continue  # a server runs one image
        choices = {name: key for name, key in combo if key is not None}
        is_default = (
            bool(profile.get("default"))
            and not unlisted
            and all(options[n]["choices"][k].get("default") for n, k in choices.items())
        )
        alternative = Alternative(
            MappingProxyType(choices), unlisted[0] if unlisted else None, is_default
        )
        total += 1
        if is_default:
            default = alternative
        if len(chosen) < limit:
            chosen.append(alternative)
    if default is not None and default not in chosen:
        chosen[-1] = default
    return chosen, total


def resolve(
    cls: type, config: Config, profile_list: list[dict[str, Any]], slug: str, alt: Alternative
) -> dict[str, Any]:
    """What KubeSpawner's ``_load_profile`` sets for ``alt``, read from the spawner's traits."""
    profiles = copy.deepcopy(profile_list)  # _load_profile formats unlisted overrides in place
    spawner = planning_spawner(cls, config, alt.user_options(slug))
    if alt.unlisted is None:  # the probe image is not meant to pass validation_regex
        spawner._validate_user_options(profiles)
    spawner._load_profile(slug, profiles)
    values = {name: getattr(spawner, name) for name in _SCALARS}
    values["extra_resource_limits"] = dict(spawner.extra_resource_limits or {})
    values["node_selector"] = {str(k): str(v) for k, v in (spawner.node_selector or {}).items()}
    values["tolerations"] = [
        _plain(t) for t in spawner._sorted_dict_values(spawner.tolerations or [])
    ]
    return values


def _plain(toleration: Any) -> dict[str, Any]:
    to_dict = getattr(toleration, "to_dict", None)
    value = to_dict() if callable(to_dict) else toleration
    return {str(k): v for k, v in dict(value).items() if v is not None}


# -- profiles ------------------------------------------------------------------------------------


def profiles_from_kubespawner(
    config: Config, *, defaults: ProfileDefaults, spawner_class: type | None = None
) -> list[Profile]:
    """The hub's KubeSpawner profiles, one Profile per alternative. ``defaults`` gives only our
    ``prepare`` and ``max_duration``: every resource comes from KubeSpawner. Raises ProfileError."""
    cls = spawner_class or kubespawner_class(config)
    profile_list = initialized_profile_list(planning_spawner(cls, config))
    seen: set[str] = set()
    profiles: list[Profile] = []
    explicit: list[bool] = []
    for i, entry in enumerate(profile_list):
        slug = entry["slug"]
        where = f"profile_list[{i}] ({slug!r})"
        if slug in seen:
            raise ProfileError(
                f"profile {slug!r}: two profiles have the same slug; give each a unique 'slug'",
                slug=slug,
                key="slug",
            )
        seen.add(slug)
        images = image_options(entry)
        alts, total = alternatives(entry, images)
        if total > len(alts):
            log.warning(
                "Profile %r has %d option alternatives; offering the first %d (and its default).",
                slug, total, len(alts),
            )  # fmt: skip
        if not alts:
            log.warning(
                "Profile %r has an option with neither choices nor an unlisted image choice: "
                "not offered.", slug,
            )  # fmt: skip
        resolved = [(alt, _resolve(cls, config, profile_list, where, slug, alt)) for alt in alts]
        for name, image in images.items():
            listed = {v["image"] for a, v in resolved if a.unlisted is None and name in a.choices}
            images[name] = replace(image, listed=frozenset(listed))
        for alt, values in resolved:
            profiles.append(_profile(where, entry, alt, values, images, defaults))
            explicit.append("pool" in (entry.get("execplanner") or {}))
    profiles = assign_pools(profiles, explicit)
    chosen = next((i for i, p in enumerate(profiles) if p.default), 0)
    return [replace(p, default=(i == chosen)) for i, p in enumerate(profiles)]


def _resolve(
    cls: type, config: Config, profile_list: list[dict[str, Any]], where: str, slug: str,
    alt: Alternative,
) -> dict[str, Any]:
    try:
        return resolve(cls, config, profile_list, slug, alt)
    except ProfileError:
        raise
    except Exception as e:
        raise ProfileError(
            f"{where}: KubeSpawner cannot apply {alt.user_options(slug)}: {type(e).__name__}: {e}",
            slug=slug,
            key="profile_options",
        ) from None


def _profile(
    where: str,
    entry: Mapping[str, Any],
    alt: Alternative,
    values: Mapping[str, Any],
    images: Mapping[str, UnlistedImage],
    defaults: ProfileDefaults,
) -> Profile:
    override = {name: values[name] for name in _SCALARS}
    override["extra_resource_limits"] = values["extra_resource_limits"]
    if alt.unlisted is not None:
        override["image"] = None  # the request's image
    built = profile_from_entry(
        where,
        {
            "display_name": display_name(entry, alt),
            "slug": entry["slug"],
            "description": entry.get("description") or "",
            "default": alt.default,
            "execplanner": copy.deepcopy(entry.get("execplanner") or {}),
            "kubespawner_override": override,
        },
        defaults,
    )
    return replace(
        built,
        options=MappingProxyType(dict(alt.choices)),
        node_selector=MappingProxyType(dict(values["node_selector"])),
        tolerations=tuple(MappingProxyType(t) for t in values["tolerations"]),
        unlisted_image=images[alt.unlisted] if alt.unlisted is not None else None,
    )


def display_name(entry: Mapping[str, Any], alt: Alternative) -> str:
    """``Python — Image: SciPy, Size: Large``; the profile's own name without options."""
    options = entry.get("profile_options") or {}
    parts = []
    for name, option in options.items():
        label = option.get("display_name") or name
        if name == alt.unlisted:
            parts.append(f"{label}: the requested image")
        elif name in alt.choices:
            choice = option["choices"][alt.choices[name]]
            parts.append(f"{label}: {choice.get('display_name') or alt.choices[name]}")
    return f"{entry['display_name']} — {', '.join(parts)}" if parts else entry["display_name"]


# -- pools ---------------------------------------------------------------------------------------


def pool_name(node_selector: Mapping[str, str]) -> str:
    """``key=value,...`` in key order, or ``default`` for an empty node selector."""
    if not node_selector:
        return "default"
    return ",".join(f"{k}={node_selector[k]}" for k in sorted(node_selector))


def toleration_text(toleration: Mapping[str, Any]) -> str:
    """``key=value:Effect`` (Equal) or ``key:Effect`` (Exists), as ``kubectl taint`` writes."""
    key = toleration.get("key") or "*"
    effect = toleration.get("effect") or "*"
    if toleration.get("operator") == "Exists":
        return f"{key}:{effect}"
    return f"{key}={toleration.get('value', '')}:{effect}"


def assign_pools(profiles: Sequence[Profile], explicit: Sequence[bool]) -> list[Profile]:
    """Each profile's pool from its node selector (unless ``explicit``), disambiguated by
    tolerations where profiles with one node selector tolerate different taints."""
    tolerated: dict[str, set[tuple[str, ...]]] = {}
    keys = []
    for profile in profiles:
        name = pool_name(profile.node_selector)
        taints = tuple(sorted(toleration_text(t) for t in profile.tolerations))
        tolerated.setdefault(name, set()).add(taints)
        keys.append((name, taints))
    out = []
    for profile, is_explicit, (name, taints) in zip(profiles, explicit, keys, strict=True):
        if is_explicit:
            out.append(profile)
            continue
        if len(tolerated[name]) > 1:
            name = f"{name}|tolerations={','.join(taints) or 'none'}"
        out.append(replace(profile, pool=name))
    return out
