"""Data proximity, as tables: collection match rules, source policy, transfer estimates, placements."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from jupyterhub_execplanner.model.offer import DATA_BYTES, DATA_LOCAL, DATA_TIME
from jupyterhub_execplanner.model.request import (
    ComputeSpec,
    DataSpec,
    ExecutableSpec,
    ExecutionRequest,
    VolumeMount,
)
from jupyterhub_execplanner.platform.datasets import (
    DATA_DENIED,
    DATA_UNREACHABLE,
    DataConfig,
    DataPlan,
    Probe,
    _source,
    human_bytes,
    match,
    mount_path,
    parse_bandwidth,
    parse_collections,
    place,
    source_allowed,
    to_probe,
)

NOW = datetime(2026, 11, 24, 15, 0, 0, tzinfo=timezone.utc)
COLLECTIONS = parse_collections({
    "survey": {"path": "/srv/survey", "url_prefix": ["https://archive.example.org/survey/"],
               "ivoid_prefix": "ivo://example.org/survey"},
    "bucket": {"path": "/srv/s3", "s3_bucket": "sky", "s3_prefix": "dr1/"},
    "rucio": {"path": "/srv/rucio", "rucio_scope": "ska"},
})
CONFIG = DataConfig(
    collections=COLLECTIONS,
    bandwidth=parse_bandwidth({"https://far.example.net/": 1e6, "https://far.example.net/fast/": 1e8}),
    default_bandwidth=30e6,
    denied=("http://bad.example.org/", "*.evil.example"),
    s3_endpoint="https://s3.example.org",
    max_bytes=10**9,
)


def simple(url: str, name: str | None = "survey") -> DataSpec:
    return DataSpec("simple-data-resource", name, url)


def ivoa(ivoid: str | None = None, access_url: str | None = None) -> DataSpec:
    block: dict[str, Any] = {}
    if ivoid:
        block["ivoid"] = ivoid
    if access_url:
        block["obscore"] = {"access_url": access_url}
    return DataSpec("ivoa-data-resource", "obs", access_url, {"ivoa": block})


def s3(bucket: str, key: str | None, endpoint: str | None = None) -> DataSpec:
    extra: dict[str, Any] = {"bucket": bucket}
    if key:
        extra["object"] = key
    if endpoint:
        extra["endpoint"] = endpoint
    return DataSpec("S3-data-resource", "obj", None, extra)


def rucio(scope: str, name: str) -> DataSpec:
    return DataSpec("rucio-data-resource", "r", None, {"rucio": {"scope": scope, "object": name}})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (simple("https://archive.example.org/survey/dr1/cat.fits"), ("survey", "/srv/survey/dr1/cat.fits")),
        (simple("https://archive.example.org/survey/"), ("survey", "/srv/survey")),
        (simple("https://archive.example.org/other/cat.fits"), None),
        (simple("https://archive.example.org/survey/../etc/passwd"), None),  # never outside the path
        (ivoa(ivoid="ivo://example.org/survey?dr1/cat.fits"), ("survey", "/srv/survey/dr1/cat.fits")),
        (ivoa(access_url="https://archive.example.org/survey/img.fits"), ("survey", "/srv/survey/img.fits")),
        (ivoa(ivoid="ivo://example.org/elsewhere"), None),
        (s3("sky", "dr1/a/b.fits"), ("bucket", "/srv/s3/a/b.fits")),
        (s3("sky", "dr2/a/b.fits"), None),  # outside the key prefix
        (s3("other", "dr1/a.fits"), None),
        (rucio("ska", "obs-1.ms"), ("rucio", "/srv/rucio/obs-1.ms")),
        (rucio("lofar", "obs-1.ms"), None),
    ],
)
def test_match(data: DataSpec, expected: tuple[str, str] | None) -> None:
    found = match(data, COLLECTIONS)
    assert (None if found is None else (found[0].name, found[1])) == expected


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://archive.example.org/x", None),
        ("http://bad.example.org/x", "data_denied_sources has 'http://bad.example.org/'"),
        ("https://bad.example.org/x", None),  # the prefix names the scheme
        ("https://data.evil.example/x", "data_denied_sources has '*.evil.example'"),
    ],
)
def test_source_policy(url: str, rule: str | None) -> None:
    assert source_allowed(url, CONFIG) == rule


def test_allow_list() -> None:
    config = DataConfig(allowed=("archive.example.org",))
    assert source_allowed("https://archive.example.org/a", config) is None
    assert source_allowed("https://other.example.org/a", config) == "it is not in data_allowed_sources"


@pytest.mark.parametrize(
    ("url", "bps"),
    [("https://far.example.net/a", 1e6), ("https://far.example.net/fast/a", 1e8), ("https://x.org/", 30e6)],
)
def test_bandwidth_longest_prefix(url: str, bps: float) -> None:
    assert CONFIG.bandwidth_for(url) == bps


def req(*data: DataSpec, volumes: tuple[VolumeMount, ...] = ()) -> ExecutionRequest:
    return ExecutionRequest(ExecutableSpec("jupyter-notebook"), ComputeSpec(volumes=volumes), data=data)


def test_mount_paths() -> None:
    r = req(simple("https://a.org/x", "survey"), simple("https://a.org/y", None),
            volumes=(VolumeMount("/data/survey", "READONLY", "survey"),))
    assert mount_path(r, r.data[0], 0) == "data/survey"
    assert mount_path(r, r.data[1], 1) == "data/data-1"
    odd = req(simple("https://a.org/x", "../x y"), volumes=(VolumeMount("/a/../../b", "READONLY", "../x y"),))
    assert mount_path(odd, odd.data[0], 0) == "data/x_y"


def test_local_and_staged() -> None:
    r = req(simple("https://archive.example.org/survey/cat.fits", "survey"),
            simple("https://far.example.net/big.fits", "big"),
            volumes=(VolumeMount("/input/survey", "READONLY", "survey"),))
    assert to_probe(r, CONFIG) == ["https://far.example.net/big.fits"]
    probes = {"https://far.example.net/big.fits": Probe(size=40_000_000, status=200)}
    result = place(r, CONFIG, probes, now=NOW)
    assert isinstance(result, DataPlan)
    local, staged = result.placements
    assert (local.mode, local.source, local.mount, local.size, local.collection) == (
        "local", "/srv/survey/cat.fits", "input/survey", 0, "survey")
    assert (staged.mode, staged.location, staged.mount, staged.size, staged.seconds) == (
        "stage", "https://far.example.net/big.fits", "data/big", 40_000_000, 40.0)
    assert result.seconds == 40.0 and result.prepare_extra.total_seconds() == 40
    metrics = {f.type: (f.max, f.unit) for f in result.metrics}
    assert metrics == {DATA_BYTES: (40e6, "bytes"), DATA_TIME: (40.0, "s"), DATA_LOCAL: (0.5, "fraction")}
    notes = [n.message for n in result.notes]
    assert notes == ["data 'survey' is local at input/survey (collection survey, read-only)",
                     "data 'big' will be downloaded: 40 MB, about 40 s at 1 MB/s"]


def test_unknown_size_adds_no_time_and_quotes_no_transfer_time() -> None:
    r = req(simple("https://x.example.org/a.fits", "a"))
    probes = {"https://x.example.org/a.fits": Probe(error="HEAD gave no Content-Length")}
    result = place(r, CONFIG, probes, now=NOW)
    assert isinstance(result, DataPlan)
    assert result.seconds == 0 and result.placements[0].size is None
    assert {f.type for f in result.metrics} == {DATA_LOCAL}
    assert "size is unknown (HEAD gave no Content-Length)" in result.notes[0].message


def test_sizes_given_by_the_request_are_not_probed() -> None:
    skao = DataSpec("skao-data-resource", "vis", "https://far.example.net/v.ms",
                    {"skao": {"namespace": "lofar", "datasize": 2_000_000,
                              "replicas": [{"rsename": "X", "dataurl": "https://far.example.net/v.ms"}]}})
    r = req(skao)
    assert to_probe(r, CONFIG) == []
    result = place(r, CONFIG, now=NOW)
    assert isinstance(result, DataPlan) and result.seconds == 2.0


@pytest.mark.parametrize(
    ("data", "path", "kind", "needle"),
    [
        (simple("http://bad.example.org/a"), "data[0]", DATA_DENIED, "data_denied_sources has"),
        (rucio("lofar", "x"), "data[0]", DATA_UNREACHABLE, "Rucio scope lofar, which this hub cannot reach"),
        (ivoa(ivoid="ivo://other/x"), "data[0]", DATA_UNREACHABLE, "ivo://other/x is not in a collection"),
        (s3("other", None), "data[0]", DATA_UNREACHABLE, "names no object"),
        (simple("ftp://a.org/x"), "data[0]", "urn:not-supported", "http and https only"),
    ],
)
def test_no(data: DataSpec, path: str, kind: str, needle: str) -> None:
    result = place(req(data), CONFIG, now=NOW)
    assert isinstance(result, list)
    [message] = result
    assert (message.values["path"], message.kind, message.level) == (path, kind, "ERROR")
    assert needle in message.message


def test_s3_from_the_configured_endpoint() -> None:
    r = req(s3("other", "a/b.fits"))
    assert to_probe(r, CONFIG) == ["https://s3.example.org/other/a/b.fits"]
    r2 = req(s3("other", "a/b.fits", endpoint="https://own.example.org/"))
    assert to_probe(r2, CONFIG) == ["https://own.example.org/other/a/b.fits"]


def test_probe_404_and_too_big() -> None:
    r = req(simple("https://x.example.org/a", "a"), simple("https://x.example.org/b", "b"))
    result = place(r, CONFIG, {"https://x.example.org/a": Probe(status=404, error="HEAD answered HTTP 404"),
                               "https://x.example.org/b": Probe(size=2 * 10**9, status=200)}, now=NOW)
    assert isinstance(result, list)
    assert [m.values["path"] for m in result] == ["data[0].location", "data[1]"]
    assert "answers HTTP 404" in result[0].message and "at most 1 GB" in result[1].message


def test_too_slow_for_the_spawn_timeout() -> None:
    config = DataConfig(default_bandwidth=1e6, max_seconds=60)
    probes = {"https://x.org/a": Probe(size=100_000_000)}
    result = place(req(simple("https://x.org/a")), config, probes, now=NOW)
    assert isinstance(result, list) and "about 100 s" in result[0].message


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"s": {"path": "rel", "url_prefix": "https://a/"}}, "['path'] must be an absolute path"),
        ({"s": {"path": "/a"}}, "has no match rule"),
        ({"s": {"path": "/a", "url_prefix": "x", "colour": 1}}, "unknown key(s) ['colour']"),
        ({"s": {"path": "/a", "url_prefix": 3}}, "must be a string or a list of strings"),
        ({"s": {"path": "/a", "rucio_scope": "x", "volume": "pvc"}}, "must be a Kubernetes volume dict"),
    ],
)
def test_bad_collections(value: dict, needle: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_collections(value)
    assert needle in str(caught.value)


def test_human_bytes() -> None:
    assert [human_bytes(v) for v in (12, 1200, 1.2e9, 3e7)] == ["12 bytes", "1.2 kB", "1.2 GB", "30 MB"]


SURVEY = "https://archive.example.org/survey/"


@pytest.mark.parametrize(
    "data",
    [
        simple(SURVEY + "..%2Fhubsecret"),  # decoded before the split: the '..' it spells
        simple(SURVEY + "%2e%2e/hubsecret"),
        simple(SURVEY + "%2E%2E%2Fhubsecret"),
        simple(SURVEY + "dr1%2F..%2F..%2Fhubsecret"),
        simple(SURVEY + ".%2Fcat.fits"),
        simple(SURVEY + "..\\hubsecret"),
        simple(SURVEY + "dr1%5C..%5Chubsecret"),
        simple(SURVEY + "cat.fits%00.png"),
        simple(SURVEY + "cat%0A.fits"),
        ivoa(access_url=SURVEY + "..%2Fhubsecret"),
        ivoa(ivoid="ivo://example.org/survey?..%2Fhubsecret"),
        ivoa(ivoid="ivo://example.org/survey/%2e%2e"),
        s3("sky", "dr1/../hubsecret"),
        s3("sky", "dr1/..%2Fhubsecret"),
        s3("sky", "dr1/%2e%2e/%2e%2e/etc/passwd"),
        s3("sky", "dr1/a\\..\\..\\x"),
        rucio("ska", "..%2Fhubsecret"),
        rucio("ska", "a/\x00"),
    ],
)
def test_a_remainder_that_could_leave_the_collection_never_matches(data: DataSpec) -> None:
    assert match(data, COLLECTIONS) is None


@pytest.mark.parametrize(
    ("data", "source"),
    [
        (simple(SURVEY + "dr1%2Fcat.fits"), "/srv/survey/dr1/cat.fits"),  # an escaped '/' is a '/'
        (simple(SURVEY + "/etc/passwd"), "/srv/survey/etc/passwd"),  # never absolute
        (simple(SURVEY + "a..b/c.fits"), "/srv/survey/a..b/c.fits"),  # '..' inside a name is a name
        (s3("sky", "dr1/%2Fa.fits"), "/srv/s3/a.fits"),
    ],
)
def test_a_safe_remainder_is_decoded_and_stays_inside(data: DataSpec, source: str) -> None:
    found = match(data, COLLECTIONS)
    assert found is not None and found[1] == source


def test_the_last_guard_keeps_every_source_inside_the_collection() -> None:
    survey = COLLECTIONS[0]
    assert _source(survey, "../hubsecret") is None
    assert _source(survey, "a/../../srv/survey-other") is None
    assert _source(survey, "a/../b") == "/srv/survey/b"
    assert _source(survey, "") == "/srv/survey"
    [root] = parse_collections({"all": {"path": "/", "url_prefix": "https://a.org/"}})
    assert _source(root, "x/y") == "/x/y"


def test_an_escaping_url_is_downloaded_as_any_other() -> None:
    url = SURVEY + "..%2Fhubsecret"
    r = req(simple(url, "s"))
    assert to_probe(r, CONFIG) == [url]
    result = place(r, CONFIG, {url: Probe(size=30_000_000)}, now=NOW)
    assert isinstance(result, DataPlan)
    [placement] = result.placements
    assert (placement.mode, placement.source, placement.location) == ("stage", None, url)


def vol(path: str, resource: str) -> VolumeMount:
    return VolumeMount(path, "READONLY", resource)


@pytest.mark.parametrize(
    ("names", "volumes", "path", "needle"),
    [
        (("a", "b"), (vol("/data/d", "a"), vol("/data/d/", "b")), "compute.volumes[1].path",
         "puts data 'b' at data/d, where compute.volumes[0].path already puts data 'a'"),
        (("a", "b"), (vol("/data/d", "a"), vol("/data/./d", "b")), "compute.volumes[1].path",
         "at data/d, where"),
        (("a", "b"), (vol("/data/d", "a"), vol("/data/d/evil.fits", "b")), "compute.volumes[1].path",
         "puts data 'b' at data/d/evil.fits and compute.volumes[0].path puts data 'a' at data/d, one inside"),
        (("a", "b"), (vol("/data/d/evil.fits", "a"), vol("/data/d", "b")), "compute.volumes[1].path",
         "at data/d and compute.volumes[0].path puts data 'a' at data/d/evil.fits, one inside the other"),
        (("x", "x"), (), "data[1]", "puts data 'x' at data/x, where data[0] already puts data 'x'"),
        (("a", "y"), (vol("/data", "a"),), "data[1]", "puts data 'y' at data/y and compute.volumes[0].path"),
    ],
)
def test_mounts_that_collide_or_nest_are_a_no(names: tuple[str, str], volumes: tuple[VolumeMount, ...],
                                             path: str, needle: str) -> None:
    data = [simple(SURVEY + "cat.fits", names[0]), simple("https://far.example.net/evil.fits", names[1])]
    probes = {"https://far.example.net/evil.fits": Probe(size=10)}
    result = place(req(*data, volumes=volumes), CONFIG, probes, now=NOW)
    assert isinstance(result, list)
    [message] = result
    assert (message.values["path"], message.kind, message.level) == (path, "urn:duplicate-resource", "ERROR")
    assert needle in message.message and "none inside another" in message.message


def test_mounts_that_share_only_a_prefix_are_fine() -> None:
    r = req(simple(SURVEY + "cat.fits", "a"), simple(SURVEY + "b.fits", "b"),
            volumes=(vol("/data/d", "a"), vol("/data/dd", "b")))
    result = place(r, CONFIG, now=NOW)
    assert isinstance(result, DataPlan)
    assert [p.mount for p in result.placements] == ["data/d", "data/dd"]


def test_the_settings_carry_the_address_policy_to_the_probe() -> None:
    from jupyterhub_execplanner.platform.datasets import data_config
    from jupyterhub_execplanner.service.settings import ExecPlanner

    config = data_config(ExecPlanner(fetch_allowed_hosts=["10.0.0.0/8", "mirror.internal"],
                                     public_url="https://hub.example.org/services/execplanner/"))
    assert config.fetch_allowed_hosts == ("10.0.0.0/8", "mirror.internal")
    assert config.own_urls == ("https://hub.example.org/services/execplanner/",)
    assert (data_config(ExecPlanner()).fetch_allowed_hosts, data_config(ExecPlanner()).own_urls) == ((), ())
