"""IVOA data and VOSI: the DataLink services and registry that name datasets, how long their answers
and the measured downloads count, and what the broker says of itself to a registry. See
docs/data-and-costs.md and docs/vosi.md.

A part of :class:`~.settings.ExecPlanner`: set these as ``c.ExecPlanner.<name>`` or as keyword arguments
of ``setup_execplanner``."""

from __future__ import annotations

from typing import Any

from traitlets import Dict, TraitError, Unicode, validate

from .traits import CONFIG_SECTION, Duration, Settings

PROVISIONAL_STANDARD_ID = "ivo://ivoa.net/std/ExecutionBroker#v1.0-provisional"


class IvoaSettings(Settings):
    """IVOA data and VOSI

    Where the broker reads DataLink documents for datasets named by an identifier, how long it keeps
    what data centres answered and what it measured of its downloads, and the VOSI and VOResource
    description of the broker (docs/vosi.md)."""

    datalink_services = Dict(
        help="""
        DataLink services by identifier prefix: ``{"ivo://example.org/survey": "https://example.org/
        survey/q/dl/dlmeta"}``. A data resource named by an ``ivoid`` (or a DataLink ``ID``) with one
        of these prefixes (the longest wins) is resolved by the DataLink document at
        ``<service>?ID=<ivoid>``: its ``#this`` link (or the semantics the request names) is the
        dataset the offer plans with. Empty (the default): only ``datalink_registry`` is asked.
        """,
    ).tag(config=True)

    datalink_registry = Unicode(
        "",
        help="""
        A RegTAP endpoint (``https://reg.g-vo.org/tap``) asked for the DataLink service of an
        identifier's authority when ``datalink_services`` has none for it. Empty (the default): no
        registry is asked, and a dataset named by an identifier no declared service knows is
        answered NO, saying so.
        """,
    ).tag(config=True)

    datalink_cache_ttl = Duration(
        60,
        zero=True,
        help="""
        How long a DataLink document's answer (the dataset, or the data centre's error) is kept
        before it is asked again. 0: never kept. Default: 60 seconds.
        """,
    ).tag(config=True)

    throughput_half_life = Duration(
        86400,
        help="""
        How fast the measured bandwidth and first-byte latency of each source host are forgotten:
        the weight of a measured download halves every this many seconds (the past weighs at most
        four downloads). Until a host has been measured, ``data_bandwidth`` is its estimate.
        Default: one day.
        """,
    ).tag(config=True)

    vosi_standard_id = Unicode(
        PROVISIONAL_STANDARD_ID,
        help="""
        The ``standardID`` of the broker's capability in its VOSI capabilities and VOResource record.
        The IVOA has defined none for an Execution Broker yet: the default is provisional, to be
        replaced by the standard's own once it exists.
        """,
    ).tag(config=True)

    vosi_identifier = Unicode(
        "",
        help="""
        The IVOA identifier (``ivo://authority/path``) of this broker in its VOResource record, the
        one a publishing registry lists it under. Empty (the default): ``ivo://<host of the broker's
        URL>/execplanner``, good for a test but not for a registry.
        """,
    ).tag(config=True)

    vosi_title = Unicode(
        "JupyterHub execution broker",
        help="The title of the broker's VOResource record.",
    ).tag(config=True)

    vosi_publisher = Unicode(
        "",
        help="""
        The organisation that runs the broker, in its VOResource record. Empty (the default): the
        host of the broker's URL.
        """,
    ).tag(config=True)

    vosi_contact_email = Unicode(
        "",
        help="The e-mail address a registry's users may write to about this broker (VOResource contact).",
    ).tag(config=True)

    @validate("datalink_services")
    def _validate_datalink_services(self, proposal: Any) -> dict:
        from ..platform.datalink import parse_services

        try:
            parse_services(proposal.value, f"{CONFIG_SECTION}.datalink_services")
        except ValueError as e:
            raise TraitError(str(e)) from None
        return dict(proposal.value)

    @validate("datalink_registry")
    def _validate_datalink_registry(self, proposal: Any) -> str:
        value = str(proposal.value or "").strip()
        if value and not value.startswith(("http://", "https://")):
            raise TraitError(f"{CONFIG_SECTION}.datalink_registry must be the http(s) URL of a RegTAP "
                             f"endpoint, like 'https://reg.g-vo.org/tap', not {value!r}")
        return value

    @validate("vosi_standard_id", "vosi_identifier")
    def _validate_ivo_uri(self, proposal: Any) -> str:
        value = str(proposal.value or "").strip()
        name = proposal.trait.name
        if (value or name == "vosi_standard_id") and not value.startswith(("ivo://", "urn:", "http")):
            raise TraitError(f"{CONFIG_SECTION}.{name} must be a URI like 'ivo://example.org/execplanner', "
                             f"not {value!r}")
        return value

    def datalink_resolver(self) -> Any:
        """The resolver the broker reads DataLink documents with (``platform.datalink``)."""
        from ..platform.datalink import DataLinkResolver, parse_services

        return DataLinkResolver(parse_services(self.datalink_services), self.datalink_registry or None,
                                ttl=self.datalink_cache_ttl)
