"""Hubs started as the README's quick start does (``bash scripts/hub.sh``), and the Playwright steps
the browser tests share: logging in, JupyterLab's launcher, saving, running a cell.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from hubprocess import ROOT, free_port

from jupyterhub_execplanner.links.sealing import Sealer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@dataclass
class Hub:
    """A hub started by ``scripts/hub.sh``: its public URL, state folder and process."""

    url: str
    state: Path
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the hub, its proxy and its servers
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def start_hub(folder: Path, host: str | None, extra: dict[str, str] | None = None,
              port: int | None = None) -> Hub:
    """``[EXECPLANNER_HUB_HOST=host] EXECPLANNER_HUB_PORT=… EXECPLANNER_STATE_DIR=… bash scripts/hub.sh``,
    as the README's quick start and its second hub; ``extra``: more of its environment."""
    port = port or free_port()
    state = folder / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_", "EXECPLANNER_"))}
    env.update({"EXECPLANNER_HUB_PORT": str(port), "EXECPLANNER_STATE_DIR": str(state)})
    if host:
        env["EXECPLANNER_HUB_HOST"] = host
    env.update(extra or {})
    log = folder / "hub.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "scripts/hub.sh"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    hub = Hub(f"http://{host or '127.0.0.1'}:{port}", state, process, log)
    deadline = time.monotonic() + 600  # the first start sets up (pip, npm) under a lock
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"scripts/hub.sh ended:\n{hub.log_tail()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/services/execplanner/", timeout=5).status_code == 200:
                return hub
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    hub.stop()
    raise AssertionError(f"hub on port {port} did not start:\n{hub.log_tail()}")


def dismiss_news(page: Any) -> None:
    """Close JupyterLab's "notify me of Jupyter news?" toast, if it is up."""
    toast = page.locator(".Toastify__toast").filter(has_text="Jupyter news")
    if toast.count():
        toast.get_by_role("button", name="No", exact=True).click()
        toast.wait_for(state="detached", timeout=5_000)


def login(page: Any, hub: Hub, user: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "any")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(re.compile(r".*/(hub/(home|spawn|spawn-pending)|user/).*"), timeout=60_000)


def save_as(page: Any, name: str) -> None:
    """Ctrl+S on a new document: JupyterLab asks for its name on the first save."""
    page.keyboard.press("Control+s")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    field = dialog.locator("input[type=text]")
    field.fill(name)
    field.press("Enter")
    dialog.wait_for(state="detached", timeout=10_000)


def run_first_cell(page: Any, notebook: Any, text: str, expect: Any) -> None:
    """Run the notebook's first cell once its kernel is idle (a run sent while the kernel still
    starts can be lost: then it is sent again), and wait for ``text`` in its output."""
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first).to_be_visible(timeout=120_000)
    output = notebook.locator(".jp-OutputArea-output").first
    for _ in range(3):
        notebook.locator(".jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(output).to_contain_text(text, timeout=40_000)
            return
        except AssertionError:
            continue
    expect(output).to_contain_text(text, timeout=40_000)


def new_from_launcher(page: Any, category: str, label: str) -> None:
    page.locator('[data-command="launcher:create"]').first.click()
    page.locator(f'.jp-LauncherCard[data-category="{category}"]:visible', has_text=label).first.click()


def linked_token(hub: Hub, user: str, peer: str) -> str:
    """The token ``hub``'s broker keeps for ``user``'s link to ``peer``, decrypted with the hub's key
    (``scripts/hub.sh`` keeps it in the state folder), as only the broker can: the row holds it
    encrypted."""
    with sqlite3.connect(hub.state / "execplanner.sqlite") as db:
        sealed = db.execute("SELECT token FROM execplanner_links WHERE owner = ? AND peer = ?",
                            (user, peer)).fetchone()[0]
    opened = Sealer({"JUPYTERHUB_CRYPT_KEY": (hub.state / "crypt_key").read_text().strip()}).open(sealed)
    assert opened is not None and opened not in sealed
    return opened


def user_token(hub: Hub, user: str) -> str:
    """A token of ``user`` on ``hub`` (a dummy-login hub), made as its /hub/token page does: log in,
    then ask the hub's API with the login cookie and its XSRF token."""
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=False) as http:
        page = http.get(f"{hub.url}/hub/login").text
        xsrf = re.search(r'name="_xsrf" value="([^"]*)"', page)
        assert xsrf, page[:300]
        answer = http.post(f"{hub.url}/hub/login",
                           data={"username": user, "password": "x", "_xsrf": xsrf.group(1)})
        assert answer.status_code in (302, 303), answer.text[:300]
        made = http.post(f"{hub.url}/hub/api/users/{user}/tokens", json={"note": "test"},
                         headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/") or xsrf.group(1),
                                  "Accept": "application/json"})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


@contextmanager
def chromium(failure: Path, width: int = 1280, height: int = 900) -> Iterator[tuple[Any, Any]]:
    """Debian's Chromium through Playwright, headless, with a home of its own: ``(page, context)``.
    A failure inside leaves a full-page screenshot at ``failure``."""
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="chromium-home-")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                         env={**os.environ, "HOME": home})
            context = browser.new_context(viewport={"width": width, "height": height})
            context.set_default_timeout(30_000)
            page = context.new_page()
            try:
                yield page, context
            except Exception:
                failure.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(failure), full_page=True)
                raise
            finally:
                browser.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def linked_pair(folders: Any, secret: str, peer: str) -> Iterator[tuple[Hub, Hub]]:
    """Hub A (``127.0.0.1``) whose users can link their accounts on hub B (``localhost``, named
    ``peer`` on hub A), both started by ``scripts/hub.sh`` as docs/linked-accounts.md says;
    ``folders`` is pytest's ``tmp_path_factory``. Yields once, stops both after."""
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://localhost:{port_b}"
    b = start_hub(folders.mktemp("linked-b"), "localhost", port=port_b,
                  extra={"EXECPLANNER_LINK_FROM": url_a, "EXECPLANNER_LINK_SECRET": secret})
    try:
        a = start_hub(folders.mktemp("linked-a"), None, port=port_a,
                      extra={"EXECPLANNER_PEER_URL": url_b, "EXECPLANNER_PEER_NAME": peer,
                             "EXECPLANNER_LINK_SECRET": secret})
    except BaseException:
        b.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


class Browser:
    """Cookies per host, redirects followed one by one (so each hop can be checked or replayed)."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, trust_env=False, timeout=60,
                                 headers={"Accept": "text/html"})

    def login(self, hub: Hub, user: str) -> None:
        page = self.http.get(f"{hub.url}/hub/login").text
        xsrf = _field(page, "_xsrf")
        answer = self.http.post(f"{hub.url}/hub/login",
                                data={"username": user, "password": "x", "_xsrf": xsrf})
        assert answer.status_code in (302, 303), answer.text[:300]

    def follow(self, url: str, *, until: str | None = None, login_at: tuple[Hub, str] | None = None,
               consent: bool = True) -> tuple[str, httpx.Response]:
        """Follow redirects from ``url``: logging in at ``login_at`` when its login page comes, and
        consenting on its OAuth page; stop at a URL containing ``until`` (not fetched) or at a page."""
        for _ in range(25):
            if until and until in url:
                return url, httpx.Response(0)
            answer = self.http.get(url)
            if answer.status_code in (301, 302, 303):
                following = urljoin(url, answer.headers["location"])
                if login_at and "/hub/login" in following and login_at[0].url in following:
                    self.login(*login_at)
                    following = urljoin(login_at[0].url, parse_qs(urlsplit(following).query)["next"][0])
                url = following
                continue
            if answer.status_code == 200 and "oauth2/authorize" in url and consent:
                scopes = re.findall(r'name="scopes" value="([^"]*)"', answer.text)
                answer = self.http.post(url, data={"_xsrf": _field(answer.text, "_xsrf"), "scopes": scopes})
                assert answer.status_code == 302, answer.text[:500]
                url = urljoin(url, answer.headers["location"])
                continue
            return url, answer
        raise AssertionError(f"too many redirects, at {url}")


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, page[:500]
    return found.group(1)


def link(a: Hub, b: Hub, user: str, remote: str, peer: str = "hub-b") -> Browser:
    """``user`` on hub A links their account ``remote`` on hub B (``peer`` there), as in a browser."""
    browser = Browser()
    browser.login(a, user)
    url, page = browser.follow(f"{a.url}/services/execplanner/links/{peer}/authorize", login_at=(b, remote))
    assert page.status_code == 200, page.text[:500]
    assert "/services/execplanner/links/callback" in url
    assert f"Linked as {remote} on {peer}" in page.text
    return browser
