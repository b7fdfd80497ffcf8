"""Which network addresses the broker and a session's preload may reach for a URL a request names.

A request names URLs (data locations, the notebook, its requirements file) that the broker measures
with ``HEAD`` (:mod:`.probe`) and the session's server downloads (:mod:`..singleuser.fetch`), from
their own network position: often the hub's host or cluster. So, by default, neither connects to
loopback, link-local, private (RFC 1918, unique-local ``fc00::/7``, CGNAT ``100.64.0.0/10``),
unspecified, multicast or reserved addresses (nor their IPv4-mapped, NAT64 and 6to4 forms), nor to
the hub's own addresses (the hosts of ``$JUPYTERHUB_API_URL``, ``$JUPYTERHUB_SERVICE_URL``, the hub's
public URL when known). An admin allows hosts by name, address or CIDR range in
``c.ExecPlanner.fetch_allowed_hosts``.

The check is made on the addresses a host name resolves to, and the connection then goes to one of
those very addresses (:meth:`NetGuard.connect`, and the httpcore backend in :mod:`.probe`): no second
DNS answer can lead it elsewhere. TLS still verifies the host name of the URL. Every redirect is a new
connection, checked again.

One exception: a notebook or requirements file at a snapshot URL of this broker on the hub's own
address (``/services/<name>/snapshots/<token>/<file>``: the lab panel snapshots a notebook on the
user's own hub and the offer names that URL). The path is decoded once and must then be exactly that
shape: no ``.``/``..`` segment, no ``%`` left, backslash, control character, query or extra segment.

Only the standard library is used here: the preload imports this module inside the user's server.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

SETTING = "c.ExecPlanner.fetch_allowed_hosts"
HUB_URL_VARIABLES = ("JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_PUBLIC_URL",
                     "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST")
EXAMPLES = "a host name ('data.internal.example.org'), an address ('10.1.2.3', '::1') or a CIDR range " \
           "('10.0.0.0/8')"

# The address classes refused by default, first match wins (so '::' is unspecified, not reserved).
_CLASSES: tuple[tuple[str, tuple[Network, ...]], ...] = tuple(
    (name, tuple(ipaddress.ip_network(n) for n in networks))
    for name, networks in (
        ("unspecified", ("0.0.0.0/8", "::/128")),
        ("loopback", ("127.0.0.0/8", "::1/128")),
        ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "64:ff9b:1::/48")),
        ("shared (CGNAT)", ("100.64.0.0/10",)),
        ("link-local", ("169.254.0.0/16", "fe80::/10")),
        ("unique-local", ("fc00::/7",)),
        ("site-local", ("fec0::/10",)),
        ("multicast", ("224.0.0.0/4", "ff00::/8")),
        ("reserved", ("192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
                      "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "::/8", "100::/64",
                      "2001::/23", "2001:db8::/32", "3fff::/20")),
    )
)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_HOST_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
                        r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_UNSAFE_PATH = re.compile(r"[\\%\x00-\x1f\x7f]")


class AddressRefused(Exception):
    """A host whose address this hub does not connect to. ``reason`` (the address class, or "the
    hub's own address") is for tests and logs; messages for users say less."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} is not an address this hub fetches from ({reason})")
        self.host, self.reason = host, reason


# -- pure: address classes, the allow list, hosts and paths -------------------------------------------


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (``::ffff:a.b.c.d``), NAT64
    (``64:ff9b::/96``), 6to4 (``2002::/16``) or IPv4-compatible (``::a.b.c.d``); else None."""
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def address_class(ip: IPAddress) -> str | None:
    """Why ``ip`` is refused by default ("loopback", "private", "link-local", ...), or None for a
    public unicast address. An IPv6 form of an IPv4 address is judged by that IPv4 address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return address_class(inner)
    for name, networks in _CLASSES:
        if any(ip.version == net.version and ip in net for net in networks):
            return name
    if ip.version == 6 and ip not in _GLOBAL_UNICAST:
        return "reserved"
    if not ip.is_global:  # whatever else the standard library knows is not public
        return "reserved"
    return None


def normal_host(host: str) -> str:
    """A host as compared here: lower case, without brackets or a trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def without_scope(ip: IPAddress) -> IPAddress:
    """``ip`` without an IPv6 zone (``fe80::1%eth0``), for comparing addresses."""
    return ipaddress.ip_address(str(ip).split("%")[0])


def as_address(host: str) -> IPAddress | None:
    """``host`` as an IP address (an IPv6 scope kept), or None for a name."""
    try:
        return ipaddress.ip_address(normal_host(host))
    except ValueError:
        return None


@dataclass(frozen=True)
class AllowList:
    """The admin's ``fetch_allowed_hosts``: host names (exact) and address ranges."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def allows(self, host: str, ip: IPAddress) -> bool:
        """Whether ``host`` (by name) or ``ip`` (or the IPv4 address it stands for) is allowed."""
        if normal_host(host) in self.names:
            return True
        plain = without_scope(ip)
        inner = embedded_ipv4(plain)
        candidates = [plain] if inner is None else [plain, inner]
        return any(c.version == net.version and c in net for c in candidates for net in self.networks)


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, str):
        return f"{entry!r} is not text; give {EXAMPLES}"
    text = entry.strip()
    if not text:
        return f"an entry is empty; remove it, or give {EXAMPLES}"
    if "://" in text:
        host = urlsplit(text).hostname or "the host"
        return f"{entry!r} is a URL; give only its host, e.g. {host!r}"
    if "*" in text:
        return f"{entry!r} has a wildcard; name each host, or give a CIDR range"
    if text.startswith("[") and text.endswith("]"):
        return f"{entry!r} has brackets; write the address without them: {text[1:-1]!r}"
    return None


def parse_allowed_hosts(entries: Iterable[object], setting: str = SETTING) -> AllowList:
    """The :class:`AllowList` of ``entries``; ValueError naming ``setting`` and the bad entry."""
    names: set[str] = set()
    networks: list[Network] = []
    for entry in entries:
        problem = _entry_problem(entry)
        if problem is None:
            assert isinstance(entry, str)
            text = entry.strip()
            try:
                if "/" in text:
                    networks.append(ipaddress.ip_network(text, strict=True))
                    continue
                networks.append(ipaddress.ip_network(ipaddress.ip_address(text)))
                continue
            except ValueError as e:
                problem = _address_problem(entry, text, e)
            if problem is None and _HOST_NAME.fullmatch(normal_host(text)):
                names.add(normal_host(text))
                continue
            problem = problem or f"{entry!r} is not a host name, an address or a CIDR range; give {EXAMPLES}"
        raise ValueError(f"{setting}: {problem}.")
    return AllowList(frozenset(names), tuple(networks))


def _address_problem(entry: str, text: str, error: ValueError) -> str | None:
    """Why ``text``, which is not an address or range, is wrong; None if it may be a host name."""
    if "/" in text:
        if "host bits set" in str(error):
            fixed = ipaddress.ip_network(text, strict=False)
            return f"{entry!r} has bits set after the prefix length; did you mean {str(fixed)!r}?"
        return f"{entry!r} is not a CIDR range; write one like '10.0.0.0/8' or 'fd00::/8'"
    if re.fullmatch(r"[0-9.]+", text):
        return f"{entry!r} looks like an address but is not one; write all four numbers, e.g. '10.0.0.1'"
    if ":" in text:
        if text.count(":") == 1:
            return f"{entry!r} has a port; give the host only (every port of an allowed host is allowed)"
        return f"{entry!r} is not an IPv6 address; write one like '::1' or 'fd00::1'"
    return None


def host_of(url: str) -> str | None:
    """The host of ``url`` as compared here, or None. A bare host (``$JUPYTERHUB_HOST`` may be one)
    is its own host."""
    if not url:
        return None
    try:
        host = urlsplit(url if "://" in url else f"//{url}").hostname
    except ValueError:
        return None
    return normal_host(host) if host else None


def hub_urls_from_env(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The hub's own URLs that JupyterHub gives a service or a single-user server."""
    return tuple(environ[name] for name in HUB_URL_VARIABLES if environ.get(name))


def hub_hosts_of(urls: Iterable[str]) -> frozenset[str]:
    """The hosts of the hub's URLs, less unspecified ones (``0.0.0.0``: "every interface")."""
    hosts = set()
    for url in urls:
        host = host_of(url)
        ip = as_address(host) if host else None
        if host and not (ip is not None and ip.is_unspecified):
            hosts.add(host)
    return frozenset(hosts)


def snapshot_paths(hub_base_url: str, service_name: str, public_url: str = "") -> tuple[str, ...]:
    """The paths of this broker's snapshot files: ``<base>services/<name>/snapshots/`` (``hub_base_url``
    is the hub's own prefix, ``/hub/`` or ``/<base>/hub/``), and under the broker's ``public_url``."""
    base = hub_base_url if hub_base_url.startswith("/") else f"/{hub_base_url}"
    base = base if base.endswith("/") else f"{base}/"
    if base.endswith("/hub/"):
        base = base[: -len("hub/")]
    paths = [f"{base}services/{service_name}/snapshots/"]
    if public_url:
        path = urlsplit(public_url).path or "/"
        paths.append(f"{path if path.endswith('/') else path + '/'}snapshots/")
    return tuple(dict.fromkeys(paths))


def is_snapshot_url(url: str, paths: Sequence[str]) -> bool:
    """Whether ``url`` names one snapshot file under one of ``paths``: decoded once, then exactly
    ``<path><token>/<file>``, with no query, fragment, dot segment, ``%``, backslash or control
    character (so ``snapshots/../../hub/api`` and ``snapshots/%2e%2e/...`` are not)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.query or parts.fragment or ";" in parts.path:
        return False
    path = unquote(parts.path)
    if _UNSAFE_PATH.search(path):
        return False
    for prefix in paths:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix):].split("/")
        if len(rest) == 2 and _TOKEN.fullmatch(rest[0]) and rest[1] not in ("", ".", ".."):
            return True
    return False


def refusal(host: str, ip: IPAddress, *, allowed: AllowList, hub_hosts: frozenset[str],
            hub_addresses: frozenset[IPAddress], own_snapshot: bool = False) -> str | None:
    """Why the connection to ``ip`` for ``host`` is refused, or None. In order: an allowed name or
    range is reached; the hub's own host or address only for its snapshots (``own_snapshot``);
    then every address class but public unicast is refused."""
    if allowed.allows(host, ip):
        return None
    plain = without_scope(ip)
    on_hub = normal_host(host) in hub_hosts or plain in hub_addresses or embedded_ipv4(plain) in hub_addresses
    if on_hub:
        return None if own_snapshot else "the hub's own address"
    return address_class(plain)


# -- I/O: resolving and connecting to the checked address ----------------------------------------------


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (``socket.getaddrinfo``), in the system's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class NetGuard:
    """The address policy of one hub, with the resolver it uses (injectable for tests)."""

    allowed: AllowList = field(default_factory=AllowList)
    hub_hosts: frozenset[str] = frozenset()
    snapshot_paths: tuple[str, ...] = ()
    resolver: Resolver = system_resolver
    _hub_addresses: frozenset[IPAddress] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, allowed_hosts: Iterable[object] = (), hub_urls: Iterable[str] = (),
              snapshot_paths: Sequence[str] = (), *, resolver: Resolver = system_resolver,
              setting: str = SETTING) -> NetGuard:
        """A guard from the admin's entries (ValueError naming ``setting`` if one is wrong)."""
        return cls(parse_allowed_hosts(allowed_hosts, setting), hub_hosts_of(hub_urls),
                   tuple(snapshot_paths), resolver)

    def is_own_snapshot(self, url: str) -> bool:
        """Whether ``url`` is a snapshot file of this broker on a host named as the hub's own."""
        return host_of(url) in self.hub_hosts and is_snapshot_url(url, self.snapshot_paths)

    def hub_addresses(self) -> frozenset[IPAddress]:
        """The addresses of the hub's own hosts (resolved once; a host that does not resolve is left
        out: its name is still the hub's)."""
        if self._hub_addresses is None:
            found: set[IPAddress] = set()
            for host in self.hub_hosts:
                literal = as_address(host)
                try:
                    texts = [str(literal)] if literal is not None else self.resolver(host, 0)
                except OSError:
                    continue
                found.update(without_scope(ipaddress.ip_address(t)) for t in texts)
            self._hub_addresses = frozenset(found)
        return self._hub_addresses

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for ``host``: itself if it is an address, else the
        resolver's answer. OSError (socket.gaierror) when it does not resolve."""
        literal = as_address(host)
        if literal is not None:
            return [literal]
        addresses = [ipaddress.ip_address(text) for text in self.resolver(normal_host(host), port)]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        return addresses

    def checked_addresses(self, host: str, port: int, *, own_snapshot: bool = False) -> list[IPAddress]:
        """The addresses of ``host``, every one of them allowed; AddressRefused if any is not (a
        name that also resolves to an internal address is not fetched at all)."""
        addresses = self.resolve(host, port)
        hub = self.hub_addresses()
        for ip in addresses:
            reason = refusal(host, ip, allowed=self.allowed, hub_hosts=self.hub_hosts, hub_addresses=hub,
                             own_snapshot=own_snapshot)
            if reason is not None:
                raise AddressRefused(host, reason)
        return addresses

    def connect(self, host: str, port: int, timeout: float | None = None,
                source_address: tuple[str, int] | None = None, *,
                own_snapshot: bool = False) -> socket.socket:
        """A TCP connection to one of the checked addresses of ``host`` (tried in order)."""
        error: OSError | None = None
        for ip in self.checked_addresses(host, port, own_snapshot=own_snapshot):
            try:
                return socket.create_connection((str(ip), port), timeout, source_address)
            except OSError as e:
                error = e
        assert error is not None
        raise error
