"""The custom scopes the broker checks, and who gets them by default.

``setup_execplanner`` registers these with the hub (``c.JupyterHub.custom_scopes``) and adds the first
two to the ``user`` role, so a token a user makes with no explicit scopes can ask for offers and accept
one. Admins of the hub (and holders of the admin scope) see and change everybody's sessions.
"""

REQUEST = "custom:execplanner:request"
SESSIONS = "custom:execplanner:sessions"
ADMIN = "custom:execplanner:admin"

DESCRIPTIONS = {
    REQUEST: "Ask the execution broker for offers, and read your own offersets and sessions.",
    SESSIONS: "Accept, reject and cancel your own offers and sessions on the execution broker.",
    ADMIN: "Read and change every user's offersets and sessions on the execution broker.",
}

USER_SCOPES = (REQUEST, SESSIONS)

# What the service's own token needs from the hub (see README "Permissions").
SERVICE_SCOPES = (
    "list:users",  # list users with running servers, to subtract what they hold from capacity
    "read:users:name",
    "read:servers",  # read those servers' models (profile in user_options) and sessions' progress
    "start:servers",  # start a session's named server (JupyterHub 6)
    "delete:servers",  # stop it when the session ends or is cancelled (JupyterHub 6)
)

# JupyterHub 5 has no start:servers / delete:servers: its "servers" scope starts and stops servers
SERVICE_SCOPES_JUPYTERHUB_5 = ("list:users", "read:users:name", "read:servers", "servers")


def service_scopes(jupyterhub_major: int) -> tuple[str, ...]:
    """The service role's scopes on a hub of this major version."""
    return SERVICE_SCOPES if jupyterhub_major >= 6 else SERVICE_SCOPES_JUPYTERHUB_5


def link_service(name: str, client: str) -> str:
    """The hub service that a link client (``ExecPlanner.link_clients``) of the broker service
    ``name`` is registered as (docs/linked-accounts.md)."""
    return f"{name}-link-{client}"
