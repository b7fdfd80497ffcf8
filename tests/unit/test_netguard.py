"""The address policy as tables: every address class (v4, v6, IPv4-mapped and other embedded forms),
the allow list (CIDR ranges, addresses, names) and its validation, the hub's own hosts, the snapshot
path exception (decoded, normalised), and the guard's check with an injected resolver."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from traitlets import TraitError

from jupyterhub_execplanner.platform.netguard import (
    AddressRefused,
    AllowList,
    NetGuard,
    address_class,
    hub_hosts_of,
    hub_urls_from_env,
    is_snapshot_url,
    parse_allowed_hosts,
    refusal,
    snapshot_paths,
)
from jupyterhub_execplanner.service.settings import ExecPlanner

CLASSES = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("64:ff9b:1::1", "private"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("100.127.255.254", "shared (CGNAT)"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("fe80::1", "link-local"),
    ("fe80::1%lo", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fec0::1", "site-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"),
    ("198.51.100.1", "reserved"),
    ("203.0.113.1", "reserved"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("100::1", "reserved"),
    ("2001:db8::1", "reserved"),
    ("2001::1", "reserved"),  # Teredo
    ("4000::1", "reserved"),  # outside 2000::/3
    # IPv6 forms of IPv4 addresses are judged by the IPv4 address
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64
    ("2002:7f00:1::", "loopback"),  # 6to4
    ("2002:a00:1::", "private"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible
    # public
    ("8.8.8.8", None),
    ("172.32.0.1", None),
    ("100.128.0.1", None),
    ("193.0.0.1", None),
    ("2606:4700::1111", None),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::808:808", None),
    ("2002:808:808::", None),
]


@pytest.mark.parametrize(("address", "expected"), CLASSES, ids=[a for a, _ in CLASSES])
def test_address_classes(address: str, expected: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == expected


ALLOWS = [
    # (entries, host as written, address, allowed?)
    (["127.0.0.0/8"], "127.0.0.1", "127.0.0.1", True),
    (["127.0.0.0/8"], "x", "127.9.9.9", True),
    (["127.0.0.0/8"], "x", "::ffff:127.0.0.1", True),  # the mapped form of an allowed address
    (["127.0.0.0/8"], "x", "::1", False),
    (["::1"], "x", "::1", True),
    (["::1"], "x", "127.0.0.1", False),
    (["10.1.2.3"], "x", "10.1.2.3", True),
    (["10.1.2.3"], "x", "10.1.2.4", False),
    (["fd00::/8"], "x", "fd00::5", True),
    (["fd00::/8"], "x", "fc00::5", False),
    (["localhost"], "localhost", "127.0.0.1", True),
    (["localhost"], "LOCALHOST.", "::1", True),  # names compare without case or trailing dot
    (["localhost"], "127.0.0.1", "127.0.0.1", False),  # a name allows the name, not its address
    (["data.internal.example.org"], "data.internal.example.org", "10.9.8.7", True),
    (["data.internal.example.org"], "other.internal.example.org", "10.9.8.7", False),
    (["Data.Internal.Example.ORG."], "data.internal.example.org", "10.9.8.7", True),
    (["0.0.0.0/0", "::/0"], "x", "169.254.169.254", True),
    ([], "x", "127.0.0.1", False),
]


@pytest.mark.parametrize(("entries", "host", "address", "allowed"), ALLOWS)
def test_the_allow_list(entries: list[str], host: str, address: str, allowed: bool) -> None:
    assert parse_allowed_hosts(entries).allows(host, ipaddress.ip_address(address)) is allowed


MALFORMED = [
    ("127.0.0.1/8", "'127.0.0.1/8' has bits set after the prefix length; did you mean '127.0.0.0/8'?"),
    ("10.0.0.0/33", "'10.0.0.0/33' is not a CIDR range"),
    ("http://data.example.org/x", "'http://data.example.org/x' is a URL; give only its host, e.g. "
                                  "'data.example.org'"),
    ("*.example.org", "'*.example.org' has a wildcard"),
    ("[::1]", "'[::1]' has brackets; write the address without them: '::1'"),
    ("data.example.org:8080", "'data.example.org:8080' has a port"),
    ("127.1", "'127.1' looks like an address but is not one"),
    ("1::2::3", "'1::2::3' is not an IPv6 address"),
    ("", "an entry is empty"),
    ("two words", "'two words' is not a host name, an address or a CIDR range"),
    ("under_score-.example.org", "is not a host name"),
    (5, "5 is not text"),
]


@pytest.mark.parametrize(("entry", "why"), MALFORMED, ids=[str(e) for e, _ in MALFORMED])
def test_malformed_entries_are_refused_naming_the_setting_and_the_entry(entry: object, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_allowed_hosts(["::1", entry])
    message = str(caught.value)
    assert message.startswith("c.ExecPlanner.fetch_allowed_hosts: ") and why in message, message


def test_the_setting_is_validated_at_start() -> None:
    assert ExecPlanner().fetch_allowed_hosts == []
    settings = ExecPlanner(fetch_allowed_hosts=[" 127.0.0.0/8", "::1", "localhost"])
    assert settings.fetch_allowed_hosts == ["127.0.0.0/8", "::1", "localhost"]
    with pytest.raises(TraitError, match=r"ExecPlanner.fetch_allowed_hosts: '10.0.0.1/8' has bits set .* "
                                         r"did you mean '10.0.0.0/8'\?"):
        ExecPlanner(fetch_allowed_hosts=["10.0.0.1/8"])


def test_the_hubs_own_hosts() -> None:
    env = {"JUPYTERHUB_API_URL": "http://hub:8081/hub/api", "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888/",
           "JUPYTERHUB_PUBLIC_URL": "", "JUPYTERHUB_PUBLIC_HUB_URL": "https://Hub.Example.org/hub/",
           "JUPYTERHUB_HOST": "https://hub.example.org", "OTHER": "http://elsewhere/"}
    urls = hub_urls_from_env(env)
    assert urls == ("http://hub:8081/hub/api", "http://0.0.0.0:8888/", "https://Hub.Example.org/hub/",
                    "https://hub.example.org")
    # 0.0.0.0 is "every interface": not a host to compare with
    hosts = hub_hosts_of([*urls, "http://[::1]:5/", "", "hub.example.org."])
    assert hosts == {"hub", "hub.example.org", "::1"}


def test_snapshot_paths() -> None:
    assert snapshot_paths("/hub/", "execplanner") == ("/services/execplanner/snapshots/",)
    assert snapshot_paths("/jupyter/hub/", "eb", "https://hub.example.org/jupyter/services/eb/") == (
        "/jupyter/services/eb/snapshots/",)
    assert snapshot_paths("/hub/", "execplanner", "https://broker.example.org/") == (
        "/services/execplanner/snapshots/", "/snapshots/")


PATHS = ("/services/execplanner/snapshots/",)
SNAPSHOT_URLS = [
    ("/services/execplanner/snapshots/AbC_-123456789012345/analysis.ipynb", True),
    ("/services/execplanner/snapshots/AbC_-123456789012345/my%20notebook.ipynb", True),
    ("/services/execplanner/snapshots/AbC_-123456789012345/requirements.txt", True),
    # not one snapshot file
    ("/services/execplanner/snapshots/", False),
    ("/services/execplanner/snapshots/token", False),
    ("/services/execplanner/snapshots/token/", False),
    ("/services/execplanner/snapshots/token/a/b", False),
    ("/services/execplanner/snapshots//a", False),
    ("/services/execplanner/sessions/x/y", False),
    ("/services/other/snapshots/token/a", False),
    ("/hub/api/users", False),
    ("/SERVICES/execplanner/snapshots/token/a", False),
    # traversal, plain and encoded: decoded once, then no dot segment and no '%' left
    ("/services/execplanner/snapshots/../../hub/api", False),
    ("/services/execplanner/snapshots/token/..", False),
    ("/services/execplanner/snapshots/./token/a", False),
    ("/services/execplanner/snapshots/%2e%2e/%2e%2e/hub/api", False),
    ("/services/execplanner/snapshots/%2E%2E%2F%2E%2E%2Fhub/api", False),
    ("/services/execplanner/snapshots/token%2F..%2F..%2Fhub%2Fapi", False),
    ("/services/execplanner/snapshots/%252e%252e/a", False),
    ("/services/execplanner/snapshots/token/..%5c..%5chub", False),
    ("/services/execplanner/snapshots/token/a%00b", False),
    ("/services/execplanner/snapshots/to%20ken/a", False),
    ("/services/execplanner/snapshots/token/a;b", False),
    ("/services/execplanner/snapshots/token/a?x=1", False),
    ("/services/execplanner/snapshots/token/a#f", False),
]


@pytest.mark.parametrize(("path", "expected"), SNAPSHOT_URLS, ids=[p for p, _ in SNAPSHOT_URLS])
def test_only_a_snapshot_file_is_a_snapshot_url(path: str, expected: bool) -> None:
    assert is_snapshot_url(f"http://127.0.0.1:8000{path}", PATHS) is expected


HUB = frozenset({"hub.example.org", "127.0.0.1"})
HUB_ADDRESSES = frozenset({ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.5")})
DECISIONS = [
    # (allowed entries, host, address, own snapshot?, refusal)
    ([], "data.example.org", "93.184.215.14", False, None),
    ([], "data.example.org", "10.1.1.1", False, "private"),
    ([], "hub.example.org", "93.184.215.14", False, "the hub's own address"),  # by name
    ([], "alias.example.org", "10.0.0.5", False, "the hub's own address"),  # by address
    ([], "x", "::ffff:10.0.0.5", False, "the hub's own address"),
    ([], "hub.example.org", "93.184.215.14", True, None),  # the hub's snapshot
    ([], "alias.example.org", "10.0.0.5", True, None),
    ([], "127.0.0.1", "127.0.0.1", True, None),
    ([], "elsewhere", "10.1.1.1", True, "private"),  # a snapshot path elsewhere is no exception
    ([], "elsewhere", "127.0.0.2", True, "loopback"),
    (["10.0.0.0/8"], "alias.example.org", "10.0.0.5", False, None),  # the admin's entry wins
    (["hub.example.org"], "hub.example.org", "93.184.215.14", False, None),
]


@pytest.mark.parametrize(("entries", "host", "address", "own", "expected"), DECISIONS)
def test_refusal(entries: list[str], host: str, address: str, own: bool, expected: str | None) -> None:
    assert refusal(host, ipaddress.ip_address(address), allowed=parse_allowed_hosts(entries),
                   hub_hosts=HUB, hub_addresses=HUB_ADDRESSES, own_snapshot=own) == expected


class Answers:
    """A resolver that gives each answer in turn (the last one again), counting the calls."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers, self.calls = list(answers), []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_every_address_of_a_name_must_be_allowed() -> None:
    guard = NetGuard(AllowList(), resolver=Answers(["93.184.215.14", "127.0.0.1"]))
    with pytest.raises(AddressRefused) as caught:
        guard.checked_addresses("data.example.org", 80)
    assert caught.value.host == "data.example.org" and caught.value.reason == "loopback"
    good = NetGuard(AllowList(), resolver=Answers(["93.184.215.14", "2606:4700::1111"]))
    assert [str(a) for a in good.checked_addresses("data.example.org", 80)] == ["93.184.215.14",
                                                                              "2606:4700::1111"]


def test_an_address_is_not_resolved_and_the_hubs_names_are_resolved_once() -> None:
    answers = Answers(["10.0.0.5"])
    guard = NetGuard.build(hub_urls=["http://hub:8081/hub/api"], resolver=answers)
    with pytest.raises(AddressRefused, match="the hub's own address"):
        guard.checked_addresses("10.0.0.5", 80)
    with pytest.raises(AddressRefused, match="the hub's own address"):
        guard.checked_addresses("::ffff:10.0.0.5", 80)
    assert answers.calls == ["hub"]


def test_a_name_that_does_not_resolve_is_an_os_error() -> None:
    def nothing(host: str, port: int) -> Sequence[str]:
        return []

    with pytest.raises(OSError, match="has no address"):
        NetGuard(resolver=nothing).checked_addresses("nowhere.example.org", 80)


def test_the_own_snapshot_needs_the_hubs_host_name() -> None:
    guard = NetGuard.build(hub_urls=["http://127.0.0.1:8081/hub/api"],
                           snapshot_paths=snapshot_paths("/hub/", "execplanner"))
    url = "/services/execplanner/snapshots/AbC_-123456789012345/a.ipynb"
    assert guard.is_own_snapshot(f"http://127.0.0.1:8000{url}")
    assert not guard.is_own_snapshot(f"http://127.0.0.2:8000{url}")
    assert not guard.is_own_snapshot("http://127.0.0.1:8000/services/execplanner/snapshots/../../hub/api")


def test_the_services_guard_knows_the_hub_from_its_environment_and_public_url() -> None:
    from jupyterhub_execplanner.platform.datasets import DataConfig
    from jupyterhub_execplanner.platform.probe import guard_for

    config = DataConfig(fetch_allowed_hosts=("10.0.0.0/8",),
                        own_urls=("https://Hub.Example.org/services/execplanner/",))
    guard = guard_for(config, {"JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
                               "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:10101"})
    assert guard.hub_hosts == {"hub", "hub.example.org", "127.0.0.1"}
    assert guard.allowed.networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert guard_for(None, {}).hub_hosts == frozenset() and guard_for(None, {}).allowed == AllowList()
