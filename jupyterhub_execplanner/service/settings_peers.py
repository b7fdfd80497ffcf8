"""Federation: peers this hub asks too, as an aggregator. See docs/federation.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Float, Int, List, TraitError, validate
from traitlets.config import Configurable

from .traits import CONFIG_SECTION


class PeerSettings(Configurable):
    # -- federation (issue 6): peers, and this hub as an aggregator ---------------------------------
    # Read by the service. With peers, POST requests (and POST direct) also ask them and merge their
    # offers with this hub's own; see docs/federation.md.

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
        ``Authorization`` header on: only for peers that accept this hub's tokens). ``POST requests``
        then asks every peer at once, waits at most ``peer_timeout``, and merges their offers with
        this hub's own; each peer's offer keeps its own URL, and accepting, reading or cancelling it
        here is done by the peer. Example::

            c.ExecPlanner.peers = [
                {"name": "hub-b", "url": "https://hub-b.example.org", "token_env": "HUB_B_TOKEN"},
            ]
        """,
    ).tag(config=True)

    peer_timeout = Float(
        5.0,
        help="""
        Seconds this hub waits for each peer's answer to a request; a peer slower than that appears
        as a warning message in the merged answer. A request forwarded by another aggregator waits
        less when that aggregator waits less. Also the timeout of each relayed read or change of a
        peer's session. Default: 5 seconds.
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

    @validate("peers")
    def _validate_peers(self, proposal: Any) -> list:
        from ..federation.peerconfig import PeerConfigError, check_peers

        try:
            check_peers(proposal.value, f"{CONFIG_SECTION}.peers")
        except PeerConfigError as e:
            raise TraitError(str(e)) from e
        return list(proposal.value)

    @validate("peer_timeout")
    def _validate_peer_timeout(self, proposal: Any) -> float:
        if isinstance(proposal.value, bool) or not 0 < proposal.value <= 300:
            raise TraitError(
                f"{CONFIG_SECTION}.peer_timeout must be seconds between 0 and 300, not {proposal.value!r}"
            )
        return float(proposal.value)

    @validate("max_hops")
    def _validate_max_hops(self, proposal: Any) -> int:
        if isinstance(proposal.value, bool) or not 1 <= proposal.value <= 10:
            raise TraitError(f"{CONFIG_SECTION}.max_hops must be between 1 and 10, not {proposal.value!r}")
        return proposal.value
