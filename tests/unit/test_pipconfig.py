"""uv with pip's configuration, and pip when uv cannot reach the index (issue 12, item 2).

The installs are real: a wheel built here, served by ``http.server`` on loopback in the PEP 503 layout
(a folder per project; the server's directory listing is the project's page), pip configured by a
``pip.conf`` that names only that index, and the real uv and pip of this environment. No public
index is reached: the user's and the system's pip configuration are moved out of the way.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hubprocess import free_port

from jupyterhub_execplanner.singleuser import pipconfig
from jupyterhub_execplanner.singleuser.install import install_requirements, venv_python

CONFIG_LIST = """\
global.cert='/etc/ssl/site.pem'
global.extra-index-url='https://mirror.example.org/extra\\nhttps://user:secret@private.example.org/simple'
global.find-links='/opt/wheels /srv/more'
global.index-url='https://mirror.example.org/simple'
install.index-url='https://install.example.org/simple'
global.trusted-host='mirror.example.org private.example.org'
user.not-a-section='x'
:env:.cert='/etc/ssl/from-env.pem'
:env:.default-timeout='180'
"""


def test_pips_effective_settings_are_read_in_pips_order() -> None:
    assert pipconfig.parse_config_list(CONFIG_LIST) == {
        "cert": "/etc/ssl/from-env.pem",  # PIP_CERT over the files
        "extra-index-url": "https://mirror.example.org/extra\nhttps://user:secret@private.example.org/simple",
        "find-links": "/opt/wheels /srv/more",
        "index-url": "https://install.example.org/simple",  # [install] over [global]
        "trusted-host": "mirror.example.org private.example.org",
        "default-timeout": "180",
    }


@pytest.mark.parametrize(
    ("pip", "environ", "expected"),
    [
        (pipconfig.parse_config_list(CONFIG_LIST), {}, {
            "UV_INDEX_URL": "https://install.example.org/simple",
            "UV_EXTRA_INDEX_URL": "https://mirror.example.org/extra https://user:secret@private.example.org/simple",
            "UV_INDEX_STRATEGY": "unsafe-best-match",  # pip's choice among indexes
            "UV_FIND_LINKS": "/opt/wheels,/srv/more",
            "UV_INSECURE_HOST": "mirror.example.org private.example.org",
            "SSL_CERT_FILE": "/etc/ssl/from-env.pem",
            "UV_HTTP_TIMEOUT": "180",
        }),
        # uv's own settings in the server's environment win
        ({"index-url": "https://a/simple", "cert": "/a.pem"},
         {"UV_DEFAULT_INDEX": "https://uv/simple", "SSL_CERT_FILE": "/uv.pem"}, {}),
        ({"no-index": "true", "find-links": "/w"}, {}, {"UV_NO_INDEX": "1", "UV_FIND_LINKS": "/w"}),
        ({}, {}, {}),  # pip as it comes: uv as it comes
    ],
)
def test_uv_gets_what_pip_is_told(pip: dict[str, str], environ: dict[str, str],
                                   expected: dict[str, str]) -> None:
    assert pipconfig.uv_environment(pip, environ) == expected


def test_the_message_names_the_index_without_its_password() -> None:
    given = pipconfig.uv_environment(pipconfig.parse_config_list(CONFIG_LIST), {})
    said = pipconfig.describe(given)
    assert "index https://install.example.org/simple" in said
    assert "private.example.org/simple" in said and "secret" not in said
    assert "certificates /etc/ssl/from-env.pem" in said


# ---- real installs from a loopback index that only pip is told about --------------------------------

PROJECT, VERSION = "execplanner-probe", "1.0"


def build_wheel(folder: Path) -> Path:
    """A pure-Python wheel of one module, ``execplanner_probe`` (``VALUE = 42``)."""
    files = {
        "execplanner_probe/__init__.py": b"VALUE = 42\n",
        f"execplanner_probe-{VERSION}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {VERSION}\n".encode(),
        f"execplanner_probe-{VERSION}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
        f"{len(data)}"
        for name, data in files.items()
    ]
    record_name = f"execplanner_probe-{VERSION}.dist-info/RECORD"
    files[record_name] = ("\n".join([*record, f"{record_name},,"]) + "\n").encode()
    wheel = folder / f"execplanner_probe-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def loopback_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """``http://127.0.0.1:PORT/simple/`` with the probe's wheel, and the user agents that asked."""
    root = tmp_path_factory.mktemp("index")
    project = root / "simple" / PROJECT
    project.mkdir(parents=True)
    build_wheel(project)
    agents: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            agents.append(self.headers.get("User-Agent", ""))

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", agents
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pip_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             loopback_index: tuple[str, list[str]]) -> Path:
    """A server whose pip knows only the loopback index (its pip.conf), and uv on the PATH."""
    if shutil.which("uv", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("uv is a test dependency: it must be in the test environment")
    for key in list(os.environ):
        if key.startswith(("PIP_", "UV_")) or key in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no user pip.conf or uv.toml
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))  # no site-wide one from /etc/xdg
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nindex-url = {loopback_index[0]}\ntrusted-host = 127.0.0.1\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{PROJECT}=={VERSION}\n")
    return requirements


def imports_the_probe(venv: Path) -> bool:
    done = subprocess.run([str(venv_python(venv)), "-c", "import execplanner_probe as p; print(p.VALUE)"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() == "42"


def test_uv_installs_from_the_index_pip_is_configured_for(
    pip_site: Path, tmp_path: Path, loopback_index: tuple[str, list[str]]
) -> None:
    said: list[str] = []
    agents = loopback_index[1]
    agents.clear()
    venv = tmp_path / "venv"
    install_requirements(venv, pip_site, preference="auto", say=said.append, count="1 requirement",
                         timeout=300, names=[PROJECT])
    assert imports_the_probe(venv)
    (message,) = said  # (the system's /etc/pip.conf may add its certificates)
    assert message.startswith("installing 1 requirement with uv (found on the server's PATH; with pip's "
                              f"settings: index {loopback_index[0]}, "), message
    assert message.endswith("trusted hosts 127.0.0.1)"), message
    assert agents and all(a.startswith("uv/") for a in agents), agents  # uv itself read the index


def test_pip_installs_when_uv_cannot_reach_its_index(
    pip_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_index: tuple[str, list[str]]
) -> None:
    # uv was given an index of its own that is gone (a stale UV_INDEX_URL): it cannot connect
    monkeypatch.setenv("UV_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple/")
    said: list[str] = []
    agents = loopback_index[1]
    agents.clear()
    venv = tmp_path / "venv"
    install_requirements(venv, pip_site, preference="auto", say=said.append, count="1 requirement",
                         timeout=300, names=[PROJECT])
    assert imports_the_probe(venv)
    assert said[0].startswith("installing 1 requirement with uv (found on the server's PATH")
    assert said[1] == "uv could not reach the package index; installing with pip instead"
    assert any(a.startswith("pip/") for a in agents), agents
