"""What the broker asks the hub to start for a session, signed so the spawner can trust it.

The phase driver (service process) starts a named server with ``user_options`` made by
:func:`to_user_options`; the spawner hook (hub process) reads them back with
:func:`from_user_options`, which refuses options whose signature does not match. A user who posts
hand-made ``execplanner_*`` options to the hub's API is refused; a user who posts none gets an ordinary
server, untouched by the broker.

A launch is valid once: its signed payload carries a random ``nonce`` and a ``not_after`` time (when
it was issued plus :data:`SPAWN_WINDOW`), the options must be exactly the signed set, and the hook
claims the nonce from the broker (``POST sessions/{uuid}/launch``, authorized by
:func:`launch_token`) before it applies the launch. So ``user_options`` read back from the hub's API
and posted again are refused.

The signing key is shared by the two processes through the service's environment
(``EXECPLANNER_LAUNCH_SECRET``), which ``setup_execplanner`` sets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from .model import timing

SECRET_ENV = "EXECPLANNER_LAUNCH_SECRET"
SESSION_OPTION = "execplanner_session"
LAUNCH_OPTION = "execplanner_launch"
SIGNATURE_OPTION = "execplanner_signature"
PRELOAD_ENV = "EXECPLANNER_PRELOAD"
# a new id each time the hub loads its config (each hub start), in the service's environment
HUB_BOOT_ENV = "EXECPLANNER_HUB_BOOT"
# how long after the driver issues a launch the hub may still start it
SPAWN_WINDOW = timedelta(minutes=5)


class LaunchRefused(ValueError):
    """``user_options`` that claim to come from the broker but do not."""


@dataclass(frozen=True)
class DataItem:
    """A data resource for the preload. ``mode`` ``stage``: download ``location`` (into ``mount``,
    relative to the session's folder, when given; else into the folder under ``name``); ``local``:
    link ``mount`` to ``source``, the collection's path on the server (read-only), ``collection``
    the admin's collection (whose Kubernetes volume the hook mounts). ``size`` (bytes, None when
    unknown) and ``seconds`` (estimated transfer time) come from the offer."""

    name: str
    location: str | None = None
    mode: str = "stage"
    mount: str | None = None
    source: str | None = None
    size: int | None = None
    seconds: float = 0.0
    collection: str | None = None


@dataclass(frozen=True)
class LaunchSpec:
    """Everything the spawner and the preload need to prepare a session's server."""

    session: str  # session uuid
    owner: str  # hub user name
    server_name: str
    profile: str  # profile slug
    cores: int
    memory: int  # GiB
    end: str  # ISO 8601 instant when the session's available time ends
    accelerators: dict[str, int] = field(default_factory=dict)
    notebook: str | None = None  # URL of the notebook to fetch, or None for a plain session
    requirements: str | None = None  # URL of a pip requirements file
    data: tuple[DataItem, ...] = ()
    image: str | None = None
    # KubeSpawner profile_options choices, sent as top-level user_options next to "profile"
    options: dict[str, str] = field(default_factory=dict)
    nonce: str = ""  # random, one per start of the server: the broker lets the hub use it once
    not_after: str = ""  # ISO 8601 instant after which the hub refuses this launch

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["data"] = [asdict(d) for d in self.data]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> LaunchSpec:
        values = dict(doc)
        values["data"] = tuple(DataItem(**d) for d in values.get("data") or ())
        values["accelerators"] = {str(k): int(v) for k, v in (values.get("accelerators") or {}).items()}
        values["options"] = {str(k): str(v) for k, v in (values.get("options") or {}).items()}
        return cls(**values)


def new_secret() -> str:
    return secrets.token_hex(32)


def secret_from_env() -> str | None:
    return os.environ.get(SECRET_ENV) or None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


_format_time, _parse_time = timing.format_instant, timing.parse_instant


def issue(spec: LaunchSpec, now: datetime | None = None, window: timedelta = SPAWN_WINDOW) -> LaunchSpec:
    """``spec`` with a new random nonce, valid until ``now`` (the wall clock) plus ``window``."""
    start = now if now is not None else _utcnow()
    return replace(spec, nonce=secrets.token_hex(16), not_after=_format_time(start + window))


def _signature(payload: Mapping[str, Any], secret: str) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


def server_name_for(session_uuid: str) -> str:
    """A JupyterHub 6 server name for a session: lowercase, starts with a letter, at most 30 chars."""
    return "ep-" + session_uuid.replace("-", "")[:12]


def to_user_options(spec: LaunchSpec, secret: str) -> dict[str, Any]:
    """The server's ``user_options``: KubeSpawner's own (``profile`` and the profile's option
    choices at the top level, ``{"profile": slug, option: choice, ...}``) and the signed launch.
    KubeSpawner ignores the ``execplanner_*`` keys; other spawners ignore all but ``profile``.
    A spec without a nonce or time limit gets them from :func:`issue` first."""
    if not spec.nonce or not spec.not_after:
        spec = issue(spec)
    payload = spec.to_dict()
    return {
        **spec.options,
        "profile": spec.profile,
        SESSION_OPTION: spec.session,
        LAUNCH_OPTION: payload,
        SIGNATURE_OPTION: _signature(payload, secret),
    }


def is_broker_launch(options: Mapping[str, Any] | None) -> bool:
    return bool(options) and any(k.startswith("execplanner_") for k in options or {})


def signed_keys(spec: LaunchSpec) -> frozenset[str]:
    """The keys of the ``user_options`` that :func:`to_user_options` makes for ``spec``."""
    return frozenset({"profile", SESSION_OPTION, LAUNCH_OPTION, SIGNATURE_OPTION, *spec.options})


def from_user_options(
    options: Mapping[str, Any] | None,
    secret: str,
    *,
    user: str,
    server_name: str,
    now: datetime | None = None,
) -> LaunchSpec | None:
    """The launch spec in ``options``, or None when the options are not the broker's at all.
    Raises LaunchRefused for options that claim to be the broker's but are not, are not for this
    user and server, are not exactly the signed set, or whose time is over (``now``, the wall clock
    by default). Whether the nonce was used already is the broker's to say (the hook asks it)."""
    if not is_broker_launch(options):
        return None
    assert options is not None
    payload = options.get(LAUNCH_OPTION)
    signature = options.get(SIGNATURE_OPTION)
    if not isinstance(payload, Mapping) or not isinstance(signature, str):
        raise LaunchRefused("execplanner options without a launch and its signature")
    if not hmac.compare_digest(_signature(payload, secret), signature):
        raise LaunchRefused("the execplanner launch is not signed by this hub's broker")
    try:
        spec = LaunchSpec.from_dict(payload)
        not_after = _parse_time(spec.not_after) if spec.not_after else None
    except (TypeError, ValueError, AttributeError) as e:
        raise LaunchRefused(f"the execplanner launch is malformed: {e}") from e
    if spec.owner != user or spec.server_name != server_name:
        raise LaunchRefused(
            f"the execplanner launch is for {spec.owner}/{spec.server_name}, not {user}/{server_name}"
        )
    extra = sorted(str(k) for k in set(options) - signed_keys(spec))
    if extra:
        raise LaunchRefused(f"the options {', '.join(extra)} are not part of the signed launch")
    if options.get(SESSION_OPTION) != spec.session or options.get("profile") != spec.profile:
        raise LaunchRefused("the execplanner options do not match their signed launch")
    if any(options.get(name) != choice for name, choice in spec.options.items()):
        raise LaunchRefused("the profile options do not match their signed launch")
    if not spec.nonce or not_after is None:
        raise LaunchRefused("the execplanner launch has no nonce or time limit (an older broker's)")
    if (now if now is not None else _utcnow()) >= not_after:
        raise LaunchRefused(
            f"this launch expired at {spec.not_after} (the broker issues a new one for each start)"
        )
    return spec


# -- what the hook and the preload share ------------------------------------------------------------

REPORT_SCHEME = "execplanner-report"  # Authorization: execplanner-report <report_token(...)>
SESSIONS_FOLDER = "execplanner"  # sessions' folders, under the server's root directory
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def report_token(secret: str, session: str) -> str:
    """The token a session's preload sends with its progress reports: HMAC-SHA256 of
    ``"report:" + session`` under the launch secret, in hex. It only lets its holder report progress
    for that one session."""
    return hmac.new(secret.encode(), f"report:{session}".encode(), hashlib.sha256).hexdigest()


def check_report_token(secret: str, session: str, token: str) -> bool:
    """Whether ``token`` is :func:`report_token` for ``session`` (constant-time)."""
    return hmac.compare_digest(report_token(secret, session), token)


LAUNCH_SCHEME = "execplanner-launch"  # Authorization: execplanner-launch <launch_token(...)>


def launch_token(secret: str, session: str, nonce: str) -> str:
    """The token the hub's hook sends when it claims a launch: HMAC-SHA256 of
    ``"launch:" + session + ":" + nonce`` under the launch secret, in hex. Only the hub and the broker
    can make it; the nonce alone (which the user can read in ``user_options``) is not enough."""
    return hmac.new(secret.encode(), f"launch:{session}:{nonce}".encode(), hashlib.sha256).hexdigest()


def check_launch_token(secret: str, session: str, nonce: str, token: str) -> bool:
    """Whether ``token`` is :func:`launch_token` for ``session`` and ``nonce`` (constant-time)."""
    return hmac.compare_digest(launch_token(secret, session, nonce).encode(), token.encode())


def safe_filename(name: str, fallback: str) -> str:
    """A file name that stays in its folder: the last path segment of ``name``, with characters
    other than letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``, no leading dots."""
    last = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", last).lstrip(".")
    return cleaned[:120] or fallback


def session_folder(spec: LaunchSpec) -> str:
    """The session's folder, relative to the server's root directory (POSIX separators)."""
    return f"{SESSIONS_FOLDER}/{spec.server_name}"


def notebook_filename(spec: LaunchSpec) -> str | None:
    """The file name of the session's notebook: the last segment of its URL's path, made safe,
    ending in ``.ipynb``. None for a plain session."""
    if not spec.notebook:
        return None
    name = safe_filename(unquote(urlsplit(spec.notebook).path), "notebook.ipynb")
    return name if name.endswith(".ipynb") else name + ".ipynb"


def notebook_path(spec: LaunchSpec) -> str | None:
    """Where the preload writes the notebook and what the server opens, relative to the server's
    root directory; None for a plain session. The hook and the preload both use this."""
    filename = notebook_filename(spec)
    return None if filename is None else f"{session_folder(spec)}/{filename}"
