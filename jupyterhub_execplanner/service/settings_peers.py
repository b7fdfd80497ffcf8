"""Federation: peers this hub asks too, as an aggregator. See docs/federation.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``. ``peers`` is checked against :data:`PEERS_SCHEMA` (its shape: the keys and
their types, with the fix in each message), then by ``federation.peerconfig.check_peers`` (exactly one
credential, names used once); the checked peers are kept for the service."""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Int, List, TraitError, validate

from .traits import CONFIG_SECTION, Duration, Settings, check_schema

PEERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "a list of peers like [{'name': 'hub-b', 'url': 'https://hub-b.example.org', "
    "'token_env': 'HUB_B_TOKEN'}]",
    "items": {
        "type": "object",
        "description": "a dict with 'name', 'url' and one of 'token', 'token_env' or 'forward_token' "
        "(or a 'link', or both)",
        "required": ["name", "url"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
                "description": "a short name of letters, digits, '.', '_' or '-' (it appears in "
                "messages), like 'hub-b'",
            },
            "url": {
                "type": "string",
                "pattern": r"^https?://[^/\s]+",
                "description": "the peer's hub or broker URL, like https://hub-b.example.org or "
                "https://hub-b.example.org/services/execplanner/",
            },
            "token": {
                "type": "string",
                "pattern": r"\S",
                "writeOnly": True,
                "description": "a token the peer's hub gave this hub (or use 'token_env')",
            },
            "token_env": {
                "type": "string",
                "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                "description": "the name of an environment variable that holds the token, like HUB_B_TOKEN",
            },
            "forward_token": {
                "type": "boolean",
                "description": "true (send each caller's own token on) or false",
            },
            "link": {
                "type": "object",
                "description": "how users link their own account on the peer: {'client_id': "
                "'service-hub-a-execplanner', 'secret_env': 'HUB_B_LINK_SECRET'}",
                "required": ["client_id"],
                "properties": {
                    "client_id": {"type": "string", "pattern": "^service-\\S+$",
                                  "description": "the OAuth client id the peer's admin registered, "
                                  "starting with 'service-'"},
                    "secret": {"type": "string", "pattern": r"\S", "writeOnly": True,
                               "description": "the client's secret (or use 'secret_env')"},
                    "secret_env": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                                   "description": "the environment variable that holds the secret"},
                    "redirect_uri": {"type": "string", "pattern": r"^https?://\S+/links/callback$",
                                     "description": "this broker's callback URL as the peer "
                                     "registered it (default: from the address it is reached at)"},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
}


LINK_CLIENTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "a list of hubs whose users may link their accounts here, like [{'name': 'hub-a', "
    "'client_id': 'service-hub-a-execplanner', 'secret_env': 'HUB_A_LINK_SECRET', 'redirect_uri': "
    "'https://hub-a.example.org/services/execplanner/links/callback'}]",
    "items": {
        "type": "object",
        "description": "a dict with 'name', 'client_id', 'redirect_uri' and one of 'secret' or 'secret_env'",
        "required": ["name", "client_id", "redirect_uri"],
        "properties": {
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$",
                     "description": "a short name of the other hub, like 'hub-a'"},
            "client_id": {"type": "string", "pattern": r"^service-\S+$",
                          "description": "the OAuth client id you give the other hub's broker, "
                          "starting with 'service-' (JupyterHub requires it)"},
            "secret": {"type": "string", "minLength": 16, "writeOnly": True,
                       "description": "the client secret, at least 16 characters (or use 'secret_env')"},
            "secret_env": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
                           "description": "the environment variable of the hub that holds the secret"},
            "redirect_uri": {"type": "string", "pattern": r"^https?://[^/\s]+/\S*links/callback$",
                             "description": "the other broker's callback URL, exactly, like "
                             "https://hub-a.example.org/services/execplanner/links/callback"},
        },
        "additionalProperties": False,
    },
}


class PeerSettings(Settings):
    """Federation

    With peers, this hub also aggregates: ``POST requests`` (and ``POST direct``) asks every peer at
    once and merges their offers with its own; see docs/federation.md."""

    peers = List(
        Dict(),
        default_value=[],
        help="""
        Other Execution Brokers this hub asks too (it then aggregates): a list of ``{"name": ...,
        "url": ..., <credential>}``. ``name`` appears in messages (letters, digits, ``.``, ``_``,
        ``-``); ``url`` is the peer's hub URL (``https://hub-b.example.org``) or broker URL (anything
        with ``/services/`` in its path, used as given). The credential is exactly one of:
        ``"token": "..."`` (a token the peer's hub gave this hub), ``"token_env": "NAME"`` (the name
        of an environment variable holding that token; ``setup_execplanner`` passes it from the hub's
        environment to the service's) or ``"forward_token": True`` (send each caller's own
        ``Authorization`` header on: only for peers that accept this hub's tokens). A peer may also
        have a ``"link": {"client_id": ..., "secret_env": ...}``: users can then link their own
        account on it and act there as themselves (the credential, if any, is used for those who
        have not; see docs/linked-accounts.md). ``POST requests``
        then asks every peer at once, waits at most ``peer_timeout``, and merges their offers with
        this hub's own; each peer's offer keeps its own URL, and accepting, reading or cancelling it
        here is done by the peer. Example::

            c.ExecPlanner.peers = [
                {"name": "hub-b", "url": "https://hub-b.example.org", "token_env": "HUB_B_TOKEN"},
            ]
        """,
    ).tag(config=True)

    peer_timeout = Duration(
        5,
        at_most=300,
        help="""
        How long this hub waits for each peer's answer to a request (at most 300 seconds); a peer
        slower than that appears as a warning message in the merged answer. A request forwarded by
        another aggregator waits less when that aggregator waits less. Also the timeout of each
        relayed read or change of a peer's session. Default: 5 seconds.
        """,
    ).tag(config=True)

    max_hops = Int(
        2,
        help="""
        The most brokers a request may have passed through (its ``X-Execplanner-Via`` header) for
        this hub still to forward it to its peers. 2 (the default): a request from a user reaches
        this hub's peers and their peers, no further. A request that comes back to a broker it has
        passed is never forwarded again, whatever this setting.
        """,
    ).tag(config=True)

    link_clients = List(
        Dict(),
        default_value=[],
        help="""
        Other hubs whose users may link their accounts on this hub (docs/linked-accounts.md): each
        is registered with this hub as an OAuth client, ``{"name": "hub-a", "client_id":
        "service-hub-a-execplanner", "secret_env": "HUB_A_LINK_SECRET", "redirect_uri":
        "https://hub-a.example.org/services/execplanner/links/callback"}``. ``client_id`` must start
        with ``service-``; the secret (``secret``, or ``secret_env``: a variable of the hub's
        environment) is the client's secret, which the other hub's admin puts in its ``peers`` entry's
        ``link``; ``redirect_uri`` must be exactly the other broker's callback URL. A user who links
        logs in here as themselves and consents; the token the other broker gets holds only the
        broker's scopes (asking for offers, changing their own sessions). ``setup_execplanner``
        registers each client as a service named ``<service name>-link-<name>``, lets every user use
        it, and grants this broker's service the ``tokens`` scope, with which it revokes a linked
        token when the other hub unlinks it. Default: none.
        """,
    ).tag(config=True)

    @validate("link_clients")
    def _validate_link_clients(self, proposal: Any) -> list:
        check_schema(proposal.value, LINK_CLIENTS_SCHEMA, "link_clients", entry="client")
        for index, client in enumerate(proposal.value):
            if ("secret" in client) == ("secret_env" in client):
                raise TraitError(
                    f"{CONFIG_SECTION}.link_clients[{index}] (client {client['name']!r}): give exactly "
                    "one of 'secret' (the client secret) or 'secret_env' (the hub's environment "
                    "variable that holds it)"
                )
        names = [c["name"] for c in proposal.value]
        ids = [c["client_id"] for c in proposal.value]
        for label, values in (("name", names), ("client_id", ids)):
            twice = next((v for v in values if values.count(v) > 1), None)
            if twice is not None:
                raise TraitError(f"{CONFIG_SECTION}.link_clients: the {label} {twice!r} is given twice; "
                                 f"give each client a {label} of its own")
        return list(proposal.value)

    @validate("peers")
    def _validate_peers(self, proposal: Any) -> list:
        check_schema(proposal.value, PEERS_SCHEMA, "peers", entry="peer")
        value = list(proposal.value)
        return self._keep("peers", value, _check_peers(value))

    @validate("max_hops")
    def _validate_max_hops(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or not 1 <= proposal.value <= 10:
            raise TraitError(f"{CONFIG_SECTION}.max_hops must be between 1 and 10, not {proposal.value!r}")
        return proposal.value

    def peer_specs(self) -> list[Any]:
        """The peers, checked (``federation.peerconfig.PeerSpec``s), as their validator left them."""
        return list(self._parsed("peers", _check_peers))


def _check_peers(value: Any) -> list[Any]:
    from ..federation.peerconfig import PeerConfigError, check_peers

    try:
        return check_peers(value, f"{CONFIG_SECTION}.peers")
    except PeerConfigError as e:
        raise TraitError(str(e)) from None
