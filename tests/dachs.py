"""A real IVOA data centre for the DataLink tests: GAVO DaCHS (Debian's ``gavodachs2-server``, installed
by scripts/setup-dachs.sh) on a free loopback port, with its own configuration and state folder.

:meth:`DataCentre.start` starts the system's PostgreSQL cluster when it is not running (DaCHS keeps its
tables there: the tables of this run are in a schema of their own, dropped at the end), writes a
``gavo.rc`` pointing DaCHS at a folder of the test's (``GAVOSETTINGS``) with the database profiles of
the package's set-up, writes a few small FITS files, imports the resource descriptor of
``tests/dachs_rd/q.rd`` (an ObsCore table whose ``access_url`` is each file's DataLink document, and
the DataLink service) with ``dachs imp``, publishes it with ``dachs pub`` and serves it with
``dachs serve debug``. Nothing here reaches the Internet.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

RD = Path(__file__).parent / "dachs_rd" / "q.rd"
SYSTEM_ETC = Path("/var/gavo/etc")  # the database profiles the package's set-up wrote
AUTHORITY = "x-execplanner-test"
COLLECTION = "xptest"  # the ObsCore obs_collection of the images
SCHEMATA = Path("/usr/lib/python3/dist-packages/gavo/resources/schemata")  # the IVOA XSDs DaCHS ships


@dataclass(frozen=True)
class Dataset:
    """One published image: its file, ivoid, ObsCore access_url (its DataLink document) and the
    dataset's own URL."""

    name: str
    path: Path
    ivoid: str
    datalink: str
    url: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-2000:]}")
    return done.stdout


def _postgres_running() -> None:
    """Start the system's PostgreSQL clusters that are down (a container starts none)."""
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    for line in listed.splitlines():
        version, cluster, _port, status, *_ = line.split()
        if status != "online":
            sudo = ["sudo", "-n"] if os.geteuid() != 0 and shutil.which("sudo") else []
            subprocess.run([*sudo, "pg_ctlcluster", version, cluster, "start"], check=True, timeout=120)


class DataCentre:
    """A running DaCHS with the test images published; :meth:`close` stops it and drops its tables."""

    def __init__(self, folder: Path, port: int, schema: str) -> None:
        self.folder, self.port, self.schema = folder, port, schema
        self.url = f"http://127.0.0.1:{port}"
        self.resdir = folder / "root" / "inputs" / schema
        self.env = {**os.environ, "GAVOSETTINGS": str(folder / "gavo.rc")}
        self.process: subprocess.Popen[bytes] | None = None
        self.datasets: dict[str, Dataset] = {}

    @classmethod
    def start(cls, folder: Path, sizes: dict[str, int] | None = None) -> DataCentre:
        if shutil.which("dachs") is None:
            raise RuntimeError("GAVO DaCHS is not installed: run scripts/setup-dachs.sh (as root)")
        _postgres_running()
        centre = cls(folder, free_port(), f"xptest{os.getpid()}")
        centre._configure()
        centre._write_images(sizes or {"img1": 100, "img2": 300, "img3": 650})
        centre._import()
        centre._serve()
        return centre

    def _configure(self) -> None:
        root = self.folder / "root"
        for sub in ("etc", "inputs/__system", "logs", "state", "cache", "tmp", "web"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for profile in SYSTEM_ETC.iterdir():
            shutil.copy(profile, root / "etc" / profile.name)
        (self.folder / "gavo.rc").write_text(
            f"[general]\nrootDir: {root}\n\n"
            f"[web]\nserverPort: {self.port}\nserverURL: {self.url}\nbindAddress: 127.0.0.1\n\n"
            f"[ivoa]\nauthority: {AUTHORITY}\n"
        )
        self.resdir.mkdir(parents=True)
        text = RD.read_text().replace('schema="xptest"', f'schema="{self.schema}"')
        (self.resdir / "q.rd").write_text(text)

    def _write_images(self, rows: dict[str, int]) -> None:
        """Images of 100 x ``rows`` 32-bit pixels (40 kB per 100 rows, plus the header)."""
        data = self.resdir / "data"
        data.mkdir()
        for name, height in rows.items():
            hdu = fits.PrimaryHDU(np.arange(100 * height, dtype=np.float32).reshape(height, 100))
            hdu.header["OBJECT"] = name
            hdu.writeto(data / f"{name}.fits")
            accref = f"{self.schema}/data/{name}.fits"
            ivoid = f"ivo://{AUTHORITY}/~?{accref}"
            dl = f"{self.url}/{self.schema}/q/dl/dlmeta?" + urllib.parse.urlencode(
                {"ID": ivoid}, quote_via=urllib.parse.quote)
            self.datasets[name] = Dataset(name, data / f"{name}.fits", ivoid, dl,
                                          f"{self.url}/getproduct/{accref}")

    def _import(self) -> None:
        _run(["dachs", "imp", "//obscore"], self.env, self.resdir)  # the ObsCore view, once per database
        _run(["dachs", "imp", "q"], self.env, self.resdir)
        _run(["dachs", "pub", "q"], self.env, self.resdir)

    def _serve(self) -> None:
        log = (self.folder / "serve.log").open("wb")
        self.process = subprocess.Popen(["dachs", "serve", "debug"], env=self.env, cwd=self.resdir,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        probe = self.service_url
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dachs serve ended: {(self.folder / 'serve.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(probe, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"DaCHS did not answer at {probe} within 90 s")

    @property
    def service_url(self) -> str:
        """The DataLink service's ``{links}`` endpoint (``?ID=<ivoid>`` gives a document)."""
        return f"{self.url}/{self.schema}/q/dl/dlmeta"

    @property
    def tap_url(self) -> str:
        return f"{self.url}/tap"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        try:
            _run(["dachs", "drop", "q"], self.env, self.resdir, timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired, OSError):
            pass  # the schema stays: the next run uses another one
