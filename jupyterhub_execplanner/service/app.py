"""The broker as a hub-managed service: a traitlets Application serving tornado handlers.

The hub starts it with ``python -m jupyterhub_execplanner.service --ExecPlanner.hub_config_file=...``
and the usual ``JUPYTERHUB_*`` environment. It loads the hub's config file to learn the spawner's
profiles and its own settings, rebuilds its calendar from the database, and serves the API under
``$JUPYTERHUB_SERVICE_PREFIX``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import signal
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from traitlets import Instance, Int, Unicode, default
from traitlets.config import Application

from .. import launch
from .._version import __version__
from ..broker import Broker
from ..federation.peers import Federation
from ..links.linker import Linker, linker_for
from ..model.messages import utcnow
from ..planning.policy import PlannerPolicy
from ..platform.calendar import Calendar
from ..platform.capacity import CapacityProvider, HostCapacity, StaticCapacity
from ..platform.slurmprofiles import is_slurm_hub
from ..platform.slurmsetup import connect as slurm_connect
from ..platform.slurmsetup import slurm_platform
from ..platform.sources import is_kubespawner, profiles_for_hub
from ..platform.throughput import Throughput
from ..platform.usage import external_usage, running_servers
from ..sessions.manager import SessionManager
from ..sessions.snapshots import SnapshotStore
from ..sessions.store import Store, StoreUnavailable
from ..worker.driver import PhaseDriver
from ..worker.hubapi import HubAPI
from . import scopes
from .degraded import RECHECK, degraded_app, recovery_steps
from .handlers import NotFoundHandler, default_handlers
from .launches import launch_handlers
from .links import links_handlers
from .metrics import Metrics
from .settings import ExecPlanner, misplaced_settings
from .snapshots import snapshot_handlers
from .stopping import STOP_TIMEOUT, bounded, drop_connections, shut
from .vosi import vosi_handlers

_CAPABILITY = re.compile(r"(/snapshots/)[A-Za-z0-9_-]{20,}")
MAX_STREAMED_BODY = 256 * 1024 * 1024  # bytes read (and dropped) before a connection is closed
BODY_TIMEOUT = 120.0  # seconds a client may take to send a body


class ExecPlannerApp(Application, ExecPlanner):
    """The IVOA Execution Broker service of a JupyterHub."""

    name = "jupyterhub-execplanner"
    version = __version__
    description = "Answer IVOA Execution Broker requests from this hub's profiles and capacity."
    linker: Linker | None = None  # linked accounts on peers (made with the platform)

    aliases = {
        "hub-config": "ExecPlanner.hub_config_file",
        "db-url": "ExecPlanner.db_url",
        "ip": "ExecPlannerApp.ip",
        "port": "ExecPlannerApp.port",
        "log-level": "Application.log_level",
    }

    ip = Unicode(help="Address to listen on. Default: the host of $JUPYTERHUB_SERVICE_URL.").tag(
        config=True
    )
    port = Int(help="Port to listen on. Default: the port of $JUPYTERHUB_SERVICE_URL.").tag(
        config=True
    )
    service_prefix = Unicode(
        help="URL prefix the service is routed under. Default: $JUPYTERHUB_SERVICE_PREFIX."
    ).tag(config=True)

    @default("ip")
    def _default_ip(self) -> str:
        return (
            urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")).hostname
            or "127.0.0.1"
        )

    @default("port")
    def _default_port(self) -> int:
        return (
            urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")).port
            or 10101
        )

    @default("service_prefix")
    def _default_service_prefix(self) -> str:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.service_name}/")
        return prefix if prefix.endswith("/") else prefix + "/"

    manager = Instance(SessionManager, allow_none=True)

    @property
    def sessions(self) -> SessionManager:
        """The session manager, which ``initialize()`` makes before anything else uses it."""
        if self.manager is None:
            raise RuntimeError("the broker service is not initialized yet")
        return self.manager

    driver = Instance(PhaseDriver, allow_none=True)
    provider = Instance(CapacityProvider, allow_none=True)
    kube: Any = None  # the KubeCapacity when capacity_provider resolves to "kubernetes"
    slurm: Any = None  # the SlurmCapacity when capacity_provider resolves to "slurm"
    profile_source = Unicode("")

    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)
        if self.hub_config_file:
            self.load_config_file(self.hub_config_file)
        misplaced = misplaced_settings(self.config)  # setup_execplanner stops the hub for these
        if misplaced:
            raise ValueError(misplaced[0])
        self.launch_secret = launch.secret_from_env()
        self.degraded: str | None = None
        try:
            self.init_platform()
        except StoreUnavailable as e:  # the hub stays up; serve() tries the database again
            self._close_store()
            self.degraded = str(e)
            self.log.error(recovery_steps(_safe_url(self.db_url), self.degraded))
            self.tornado_app = degraded_app(self._log_request)
        else:
            self.init_tornado()

    def resolve_capacity_provider(self) -> str:
        """``capacity_provider`` with ``auto`` resolved (see the setting's help)."""
        if self.capacity_provider != "auto":
            return self.capacity_provider
        if is_kubespawner(self.config) and not self.capacity:
            return "kubernetes"
        if is_slurm_hub(self.config) and not self.capacity:
            return "slurm"
        return "static" if self.capacity else "host"

    def init_platform(self) -> None:
        kind = self.resolve_capacity_provider()
        if kind == "kubernetes":
            profiles, totals = self._kubernetes_platform()
        elif kind == "slurm":
            self.slurm, profiles, self.profile_source = slurm_platform(self, self.config)
            totals = self.slurm.totals()
        else:
            if kind == "static" and not self.capacity:
                raise ValueError(
                    "c.ExecPlanner.capacity_provider is 'static' but c.ExecPlanner.capacity is "
                    "empty: give the totals per pool, or use 'host' or 'kubernetes'."
                )
            if kind == "static":
                self.provider = StaticCapacity(self.capacity)
            else:
                self.provider = HostCapacity(
                    reserve_cores=self.reserve_cores, reserve_memory=self.reserve_memory
                )
            totals = self.provider.totals()
            first_pool = totals.get("default") or next(iter(totals.values()))
            profiles, self.profile_source = profiles_for_hub(
                self.config,
                self.profiles,
                first_pool,
                prepare=self.duration("prepare_time"),
                max_duration=self.duration("max_duration"),
            )
            missing = sorted({p.pool for p in profiles} - set(totals))
            if missing:
                raise ValueError(
                    f"Profiles use the pool(s) {missing}, which c.ExecPlanner.capacity does not "
                    f"give: add them to capacity (it has {sorted(totals)})."
                )
        now = utcnow()
        calendar = Calendar(
            totals,
            origin=now,
            horizon=self.duration("planning_horizon"),
            resolution=self.duration("calendar_resolution"),
        )
        policy = PlannerPolicy(
            max_offers=self.max_offers,
            default_duration=self.duration("default_duration"),
            max_duration=self.duration("max_duration"),
            releasing=self.duration("releasing_time"),
            prices=self.price_book(),  # issue 6: costs on every offer
            data=self.data_config(),  # issue 6: data collections, bandwidths, source policy
        )
        self.store = Store(self.db_url, background_checkpoints=True)  # serve() checkpoints
        self.snapshots = SnapshotStore(self.store.engine)
        self.manager = SessionManager(
            self.store, profiles, calendar, policy, offer_expiry=self.duration("offer_expiry"),
            limits=self.user_limits(),
        )
        if self.kube is not None:  # the cluster's totals reach the calendar as they change
            self.manager.health, self.manager.node_fit = self.kube.stale_reason, self.kube.node_fit
            self.kube.on_change = calendar.set_totals
        if self.slurm is not None:  # totals, other jobs, start facts and reservations (docs/slurm.md)
            slurm_connect(self.slurm, self.manager, self)
        held = self.manager.load()
        self.federation = self.make_federation()
        self.linker = self.make_linker()
        self.broker = Broker(self.manager, self.federation, self.linker)
        # issue 15: DataLink documents read before planning; downloads measured per source host
        self.broker.datalink = self.datalink_resolver()
        self.broker.access = Throughput(self.store.engine, half_life=self.throughput_half_life)
        self.started = now
        self.log.info(
            "Offering %d profile(s) from %s; %d session(s) hold capacity; database %s",
            len(profiles),
            self.profile_source,
            held,
            _safe_url(self.db_url),
        )

    def make_federation(self) -> Federation:
        """Peers to ask and relayed sessions to serve (see docs/federation.md)."""
        federation = Federation(
            self.peer_specs(),
            broker_id=self.sessions.relayed.broker_id,
            peer_timeout=self.peer_timeout,
            max_hops=self.max_hops,
        )
        for peer in federation.peers:
            self.log.info("Peer %s at %s, asked with %s", peer.name, peer.url, peer.spec.auth)
        return federation

    def make_linker(self) -> Linker | None:
        """Linked accounts on the peers that have a ``link`` (docs/linked-accounts.md); None without."""
        return linker_for(self.federation.peers, self.store, self.sessions.clock, os.environ,
                          timeout=self.peer_timeout + 5.0, log=self.log)

    def _kubernetes_platform(self) -> tuple[list[Any], dict[str, dict[str, float]]]:
        """The profiles and a KubeCapacity over their pools (empty until the reflectors list)."""
        from ..platform.kubecapacity import pools_for_profiles
        from ..platform.kubewatch import KubeCapacity

        profiles, self.profile_source = profiles_for_hub(
            self.config,
            self.profiles,
            {"cores": 0.0, "memory": 0.0},
            prepare=self.duration("prepare_time"),
            max_duration=self.duration("max_duration"),
        )
        pools = pools_for_profiles(profiles)
        self.kube = self.provider = KubeCapacity(
            pools, kube_config=self.kube_config, stale_after=self.kube_stale_after
        )
        self.log.info(
            "Capacity: the Kubernetes cluster%s, pools %s",
            f" of {self.kube_config}" if self.kube_config else "",
            ", ".join(f"{p.name} ({dict(p.node_selector) or 'any node'})" for p in pools),
        )
        return profiles, self.kube.totals()

    def init_tornado(self) -> None:
        prefix = self.service_prefix
        self.hub_auth = HubOAuth(parent=self, cache_max_age=60)
        self.metrics = Metrics(self.sessions.phase_counts)
        handlers: list[Any] = [(prefix.rstrip("/"), default_handlers[0][1])]
        handlers += [
            (url_path_join(prefix, pattern) if pattern else prefix, handler)
            for pattern, handler in default_handlers
        ]
        handlers += [(url_path_join(prefix, pattern), handler) for pattern, handler in snapshot_handlers]
        handlers += [(url_path_join(prefix, pattern), handler) for pattern, handler in launch_handlers]
        handlers += [(url_path_join(prefix, pattern), handler) for pattern, handler in vosi_handlers]
        handlers += [(url_path_join(prefix, pattern), handler) for pattern, handler in links_handlers]
        handlers.append((url_path_join(prefix, ".*"), NotFoundHandler))
        self.tornado_app = web.Application(
            handlers,
            hub_auth=self.hub_auth,
            manager=self.manager,
            broker=self.broker,
            snapshots=self.snapshots,
            execplanner=self,
            metrics=self.metrics,
            service_prefix=prefix,
            launch_secret=self.launch_secret,
            linker=self.linker,
            # on a hub other hubs link to: the clients whose tokens links/revoke revokes
            link_client_names=[scopes.link_service(self.service_name, c["name"]) for c in self.link_clients],
            hubapi=HubAPI.from_env() if self.link_clients else None,
            cookie_secret=os.urandom(32),
            default_handler_class=NotFoundHandler,
            log_function=self._log_request,
        )

    def _log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        if status >= 400:
            level = logging.WARNING
        elif handler.request.method == "GET":
            level = logging.DEBUG
        else:
            level = logging.INFO
        # the logger passes everything to its handlers, which filter at log_level: compare here, so
        # the hot path does not build a record that nothing prints
        if level < cast(int, self.log_level):
            return
        self.log.log(
            level,
            "%d %s %s %.1fms",
            status,
            handler.request.method,
            _CAPABILITY.sub(r"\1<token>", handler.request.path),  # a snapshot's token is a credential
            1000 * handler.request.request_time(),
        )

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        asyncio.run(self.serve())

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Listen and run until SIGINT or SIGTERM (the hub starts services with SIGINT ignored)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        server = HTTPServer(
            self.tornado_app,
            xheaders=True,
            # handlers read bodies as a stream and answer 413 past their own limits; past this one
            # (far larger) the connection is closed
            max_body_size=max(MAX_STREAMED_BODY, 8 * self.max_body_size, 4 * self.snapshot_max_size),
            body_timeout=BODY_TIMEOUT,
        )
        server.listen(self.port, self.ip)
        if self.degraded is not None:
            if ready is not None:
                ready.set()
            try:
                recovered = await self._await_database(stop)
            finally:
                if self.degraded is not None:
                    await shut(server)
            if not recovered:
                return
            # new requests reach the broker itself; kept-alive connections are closed, since tornado
            # keeps serving each with the application it was opened to
            server.request_callback = self.tornado_app
            await drop_connections(server)
        # what start-up built lives as long as the process: keep it out of full collections,
        # which otherwise stall every request in flight for tens of milliseconds
        gc.collect()
        gc.freeze()
        expiry = PeriodicCallback(self._expire, 1000)
        expiry.start()
        checkpoints = asyncio.create_task(self._checkpoint_loop())
        if self.kube is not None:  # pods of every server are in the cluster's requests already
            await self.kube.start()
        if self.slurm is not None:  # so are the jobs of every server on Slurm
            await self.slurm.start()
        polling = self.hub_poll_interval > 0 and self.kube is None and self.slurm is None
        poller = asyncio.create_task(self.poll_hub()) if polling else None
        self.driver = self.make_driver()
        if self.driver is not None:
            await self.driver.start()
        self.log.info(
            "Execution broker listening on http://%s:%d%s", self.ip, self.port, self.service_prefix
        )
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            expiry.stop()
            checkpoints.cancel()
            if poller is not None:
                poller.cancel()
            # each part gets a bounded time to stop: a stuck one (a hub call that does not end) must
            # not keep the service from stopping, nor its port from being free for the next start
            parts = [p for p in (self.driver, self.kube, self.slurm) if p is not None]
            for part in parts:
                await bounded(part.stop(), STOP_TIMEOUT, type(part).__name__, self.log)
            await bounded(shut(server), STOP_TIMEOUT, "the HTTP server", self.log)
            self.store.close()

    async def _await_database(self, stop: asyncio.Event) -> bool:
        """Try the database every RECHECK seconds until the broker can start (True) or the service
        is stopped (False)."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), RECHECK)
                return False
            except asyncio.TimeoutError:
                pass
            try:
                self.init_platform()
            except StoreUnavailable as e:
                self._close_store()
                self.log.warning("The broker's database still cannot be used: %s", e)
                continue
            self.degraded = None
            self.init_tornado()
            self.log.info("The broker's database can be used again: the broker is starting.")
            return True

    def _close_store(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()

    def _expire(self) -> None:
        """The periodic loop: expire offers that are due, and delete expired snapshots."""
        try:
            self.sessions.expire_due(self.sessions.clock())
            self.snapshots.expire(self.sessions.clock())
        except StoreUnavailable as e:  # a read-only or busy database: the next pass tries again
            self.log.debug("Expiry skipped: %s", e)

    def make_driver(self) -> PhaseDriver | None:
        """The phase driver that runs accepted sessions, or None when it is turned off."""
        if self.driver_interval <= 0:
            self.log.warning("ExecPlanner.driver_interval is 0: accepted sessions stay ACCEPTED.")
            return None
        hub = HubAPI.from_env()
        if not self.launch_secret or hub is None:
            missing = "$" + launch.SECRET_ENV if not self.launch_secret else "the hub's API URL or token"
            self.log.warning(
                "No %s: this broker does not start servers; accepted sessions go FAILED. "
                "Enable the broker with setup_execplanner(c) in the hub's config.",
                missing,
            )
        return PhaseDriver(
            self.sessions,
            hub,
            self.launch_secret,
            interval=self.driver_interval,
            max_spawns=self.max_concurrent_spawns,
            spawn_timeout=self.spawn_timeout,
            logger=self.log,
        )

    async def _checkpoint_loop(self, interval: float = 2.0) -> None:
        """Fold SQLite's write-ahead log into the database off the request path (see Store)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.store.checkpoint)
            except Exception as e:  # a busy database is retried at the next interval
                self.log.debug("Checkpoint skipped: %s", e)

    async def poll_hub(self) -> None:
        """Keep the calendar's view of what the hub's other servers hold up to date: every running or
        pending server of every active user (all pages of ``GET users?state=active``) except those of
        this broker's sessions in flight, which the calendar holds already. A failed read keeps the
        last known usage; nothing here stops the service."""
        driver_hub = self.driver.hub if self.driver is not None else None
        hub = driver_hub or HubAPI.from_env()  # one client with the driver when there is one
        if hub is None:
            self.log.info("No hub API URL or token: not reading the hub's running servers.")
            return
        try:
            while True:
                try:
                    servers = running_servers(await hub.active_users())
                    each: list[tuple[str, str, Mapping[str, float]]] = []
                    usage = external_usage(
                        servers,
                        self.sessions.profiles,
                        self.server_footprint,
                        held=self.sessions.held_servers(),
                        each=each,  # what a NO for lack of room names
                    )
                    pools = {p.pool for p in self.sessions.profiles}
                    self.sessions.set_external_usage(
                        {pool: usage.get(pool, {}) for pool in pools}, each
                    )
                except Exception as e:  # the hub's answer or anything else: try again next time
                    self.log.warning("Could not read the hub's running servers: %s", e)
                    self.log.debug("The failed read of the hub's running servers", exc_info=True)
                await asyncio.sleep(self.hub_poll_interval)
        finally:
            if hub is not driver_hub:
                await hub.close()


def _safe_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url


def main(argv: Any = None) -> None:
    ExecPlannerApp.launch_instance(argv)
