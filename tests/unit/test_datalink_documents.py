"""DataLink resolution, as tables: which resources are planned through DataLink, what a DataLink
document (read with pyvo) gives, and how the planner uses it. The documents are served over loopback
HTTP (tests/loopback.py) and fetched through the hub's address policy; the e2e test reads them from
a real DaCHS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from loopback import Loopback

from jupyterhub_execplanner.model.request import DataSpec, ExecutableSpec, ExecutionRequest
from jupyterhub_execplanner.platform import resolution as res
from jupyterhub_execplanner.platform.datalink import (
    DataLinkResolver,
    parse_services,
    read_document,
    with_id,
)
from jupyterhub_execplanner.platform.datasets import DataConfig, Probe, parse_collections, place

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
DL = "application/x-votable+xml;content=datalink"
IVOA = "ivoa-data-resource"
FIELDS = ("ID", "access_url", "service_def", "error_message", "semantics", "content_type", "content_length")


def document(*rows: tuple[str, ...], status: str = "OK", reason: str = "") -> str:
    """A DataLink response (VOTable 1.3) with ``rows`` of :data:`FIELDS` values."""
    text = '<FIELD name="{}" datatype="char" arraysize="*"/>'
    size = '<FIELD name="content_length" datatype="long"><VALUES null="-1"/></FIELD>'
    fields = "".join(size if f == "content_length" else text.format(f) for f in FIELDS)
    body = "".join("<TR>" + "".join(f"<TD>{v}</TD>" for v in row) + "</TR>" for row in rows)
    return ('<?xml version="1.0"?><VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
            f'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="{status}">{reason}</INFO>'
            f"<TABLE>{fields}<DATA><TABLEDATA>{body}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>")


IMG = ("ivo://example.org/~?img1", "https://example.org/img1.fits", "", "", "#this", "image/fits", "268000")
PREVIEW = ("ivo://example.org/~?img1", "https://example.org/img1.png", "", "", "#preview", "image/png", "-1")
GONE = ("ivo://example.org/~?gone", "", "", "NotFoundFault: gone is not here", "#this", "", "-1")


def spec(name: str = "img1", location: str | None = None, **ivoa: Any) -> DataSpec:
    return DataSpec(IVOA, name, location, {"ivoa": ivoa})


def request(*data: DataSpec) -> ExecutionRequest:
    return ExecutionRequest(ExecutableSpec("jupyter-notebook"), data=data)


# -- which resources are planned through DataLink -----------------------------------------------------


@pytest.mark.parametrize(("d", "head", "wanted"), [
    (spec(location="https://x/dl?ID=1", obscore={"access_url": "https://x/dl?ID=1", "access_format": DL}),
     None, True),
    (spec(location="https://x/dl", datalink={"access_url": "https://x/dl", "content_type": DL}), None, True),
    (spec(datalink={"ID": "ivo://x/~?a", "service_def": "https://x/dl"}), None, True),
    (spec(ivoid="ivo://x/~?a"), None, True),
    (spec(location="https://x/a.fits", obscore={"access_url": "https://x/a.fits",
                                                "access_format": "image/fits"}), None, False),
    (spec(location="https://x/a", obscore={"access_url": "https://x/a"}), DL, True),  # what the URL answers
    (spec(location="https://x/a", obscore={"access_url": "https://x/a"}), "image/fits", False),
    (spec(location="https://x/a.fits", datalink={"access_url": "https://x/a.fits", "content_length": 5}),
     None, False),
])
def test_wants(d: DataSpec, head: str | None, wanted: bool) -> None:
    assert res.wants(d, head) is wanted


@pytest.mark.parametrize(("value", "ok"), [
    (DL, True), ("application/x-votable+xml; content=datalink", True),
    ('application/x-votable+xml;content="datalink";charset=utf-8', True),
    ("application/x-votable+xml", False), ("image/fits", False), (None, False),
])
def test_datalink_type(value: str | None, ok: bool) -> None:
    assert res.is_datalink_type(value) is ok


# -- what a document gives --------------------------------------------------------------------------


def test_this_row_gives_the_dataset() -> None:
    found = read_document(document(IMG, PREVIEW).encode(), "https://x/dl", "#this")
    assert found == res.Resolution("https://x/dl", "https://example.org/img1.fits", 268000, "image/fits")
    assert found.ok


def test_the_semantics_the_request_names() -> None:
    found = read_document(document(IMG, PREVIEW).encode(), "https://x/dl", "#preview")
    assert (found.url, found.size, found.content_type) == ("https://example.org/img1.png", None, "image/png")


@pytest.mark.parametrize(("body", "error", "problem"), [
    (document(GONE), "NotFoundFault: gone is not here", None),
    (document(status="ERROR", reason="UsageError: no ID given"), "UsageError: no ID given", None),
    (document(PREVIEW), None, "has no #this link"),
    (b"<html>not a VOTable</html>", None, "the answer is not a VOTable"),
    (b'<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE type="meta"/>'
     b"</VOTABLE>", None, "is a VOTable but not a DataLink document"),
    (b"\x00\x01 binary", None, "the answer is not a VOTable"),
])
def test_what_a_document_refuses(body: str | bytes, error: str | None, problem: str | None) -> None:
    found = read_document(body if isinstance(body, bytes) else body.encode(), "https://x/dl", "#this")
    assert not found.ok
    assert found.error == error
    if problem is None:
        assert found.problem is None
    else:
        assert found.problem is not None and problem in found.problem, found


def test_refusal_names_the_resource_and_quotes_the_centre() -> None:
    found = read_document(document(GONE).encode(), "https://x/dl?ID=gone", "#this")
    message = res.refusal(found, 2, NOW)
    assert message.level == "ERROR" and message.values["path"] == "data[2]"
    assert '"NotFoundFault: gone is not here"' in message.message
    assert "https://x/dl?ID=gone" in message.message


def test_services_setting() -> None:
    services = parse_services({"ivo://a.org/": "https://a.org/dl", "ivo://a.org/deep": "https://a.org/deep/dl"})
    assert services[0][0] == "ivo://a.org/deep"  # longest prefix first
    with pytest.raises(ValueError, match="ivoid prefix"):
        parse_services({"a.org": "https://a.org/dl"})
    with pytest.raises(ValueError, match=r"http\(s\) URL of a DataLink"):
        parse_services({"ivo://a.org/": "ftp://a.org/dl"})
    assert with_id("https://a.org/dl", "ivo://a.org/~?x/y") == "https://a.org/dl?ID=ivo%3A%2F%2Fa.org%2F~%3Fx%2Fy"
    assert with_id("https://a.org/dl?RESPONSEFORMAT=x", "ivo://a").startswith("https://a.org/dl?RESPONSEFORMAT=x&ID=")


# -- the planner with a resolution --------------------------------------------------------------------


def test_place_plans_with_the_dataset_and_says_so() -> None:
    d = spec(location="https://x/dl?ID=1", obscore={"access_url": "https://x/dl?ID=1", "access_format": DL})
    found = res.Resolution("https://x/dl?ID=1", "https://example.org/img1.fits", 268000, "image/fits")
    plan = place(request(d), DataConfig(default_bandwidth=134000), {res.key(0): Probe(resolution=found)},
                 now=NOW)
    assert not isinstance(plan, list)
    [placement] = plan.placements
    assert (placement.mode, placement.location, placement.size, placement.seconds) == (
        "stage", "https://example.org/img1.fits", 268000, 2.0)
    notes = [m.message for m in plan.notes]
    assert "data 'img1' resolved through DataLink: image/fits, 268 kB" in notes


def test_place_without_a_resolution_never_downloads_the_document() -> None:
    d = spec(location="https://x/dl?ID=1", obscore={"access_url": "https://x/dl?ID=1", "access_format": DL})
    plan = place(request(d), DataConfig(), now=NOW)
    assert isinstance(plan, list)
    [message] = plan
    assert message.values["path"] == "data[0]" and "DataLink document was not read" in message.message


def test_place_local_by_obs_collection(tmp_path: Path) -> None:
    collections = parse_collections({"survey": {"path": str(tmp_path), "obs_collection": "survey"}})
    d = spec(location="https://x/dl?ID=1", obscore={"access_url": "https://x/dl?ID=1", "access_format": DL,
                                                    "obs_collection": "survey"})
    url = "https://example.org/getproduct/survey/img1.fits"
    found = res.Resolution("https://x/dl?ID=1", url, 5, "image/fits")
    config = DataConfig(collections=collections)
    plan = place(request(d), config, {res.key(0): Probe(resolution=found)}, now=NOW)
    assert not isinstance(plan, list)
    [placement] = plan.placements
    assert (placement.mode, placement.source, placement.size) == ("local", str(tmp_path / "img1.fits"), 0)
    # unresolved, the document's own URL never names a file of the collection
    assert place(request(d), config, now=NOW) != plan


# -- the resolver over HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("centre")
    (folder / "dl-img1.xml").write_text(document(IMG, PREVIEW))
    (folder / "dl-gone.xml").write_text(document(GONE))
    server = Loopback(folder)
    yield server
    server.close()


LOOPBACK = DataConfig(fetch_allowed_hosts=("127.0.0.1",))


def resolve(resolver: DataLinkResolver, *data: DataSpec,
            config: DataConfig = LOOPBACK) -> list[res.Resolution]:
    found = asyncio.run(resolver.resolve(request(*data), config, 5.0))
    return [found[res.key(i)].resolution for i in range(len(data))]  # type: ignore[misc]


def test_resolver_reads_a_document_and_keeps_it(centre: Loopback) -> None:
    url = f"{centre.url}/dl-img1.xml"
    resolver = DataLinkResolver(ttl=60)
    [found] = resolve(resolver, spec(location=url, obscore={"access_url": url, "access_format": DL}))
    assert (found.url, found.size) == ("https://example.org/img1.fits", 268000)
    (centre.folder / "dl-img1.xml").write_text(document(GONE))  # changed at the centre...
    try:
        [again] = resolve(resolver, spec(location=url, obscore={"access_url": url, "access_format": DL}))
        assert again == found  # ...but kept for the TTL
        [fresh] = resolve(DataLinkResolver(ttl=0), spec(location=url, obscore={"access_url": url,
                                                                                "access_format": DL}))
        assert fresh.error == "NotFoundFault: gone is not here"
    finally:
        (centre.folder / "dl-img1.xml").write_text(document(IMG, PREVIEW))


def test_resolver_follows_the_address_policy(centre: Loopback) -> None:
    url = f"{centre.url}/dl-img1.xml"
    d = spec(location=url, obscore={"access_url": url, "access_format": DL})
    [found] = resolve(DataLinkResolver(), d, config=DataConfig())
    assert found.problem is not None and "address this hub does not fetch from" in found.problem
    [denied] = resolve(DataLinkResolver(), d,
                       config=DataConfig(fetch_allowed_hosts=("127.0.0.1",), denied=(centre.url + "/",)))
    assert denied.problem is not None and "policy forbids" in denied.problem


def test_resolver_ivoid_through_a_declared_service_or_says_how_to_declare_one(centre: Loopback) -> None:
    # the loopback server ignores the query: the service's URL names the document
    declared = DataLinkResolver([("ivo://example.org/", f"{centre.url}/dl-img1.xml")])
    [found] = resolve(declared, spec(ivoid="ivo://example.org/~?img1"))
    assert found.ok and found.document == f"{centre.url}/dl-img1.xml?ID=ivo%3A%2F%2Fexample.org%2F~%3Fimg1"
    [none] = resolve(DataLinkResolver(), spec(ivoid="ivo://example.org/~?img1"))
    assert not none.ok and none.problem is not None and none.fix is not None
    assert "neither a DataLink service nor a registry" in none.problem
    assert "datalink_services" in none.fix and "datalink_registry" in none.fix
    [other] = resolve(declared, spec(ivoid="ivo://other.org/~?x"))
    assert other.problem == "this hub declares no DataLink service for ivo://other.org/~?x"


def test_resolver_quotes_an_error_the_request_carries() -> None:
    [found] = resolve(DataLinkResolver(), spec(datalink={"ID": "ivo://x/~?a", "error_message": "embargoed"}))
    assert found.error == "embargoed"


def test_resolver_asks_the_registry_for_the_authoritys_service(centre: Loopback) -> None:
    """A RegTAP answer (a static file at the registry's ``sync``: the loopback server ignores the
    query) names the DataLink service; the resolver then reads the dataset's document there."""
    registry = centre.folder / "reg"
    registry.mkdir(exist_ok=True)
    (registry / "sync").write_text(
        '<?xml version="1.0"?><VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/><TABLE>'
        '<FIELD name="access_url" datatype="char" arraysize="*"/><DATA><TABLEDATA>'
        f"<TR><TD>{centre.url}/dl-img1.xml</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>")
    resolver = DataLinkResolver(registry=f"{centre.url}/reg")
    [found] = resolve(resolver, spec(ivoid="ivo://example.org/~?img1"))
    assert found.ok and found.url == "https://example.org/img1.fits"
    assert found.document is not None and found.document.startswith(f"{centre.url}/dl-img1.xml?ID=")
    (registry / "sync").write_text(document())  # a registry that knows no service for it
    [unknown] = resolve(DataLinkResolver(registry=f"{centre.url}/reg"), spec(ivoid="ivo://other.org/~?x"))
    assert unknown.problem == ("neither the DataLink services this hub declares nor its registry know "
                               "ivo://other.org/~?x")


def test_resolver_reads_a_datalink_rows_service_def_and_id(centre: Loopback) -> None:
    d = spec(datalink={"ID": "ivo://example.org/~?img1", "service_def": f"{centre.url}/dl-img1.xml"})
    [found] = resolve(DataLinkResolver(), d)
    assert found.ok and (found.url, found.size) == ("https://example.org/img1.fits", 268000)
    assert found.document == f"{centre.url}/dl-img1.xml?ID=ivo%3A%2F%2Fexample.org%2F~%3Fimg1"


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyterhub_execplanner.platform import datalink

    monkeypatch.setattr(datalink, "MAX_CACHED", 2)
    cache: dict[object, tuple[float, object]] = {}
    datalink._keep(cache, "expired", (0.0, 1))
    datalink._keep(cache, "a", (1e18, 2))
    datalink._keep(cache, "b", (1e18, 3))  # the expired one goes
    assert list(cache) == ["a", "b"]
    datalink._keep(cache, "c", (1e18, 4))  # then the oldest
    assert list(cache) == ["b", "c"]
