"""Loopback fixtures: a tiny wheel written by hand, an HTTP server that serves a folder and records the
progress reports POSTed to it, and a port that never answers. Nothing here reaches PyPI or the Internet."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def write_wheel(folder: Path, name: str = "tinypkg", version: str = "0.1") -> Path:
    """A pure-Python wheel written by hand: ``import tinypkg; tinypkg.VALUE == 42``."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


class Loopback:
    """Serves ``folder`` over http://127.0.0.1 and records POSTed progress reports."""

    def __init__(self, folder: Path) -> None:
        reports: list[dict[str, Any]] = []
        self.reports = reports
        self.folder = folder

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reports.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                                **json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def messages(self) -> list[str]:
        return [r["message"] for r in self.reports]


class Silent:
    """A loopback port that accepts connections (into the kernel's backlog) and never answers: a hub
    or broker that hangs. ``url`` ends with a slash."""

    def __init__(self, backlog: int = 256) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(backlog)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/"

    def close(self) -> None:
        self.socket.close()
