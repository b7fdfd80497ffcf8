"""End to end: the broker's VOSI documents, read anonymously through a real hub's proxy, validate against
the IVOA XML schemas DaCHS's Debian package ships (VOSIAvailability, VOSICapabilities, VOResource,
VODataService, RegistryInterface), with lxml and no network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dachs import SCHEMATA
from hubprocess import RealHub
from lxml import etree

pytestmark = pytest.mark.e2e

XS = "http://www.w3.org/2001/XMLSchema"
SCHEMAS = ("VOResource.xsd", "VODataService.xsd", "VOSIAvailability.xsd", "VOSICapabilities.xsd",
           "RegistryInterface.xsd")
STANDARD_ID = "ivo://ivoa.net/std/ExecutionBroker#v1.0-provisional"
CAP, AVAIL = "http://www.ivoa.net/xml/VOSICapabilities/v1.0", "http://www.ivoa.net/xml/VOSIAvailability/v1.0"


class _LocalSchemata(etree.Resolver):
    """Every schema location (they name ivoa.net or GAVO URLs) is read from DaCHS's copies."""

    def resolve(self, url: str, pubid: str, context: object) -> object:
        local = SCHEMATA / url.rsplit("/", 1)[-1]
        return self.resolve_filename(str(local), context) if local.is_file() else None


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    """One schema importing the IVOA ones (as DaCHS's own tests combine them)."""
    assert (SCHEMATA / "VOSICapabilities.xsd").is_file(), "scripts/setup-dachs.sh installs the schemata"
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemata())
    root = etree.Element(f"{{{XS}}}schema", targetNamespace="urn:combiner")
    for name in SCHEMAS:
        namespace = etree.parse(str(SCHEMATA / name)).getroot().get("targetNamespace")
        etree.SubElement(root, f"{{{XS}}}import", namespace=namespace,
                         schemaLocation=f"http://vo.ari.uni-heidelberg.de/docs/schemata/{name}")
    return etree.XMLSchema(etree.fromstring(etree.tostring(root), parser))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    started = RealHub.start(Path(tmp_path_factory.mktemp("vosi-hub")), settings={
        "vosi_identifier": "ivo://example.org/execplanner", "vosi_publisher": "Example Observatory",
        "vosi_contact_email": "vo@example.org"})
    try:
        yield started
    finally:
        started.stop()


def read(hub: RealHub, path: str, schema: etree.XMLSchema) -> etree._Element:
    """The document at ``path``, asked without a token; asserted valid."""
    answer = httpx.get(hub.broker + path, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/xml")
    doc = etree.fromstring(answer.content)
    assert schema.validate(doc), f"{path}: {schema.error_log}"
    return doc


def test_availability(hub: RealHub, schema: etree.XMLSchema) -> None:
    doc = read(hub, "availability", schema)
    assert doc.tag == f"{{{AVAIL}}}availability"
    assert doc.findtext(f"{{{AVAIL}}}available") == "true"
    assert doc.findtext(f"{{{AVAIL}}}upSince")


def test_capabilities(hub: RealHub, schema: etree.XMLSchema) -> None:
    doc = read(hub, "capabilities", schema)
    assert doc.tag == f"{{{CAP}}}capabilities"
    found = {c.get("standardID"): c.findtext("interface/accessURL") for c in doc.findall("capability")}
    assert found == {
        "ivo://ivoa.net/std/VOSI#capabilities": hub.broker + "capabilities",
        "ivo://ivoa.net/std/VOSI#availability": hub.broker + "availability",
        STANDARD_ID: hub.broker,
    }


def test_voresource_record(hub: RealHub, schema: etree.XMLSchema) -> None:
    doc = read(hub, "voresource", schema)
    assert doc.findtext("identifier") == "ivo://example.org/execplanner"
    assert doc.findtext("curation/publisher") == "Example Observatory"
    assert doc.findtext("curation/contact/email") == "vo@example.org"
    assert STANDARD_ID in [c.get("standardID") for c in doc.findall("capability")]
    # not a place to write to
    assert httpx.post(hub.broker + "voresource", timeout=30).status_code == 405
