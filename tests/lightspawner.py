"""A spawner that starts nothing heavy, for tests and benchmarks with hundreds of running servers.

``LightSpawner.start()`` returns the URL of one tiny HTTP server shared by every server of the hub (it
is started in the hub's process, on its event loop, by the first start), which answers ``200`` to any
request on any path, JupyterHub's readiness check (``GET <server url>/api``) included, with the hub's
version in ``X-JupyterHub-Version`` as a real single-user server does. So a server is "running" as far
as the hub, its REST API and the broker can tell, without a process of its own. ``poll()`` is None
(running) from a start until its stop; a hub restarted on the same database sees its servers as stopped
and forgets them, since the spawner keeps no state.

In a hub's config (``RealHub.start(..., extra_config=light_config())``)::

    import sys; sys.path.insert(0, "<repository>/tests")
    from lightspawner import LightSpawner
    c.JupyterHub.spawner_class = LightSpawner
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from jupyterhub import __version__ as hub_version
from jupyterhub.spawner import Spawner
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

TESTS = Path(__file__).resolve().parent


class _Alive(web.RequestHandler):
    """200 to any method on any path."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def prepare(self) -> None:
        self.set_header("X-JupyterHub-Version", hub_version)
        self.set_header("Content-Type", "application/json")
        self.finish(b"{}" if self.request.method != "HEAD" else None)


class LightSpawner(Spawner):
    """Every server is the one shared tiny HTTP server; nothing is started or stopped."""

    _shared_url: ClassVar[str | None] = None
    _shared_server: ClassVar[HTTPServer | None] = None

    @classmethod
    def shared_url(cls) -> str:
        """The shared server's URL, starting it on the running event loop the first time."""
        if LightSpawner._shared_url is None:
            sockets = bind_sockets(0, "127.0.0.1")
            server = HTTPServer(web.Application([(r".*", _Alive)], log_function=lambda _h: None))
            server.add_sockets(sockets)
            port = sockets[0].getsockname()[1]
            LightSpawner._shared_server, LightSpawner._shared_url = server, f"http://127.0.0.1:{port}"
        return LightSpawner._shared_url

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._running = False

    async def start(self) -> str:
        url = self.shared_url()
        self._running = True
        return url

    async def stop(self, now: bool = False) -> None:
        self._running = False

    async def poll(self) -> int | None:
        return None if self._running else 0


def light_config() -> str:
    """The lines of a ``jupyterhub_config.py`` that make the hub use :class:`LightSpawner`."""
    return (
        "\nimport sys as _sys\n"
        f"_sys.path.insert(0, {str(TESTS)!r})\n"
        "from lightspawner import LightSpawner\n"
        "c.JupyterHub.spawner_class = LightSpawner\n"
    )
