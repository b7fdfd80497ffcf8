"""``POST sessions/{uuid}/launch``: the hub's pre-spawn hook claims a launch before applying it.

The body is ``{"user": <hub user name>, "server": <server name>, "nonce": <the launch's nonce>}`` and
the header ``Authorization: execplanner-launch <launch_token(secret, uuid, nonce)>``: only the hub and
the broker hold the launch secret, so a user who read a launch's ``user_options`` cannot claim it.

- ``204``: the session exists, is that user's server, is PREPARING, and the nonce is the one the
  driver issued for its current start and was not used yet; it is now used
  (:meth:`~jupyterhub_execplanner.sessions.launches.LaunchStore.claim`, atomic);
- ``409`` with the reason (``this launch was already used``, ``the session is CANCELLED``, ...),
  which the hook puts in its refusal;
- ``403``: no launch secret here, or the token is not right; ``400``: a body that is not the above.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from .. import launch
from ..sessions.launches import LaunchStore, refusal
from .handlers import BaseHandler


def parse_claim(doc: Any) -> tuple[str, str, str]:
    """``(user, server, nonce)`` of a claim body; ValueError naming the field if wrong."""
    if not isinstance(doc, dict):
        raise ValueError('The body must be an object: {"user": ..., "server": ..., "nonce": ...}.')
    values = []
    for key in ("user", "server", "nonce"):
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string.")
        values.append(value)
    return values[0], values[1], values[2]


class LaunchClaimHandler(BaseHandler):
    """``POST sessions/{uuid}/launch``: the hub claims a launch (see the module's docstring)."""

    endpoint = "launch"

    async def prepare(self) -> None:
        pass  # authorized by the launch token: no hub lookup

    @property
    def launches(self) -> LaunchStore | None:
        """The phase driver's launches (what it issued); None when this broker starts no servers."""
        driver = getattr(self.config, "driver", None)
        return driver.launches if driver is not None else None

    def post(self, uuid: str) -> None:
        try:
            user, server, nonce = parse_claim(self.body())
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from e
        secret = self.settings.get("launch_secret")
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if (
            not secret
            or scheme.lower() != launch.LAUNCH_SCHEME
            or not launch.check_launch_token(secret, uuid, nonce, token.strip())
        ):
            raise web.HTTPError(
                403, "Launch claims need the launch token made with this broker's launch secret: "
                f"'Authorization: {launch.LAUNCH_SCHEME} <token>'."
            )
        reason = refusal(self.manager.record(uuid), user, server)
        if reason is None:
            reason = (self.launches.claim(uuid, nonce, self.manager.clock()) if self.launches is not None
                      else "this broker does not start servers (its phase driver is off)")
        if reason is not None:
            self.config.log.info("Launch of session %s for %s/%s refused: %s", uuid, user, server, reason)
            raise web.HTTPError(409, reason)
        self.config.log.info("Launch of session %s claimed by the hub for %s/%s", uuid, user, server)
        self.set_status(204)
        self.finish()


launch_handlers: list[tuple[str, type[BaseHandler]]] = [
    (r"sessions/([^/]+)/launch/?", LaunchClaimHandler),
]
