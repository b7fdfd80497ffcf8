"""VOSI, as every IVOA service has: ``GET availability``, ``GET capabilities`` and a VOResource record.

The documents are built with vo-models (pydantic-xml models of the IVOA schemas): VOSI 1.1
availability (``VOSIAvailability/v1.0`` namespace) and capabilities (``VOSICapabilities/v1.0``), and
a ``ri:Resource`` of type ``vr:Service`` (``GET voresource``) that an admin can hand to a publishing
registry. The broker's own capability has the ``standardID`` of ``vosi_standard_id``: the IVOA has
defined none for an Execution Broker yet, so the default is provisional (docs/vosi.md).

All three are read without a token, as VOSI expects of availability and capabilities (a registry or
a validator asks them anonymously) and as ``GET /`` already is: they say what the service is and
whether it answers, nothing of anybody's sessions.

``available`` is false while the broker's database cannot be used or the capacity provider says the
platform is unavailable (the reason is the note), true otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AnyUrl
from pydantic_xml import attr
from vo_models.vodataservice import ParamHTTP
from vo_models.voresource import models as vr
from vo_models.vosi.availability.models import Availability
from vo_models.vosi.capabilities.models import VOSICapabilities

from .._version import __version__
from ..sessions.store import StoreUnavailable
from .handlers import BaseHandler

XML = "text/xml; charset=utf-8"
VOSI_CAPABILITIES = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY = "ivo://ivoa.net/std/VOSI#availability"
NO_UUID = "00000000-0000-0000-0000-000000000000"
RI_NSMAP = {
    "ri": "http://www.ivoa.net/xml/RegistryInterface/v1.0",
    "vr": "http://www.ivoa.net/xml/VOResource/v1.0",
    "vs": "http://www.ivoa.net/xml/VODataService/v1.1",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}


class ServiceRecord(vr.Service, tag="Resource", ns="ri", nsmap=RI_NSMAP):
    """A VOResource record of a service, as a registry harvests it (``ri:Resource``)."""

    type: Literal["vr:Service"] = attr(name="type", ns="xsi", default="vr:Service")


def _interface(url: str, use: Literal["full", "base", "dir"] = "full") -> ParamHTTP:
    return ParamHTTP(access_url=[vr.AccessURL(value=AnyUrl(url), use=use)], query_type=["GET"])


def capabilities(base: str, standard_id: str) -> list[vr.Capability]:
    """The broker's capabilities: the VOSI ones and the Execution Broker's (``base`` is its URL)."""
    broker = _interface(base, "base")
    broker.query_type = ["GET", "POST"]
    return [
        vr.Capability(standard_id=AnyUrl(VOSI_CAPABILITIES), interface=[_interface(base + "capabilities")]),
        vr.Capability(standard_id=AnyUrl(VOSI_AVAILABILITY), interface=[_interface(base + "availability")]),
        vr.Capability(standard_id=AnyUrl(standard_id), interface=[broker],
                      description="IVOA Execution Broker v1.0: offers for running a task on this "
                      "platform (POST requests), sessions (GET/POST sessions/{uuid}); the OpenAPI "
                      f"description is at {base}openapi.yaml. The standardID is provisional."),
    ]


def _xml(model: Any) -> bytes:
    """A vo-models document as UTF-8 XML with its declaration (``to_xml`` gives bytes when it is
    given an encoding; its annotation says str)."""
    text = model.to_xml(skip_empty=True, xml_declaration=True, encoding="UTF-8")
    return text if isinstance(text, bytes) else str(text).encode("utf-8")


def capabilities_xml(base: str, standard_id: str) -> bytes:
    doc = VOSICapabilities(capability=capabilities(base, standard_id))
    return _xml(doc)


def availability_xml(available: bool, up_since: datetime | None, notes: list[str]) -> bytes:
    doc = Availability(available=available, up_since=up_since, note=notes)
    return _xml(doc)


def record_xml(base: str, settings: Any, created: datetime) -> bytes:
    """The broker's VOResource record, from the ``vosi_*`` settings."""
    host = urlsplit(base).hostname or "localhost"
    authority = re.sub(r"[^\w.~+=-]", "-", host)
    authority += ".local" if len(authority) < 3 else ""  # an IVOA authority has 3 characters or more
    identifier = settings.vosi_identifier or f"ivo://{authority}/execplanner"
    publisher = settings.vosi_publisher or host
    contact = vr.Contact(name=vr.ResourceName(value=publisher), email=settings.vosi_contact_email or None)
    record = ServiceRecord(
        created=created, updated=created, status="active", version="1.1",
        title=settings.vosi_title, identifier=AnyUrl(identifier),
        curation=vr.Curation(publisher=vr.ResourceName(value=publisher), version=__version__,
                             contact=[contact]),
        content=vr.Content(subject=["virtual observatory"], type=["Other"], reference_url=AnyUrl(base),
                           description="An IVOA Execution Broker for a JupyterHub: it answers "
                           "execution requests with offers for sessions on this hub's platform, "
                           "preparing each session's notebook, environment and data."),
        capability=capabilities(base, settings.vosi_standard_id),
    )
    return _xml(record)


class VOSIHandler(BaseHandler):
    """The VOSI documents: no token needed (see the module's doc)."""

    endpoint = "vosi"

    def xml(self, body: bytes) -> None:
        self.set_header("Content-Type", XML)
        self.finish(body)

    def started(self) -> datetime:
        app = self.settings["execplanner"]
        return getattr(app, "started", None) or datetime.now(timezone.utc)


class AvailabilityHandler(VOSIHandler):
    def get(self) -> None:
        notes, available = [], True
        try:
            self.manager.store.offerset(NO_UUID)  # one read: does the database answer?
        except StoreUnavailable as e:
            available, notes = False, [f"the broker's database cannot be used now: {e}"]
        health = self.manager.health() if self.manager.health is not None else None
        if health:
            available, notes = False, [*notes, f"the platform is unavailable: {health}"]
        if available:
            notes = [f"jupyterhub-execplanner {__version__}: answering execution requests"]
        self.xml(availability_xml(available, self.started(), notes))


class CapabilitiesHandler(VOSIHandler):
    def get(self) -> None:
        self.xml(capabilities_xml(self.base_url(), self.config.vosi_standard_id))


class ResourceRecordHandler(VOSIHandler):
    def get(self) -> None:
        self.xml(record_xml(self.base_url(), self.config, self.started().replace(microsecond=0)))


vosi_handlers: list[tuple[str, type[BaseHandler]]] = [
    (r"availability/?", AvailabilityHandler),
    (r"capabilities/?", CapabilitiesHandler),
    (r"voresource/?", ResourceRecordHandler),
]
