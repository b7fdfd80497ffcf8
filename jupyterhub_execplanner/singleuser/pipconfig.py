"""uv with pip's configuration: the same package index, certificates and trusted hosts as pip.

A site whose index is set for pip (``pip.conf``, ``PIP_INDEX_URL``, a certificate bundle in
``PIP_CERT``: a mirror, a proxy, a private index) would see uv fail to fetch anything: uv reads none
of it. :func:`read_pip_config` asks the server's own pip for its effective settings
(``python -m pip config list``: every file and ``PIP_*`` variable, in pip's order), and
:func:`uv_environment` gives the ``UV_*`` (and ``SSL_*``) variables that say the same to uv. What the
server's environment sets for uv already is left as it is: uv's own configuration wins.
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

# pip's option -> (uv's variable, how a list is joined for it). pip lists are whitespace-separated.
_MAPPING = {
    "index-url": ("UV_INDEX_URL", None),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
    "trusted-host": ("UV_INSECURE_HOST", " "),
    "cert": ("SSL_CERT_FILE", None),
    "client-cert": ("SSL_CLIENT_CERT", None),
    "constraint": ("UV_CONSTRAINT", " "),
    "timeout": ("UV_HTTP_TIMEOUT", None),
    "default-timeout": ("UV_HTTP_TIMEOUT", None),
}
_TRUE = ("1", "true", "yes", "on")
# sections pip reads for ``pip install``, lowest precedence first (":env:" is PIP_* variables)
_SECTIONS = ("global", "install", ":env:")


def parse_config_list(text: str) -> dict[str, str]:
    """pip's effective settings from the output of ``pip config list`` (``section.key='value'``
    lines, files first and ``PIP_*`` variables last): ``PIP_*`` over ``install.`` over ``global.``."""
    found: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        name, sep, raw = line.partition("=")
        section, dot, key = name.strip().rpartition(".")
        if not sep or not dot or section not in _SECTIONS:
            continue
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip().strip("'\"")
        found.setdefault(section, {})[key] = str(value)
    merged: dict[str, str] = {}
    for section in _SECTIONS:
        merged.update(found.get(section, {}))
    return merged


def read_pip_config(python: str, timeout: float = 30) -> dict[str, str]:
    """The effective settings of the pip of ``python`` (none when it has no pip or it fails)."""
    try:
        done = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True,
                              errors="replace", timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_config_list(done.stdout) if done.returncode == 0 else {}


def uv_environment(pip: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that give uv pip's settings ``pip``; none that ``environ`` sets already."""
    wanted: dict[str, str] = {}
    for option, (variable, joiner) in _MAPPING.items():
        value = pip.get(option, "").strip()
        if value:
            wanted.setdefault(variable, joiner.join(value.split()) if joiner else value)
    if pip.get("no-index", "").strip().lower() in _TRUE:
        wanted["UV_NO_INDEX"] = "1"
    if "UV_EXTRA_INDEX_URL" in wanted:
        # pip takes the best version from every index; uv by default stops at the first that has the
        # package: ask uv to do as pip does
        wanted["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    proxy = pip.get("proxy", "").strip()
    if proxy:
        wanted.setdefault("HTTPS_PROXY", proxy)
        wanted.setdefault("HTTP_PROXY", proxy)
    taken = set(environ)
    if taken & {"UV_DEFAULT_INDEX", "UV_INDEX_URL"}:  # the admin's own uv index: keep it
        wanted.pop("UV_INDEX_URL", None)
    if taken & {"UV_INDEX", "UV_EXTRA_INDEX_URL"}:
        wanted.pop("UV_EXTRA_INDEX_URL", None)
    return {k: v for k, v in wanted.items() if k not in taken}


def _shown(url: str) -> str:
    """A URL without its user and password, for a message."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))


def describe(given: Mapping[str, str]) -> str:
    """What of pip's configuration uv was given, for the session's messages (no passwords)."""
    said = []
    if "UV_INDEX_URL" in given:
        said.append(f"index {_shown(given['UV_INDEX_URL'])}")
    if "UV_EXTRA_INDEX_URL" in given:
        said.append(f"extra index {' '.join(_shown(u) for u in given['UV_EXTRA_INDEX_URL'].split())}")
    if "UV_FIND_LINKS" in given:
        said.append("find-links")
    if "UV_NO_INDEX" in given:
        said.append("no index")
    if "SSL_CERT_FILE" in given:
        said.append(f"certificates {given['SSL_CERT_FILE']}")
    if "UV_INSECURE_HOST" in given:
        said.append(f"trusted hosts {given['UV_INSECURE_HOST']}")
    return ", ".join(said)
