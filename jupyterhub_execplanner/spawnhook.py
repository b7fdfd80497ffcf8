"""The hub side of a session: the pre-spawn hook that turns a signed launch into a preloaded server.

``setup_execplanner`` installs :func:`make_pre_spawn_hook` as ``c.Spawner.pre_spawn_hook`` (after the
admin's own hook, which runs first). For each spawn it reads ``spawner.user_options``:

- no ``execplanner_*`` options: an ordinary server, left as the admin configured it;
- options that claim to be the broker's but are not signed by it, are for another user or server, are
  not exactly the signed set, or whose time is over: the spawn is refused (``SpawnException``, HTTP 403
  from the hub's API, ``Spawn failed: <reason>`` in the progress events) and no server starts;
- a signed launch is claimed from the broker first (:func:`claim_launch`: ``POST
  sessions/{uuid}/launch`` on the service's own URL, with :func:`~.launch.launch_token`): the broker
  says yes once, for a session that is PREPARING with that launch's nonce. Its refusal ("this launch
  was already used", "the session is CANCELLED"), and a broker that does not answer, refuse the spawn;
- a claimed launch: the profile's resources (``cpu_*``, ``mem_*`` in bytes, accelerators in
  ``extra_resource_limits``, ``image``) are applied to the spawner, the server's command becomes
  ``python -m jupyterhub_execplanner.singleuser -- <its command>`` with the preload plan in
  ``$EXECPLANNER_PRELOAD``, and ``default_url`` opens the session's notebook in JupyterLab.

Spawner objects live as long as the hub and are reused by later starts of the same server, so what a
launch changed is undone before the next start.

KubeSpawner: the hub runs this hook *before* ``spawner.start()``, and KubeSpawner applies the profile
(``load_user_options``: the profile's and the chosen options' ``kubespawner_override``) inside
``start()``, which would overwrite the launch's resources with the profile's. So on a spawner with
``load_user_options`` the hook also wraps that method, for this start only, to apply the launch again
right after the profile. KubeSpawner ignores the ``execplanner_*`` keys of ``user_options``
(``_validate_user_options`` checks only ``profile`` and the profile's options), so the server ends
with the profile and its choices (node selector, tolerations, volumes, ...) and the offer's cores,
memory, accelerators and image.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from . import launch
from .service.settings import ExecPlanner
from .singleuser.plan import PreloadPlan

PRELOAD_MODULE = "jupyterhub_execplanner.singleuser"
DEFAULT_COMMAND = ["jupyterhub-singleuser"]
_SAVED = "_execplanner_saved"
_REAPPLY = "load_user_options"  # KubeSpawner's method that applies the profile, wrapped once
# every spawner attribute a launch may change
_CHANGED = (
    "cmd", "default_url", "http_timeout", "environment",
    "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee", "extra_resource_limits", "image",
    "volumes", "volume_mounts",
)
DATA_VOLUME_PREFIX = "execplanner-data-"

log = logging.getLogger(__name__)

Hook = Callable[[Any], Any]
# claim(spec, secret, service_url, service_name): returns when the broker let the hub use the launch,
# raises LaunchRefused with the reason otherwise
Claim = Callable[[launch.LaunchSpec, str, str, str], Awaitable[None]]
CLAIM_TIMEOUT = 10.0  # seconds the hook waits for the broker's answer to a claim


def report_url(service_url: str, service_name: str, session: str) -> str:
    """Where a session's preload posts its progress: the service's own (internal) URL."""
    return f"{service_url.rstrip('/')}/services/{service_name}/sessions/{session}/progress"


def claim_url(service_url: str, service_name: str, session: str) -> str:
    """Where the hook claims a session's launch: the service's own (internal) URL."""
    return f"{service_url.rstrip('/')}/services/{service_name}/sessions/{session}/launch"


def service_url_for(spawner: Any, service_name: str, fallback: str) -> str:
    """The broker's internal URL as the hub knows it now (its ``services`` entry), else ``fallback``
    (the URL ``setup_execplanner`` chose)."""
    settings = getattr(getattr(spawner, "user", None), "settings", None)
    services = settings.get("services") if isinstance(settings, dict) else None
    service = services.get(service_name) if isinstance(services, dict) else None
    url = getattr(service, "url", None)
    return url if isinstance(url, str) and url else fallback


async def claim_launch(spec: launch.LaunchSpec, secret: str, service_url: str, service_name: str,
                       *, timeout: float = CLAIM_TIMEOUT) -> None:
    """Ask the broker to let the hub use this launch, once. Raises LaunchRefused with the broker's
    reason, or saying that it did not answer (broker launches fail closed)."""
    if not service_url:
        raise launch.LaunchRefused("the hub does not know the execution broker's URL to confirm it")
    url = claim_url(service_url, service_name, spec.session)
    body = {"user": spec.owner, "server": spec.server_name, "nonce": spec.nonce}
    token = launch.launch_token(secret, spec.session, spec.nonce)
    headers = {"Authorization": f"{launch.LAUNCH_SCHEME} {token}"}
    try:
        # an internal URL: never through the proxies of the hub's environment
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as e:
        log.warning("The execution broker did not answer the claim at %s: %s", url, e)
        raise launch.LaunchRefused(
            f"the execution broker did not answer to confirm the launch ({type(e).__name__}); broker "
            "sessions cannot start until it does"
        ) from None
    if response.status_code == 204:
        return
    try:
        reason = str(response.json().get("message") or "")
    except (ValueError, AttributeError):
        reason = ""
    if response.status_code == 409 and reason:
        raise launch.LaunchRefused(reason)
    log.warning("The execution broker answered the claim at %s with %d: %s", url,
                response.status_code, reason or response.text[:200])
    raise launch.LaunchRefused(
        f"the execution broker did not confirm the launch (HTTP {response.status_code}"
        + (f": {reason}" if reason else "") + ")"
    )


def default_url_for(spec: launch.LaunchSpec) -> str:
    path = launch.notebook_path(spec)
    return f"/lab/tree/{quote(path)}" if path else "/lab"


def preload_python(spawner: Any, settings: ExecPlanner) -> str:
    if settings.preload_python:
        return settings.preload_python
    # a spawner with an image runs the server in a container, where the hub's Python does not exist
    return "python3" if _has(spawner, "image") else sys.executable


def _has(spawner: Any, name: str) -> bool:
    has_trait = getattr(spawner, "has_trait", None)
    return bool(has_trait(name)) if callable(has_trait) else hasattr(spawner, name)


def refuse(spawner: Any, error: launch.LaunchRefused) -> Exception:
    """The exception that makes the hub refuse this spawn with ``error``'s reason."""
    message = (
        f"The server {spawner.user.name}/{spawner.name} was not started: {error}. Servers for "
        "execution broker sessions are started by the broker; start an ordinary server without "
        "execplanner_* options."
    )
    exc: Exception
    try:
        from jupyterhub.spawner import SpawnException  # JupyterHub 6
    except ImportError:  # JupyterHub 5: an HTTPError with the message the hub shows
        from tornado.web import HTTPError

        exc = HTTPError(403, message)
    else:
        exc = SpawnException(message, reason="execplanner", status_code=403)
    exc.jupyterhub_message = message  # type: ignore[attr-defined]  # the progress event's text
    return exc


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value


def restore(spawner: Any) -> None:
    """Undo what a previous launch applied to this spawner object, where nothing changed it since."""
    wrapper = vars(spawner).get(_REAPPLY)
    if getattr(wrapper, "execplanner_reapply", False):
        delattr(spawner, _REAPPLY)  # a start that failed before KubeSpawner loaded the profile
    saved = getattr(spawner, _SAVED, None)
    if saved is None:
        return
    for name, (original, applied) in saved.items():
        if getattr(spawner, name) == applied:
            setattr(spawner, name, original)
    delattr(spawner, _SAVED)


def _remember(spawner: Any, originals: dict[str, Any]) -> None:
    saved = {
        name: (original, _copy(getattr(spawner, name)))
        for name, original in originals.items()
        if getattr(spawner, name) != original
    }
    setattr(spawner, _SAVED, saved)


def plan_for(spawner: Any, spec: launch.LaunchSpec, secret: str, settings: ExecPlanner,
             service_url: str, service_name: str) -> PreloadPlan:
    from .platform.netguard import snapshot_paths

    notebook_dir = getattr(spawner, "notebook_dir", "") or ""
    if notebook_dir and hasattr(spawner, "format_string"):
        notebook_dir = spawner.format_string(notebook_dir)
    # the hub's own URLs (the preload refuses their hosts, except for this broker's snapshots)
    hub = getattr(spawner, "hub", None)
    hub_urls = (service_url, getattr(hub, "api_url", ""), getattr(spawner, "public_hub_url", ""),
                getattr(spawner, "public_url", ""), settings.public_url)
    base_url = getattr(hub, "base_url", None)
    base_url = base_url if isinstance(base_url, str) else "/hub/"
    return PreloadPlan(
        spec=spec,
        report_url=report_url(service_url, service_name, spec.session) if service_url else "",
        report_token=launch.report_token(secret, spec.session),
        max_notebook_size=settings.preload_max_notebook_size,
        max_data_size=settings.preload_max_data_size,
        timeout=settings.preload_timeout,
        install_timeout=float(settings.preload_start_timeout),
        allow_options=settings.requirements_allow_options,
        pip_extra_args=tuple(settings.pip_extra_args),
        installer=settings.preload_installer,
        root_dir=notebook_dir,
        data_denied_sources=tuple(settings.data_denied_sources),
        data_allowed_sources=tuple(settings.data_allowed_sources),
        fetch_allowed_hosts=tuple(settings.fetch_allowed_hosts),
        hub_urls=tuple(dict.fromkeys(u for u in hub_urls if isinstance(u, str) and u)),
        snapshot_paths=snapshot_paths(base_url, service_name, settings.public_url),
        requirements_max_lines=settings.requirements_max_lines,
    )


def read_launch(spawner: Any, secret: str) -> launch.LaunchSpec | None:
    """The signed launch in ``spawner.user_options``, or None for an ordinary server. Raises the
    hub's refusal (see :func:`refuse`) for options that are not the broker's."""
    try:
        return launch.from_user_options(
            spawner.user_options, secret, user=spawner.user.name, server_name=spawner.name
        )
    except launch.LaunchRefused as e:
        log.warning("Refusing execplanner options for %s/%s: %s", spawner.user.name, spawner.name, e)
        raise refuse(spawner, e) from None


def apply_spec(spawner: Any, spec: launch.LaunchSpec, secret: str, *, settings: ExecPlanner,
               service_url: str = "", service_name: str = "execplanner") -> None:
    """Apply a launch (read and claimed) to the spawner."""
    originals = {name: _copy(getattr(spawner, name)) for name in _CHANGED if _has(spawner, name)}
    plan = plan_for(spawner, spec, secret, settings, service_url, service_name)
    _apply(spawner, spec, plan, settings)
    _remember(spawner, originals)
    if callable(getattr(type(spawner), _REAPPLY, None)):
        _reapply_after_profile(spawner, spec, plan, settings, originals)


def apply_launch(
    spawner: Any,
    secret: str,
    *,
    settings: ExecPlanner,
    service_url: str = "",
    service_name: str = "execplanner",
) -> launch.LaunchSpec | None:
    """Apply the signed launch in ``spawner.user_options`` without claiming it (the hook claims it
    first); its spec, or None for an ordinary server. Raises the hub's refusal (see :func:`refuse`)
    for options that are not the broker's."""
    restore(spawner)
    spec = read_launch(spawner, secret)
    if spec is not None:
        apply_spec(spawner, spec, secret, settings=settings, service_url=service_url,
                   service_name=service_name)
    return spec


def _apply(spawner: Any, spec: launch.LaunchSpec, plan: PreloadPlan, settings: ExecPlanner) -> None:
    """Set the launch's resources, image, preload command and environment on the spawner."""
    if spec.cores > 0:
        for name in ("cpu_limit", "cpu_guarantee"):
            if _has(spawner, name):
                setattr(spawner, name, float(spec.cores))
    if spec.memory > 0:
        for name in ("mem_limit", "mem_guarantee"):
            if _has(spawner, name):
                setattr(spawner, name, int(spec.memory) * 1024**3)
    if spec.accelerators and _has(spawner, "extra_resource_limits"):
        limits = dict(spawner.extra_resource_limits or {})
        limits.update({name: str(count) for name, count in spec.accelerators.items()})
        spawner.extra_resource_limits = limits
    if spec.image and _has(spawner, "image"):
        spawner.image = spec.image
    _mount_collections(spawner, spec, settings)
    document = plan.to_json()
    if callable(getattr(spawner, "_expand_env", None)):
        # KubeSpawner runs every environment value through str.format ({username}, ...): the plan is
        # JSON, so its braces are doubled to come out as they are
        document = document.replace("{", "{{").replace("}", "}}")
    spawner.environment = {**(spawner.environment or {}), launch.PRELOAD_ENV: document}
    original = list(spawner.cmd or []) or list(DEFAULT_COMMAND)
    if original[1:4] != ["-m", PRELOAD_MODULE, "--"]:  # not wrapped yet
        spawner.cmd = [preload_python(spawner, settings), "-m", PRELOAD_MODULE, "--", *original]
    spawner.default_url = default_url_for(spec)
    spawner.http_timeout = max(int(spawner.http_timeout or 0), settings.preload_start_timeout)


def _mount_collections(spawner: Any, spec: launch.LaunchSpec, settings: ExecPlanner) -> None:
    """KubeSpawner (a spawner with ``volumes`` and ``volume_mounts``): each local data collection of
    the launch that has a ``volume`` is mounted read-only at its ``path``, where the preload links
    it from the session's folder. A collection no longer configured is left out (and logged)."""
    wanted = {d.collection for d in spec.data if d.mode == "local" and d.collection}
    if not wanted or not (_has(spawner, "volumes") and _has(spawner, "volume_mounts")):
        return
    collections = settings.data_collections or {}
    volumes, mounts = _copy(spawner.volumes or []), _copy(spawner.volume_mounts or [])
    for name in sorted(wanted):
        entry = collections.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("volume"), dict):
            if not isinstance(entry, dict):
                log.warning("Session %s: data collection %r is not configured", spec.session, name)
            continue
        volume_name = DATA_VOLUME_PREFIX + "".join(c if c.isalnum() else "-" for c in name.lower())[:40]
        volume = {**entry["volume"], "name": volume_name}
        mount = {"name": volume_name, "mountPath": entry["path"], "readOnly": True}
        if isinstance(volumes, dict):
            volumes[volume_name] = volume
        elif all(v.get("name") != volume_name for v in volumes if isinstance(v, dict)):
            volumes.append(volume)
        if isinstance(mounts, dict):
            mounts[volume_name] = mount
        elif all(m.get("name") != volume_name for m in mounts if isinstance(m, dict)):
            mounts.append(mount)
    spawner.volumes, spawner.volume_mounts = volumes, mounts


def _reapply_after_profile(spawner: Any, spec: launch.LaunchSpec, plan: PreloadPlan,
                           settings: ExecPlanner, originals: dict[str, Any]) -> None:
    """Make this start's ``load_user_options`` (KubeSpawner's, called in ``start()``) apply the
    launch again after the profile, once; what the next start restores stays ``originals``."""
    load = getattr(type(spawner), _REAPPLY)

    async def load_user_options() -> None:
        delattr(spawner, _REAPPLY)
        result = load(spawner)
        if inspect.isawaitable(result):
            await result
        _apply(spawner, spec, plan, settings)
        _remember(spawner, originals)

    load_user_options.execplanner_reapply = True  # type: ignore[attr-defined]
    setattr(spawner, _REAPPLY, load_user_options)


def make_pre_spawn_hook(
    secret: str,
    *,
    service_url: str = "",
    service_name: str = "execplanner",
    settings: ExecPlanner | None = None,
    previous: Hook | None = None,
    claim: Claim = claim_launch,
) -> Hook:
    """The broker's ``pre_spawn_hook``. ``previous`` (the admin's hook, sync or async) runs first.
    ``settings`` default to the hub's ``c.ExecPlanner`` settings, read at each spawn. A signed launch
    is claimed with ``claim`` (from the broker at its URL in the hub's services, else ``service_url``)
    before it is applied."""
    # calling setup_execplanner twice must not chain our hook to itself
    while previous is not None and hasattr(previous, "execplanner_previous"):
        previous = previous.execplanner_previous

    async def pre_spawn_hook(spawner: Any) -> None:
        restore(spawner)  # before the admin's hook, which may set what a previous launch changed
        if previous is not None:
            result = previous(spawner)
            if inspect.isawaitable(result):
                await result
        spec = read_launch(spawner, secret)
        if spec is None:
            return  # an ordinary server
        url = service_url_for(spawner, service_name, service_url)
        try:
            await claim(spec, secret, url, service_name)
        except launch.LaunchRefused as e:
            log.warning("Refusing the launch of %s/%s: %s", spawner.user.name, spawner.name, e)
            raise refuse(spawner, e) from None
        current = settings if settings is not None else ExecPlanner(config=spawner.config)
        apply_spec(spawner, spec, secret, settings=current, service_url=url, service_name=service_name)

    pre_spawn_hook.execplanner_previous = previous  # type: ignore[attr-defined]
    return pre_spawn_hook
