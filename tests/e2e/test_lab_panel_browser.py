"""End to end in a real browser: JupyterLab on hub A, the "Run elsewhere" panel asks hub A and hub B
for a notebook that needs a survey file, which hub A holds and hub B must download; the offers show
the data's proximity and the cost, sort by either; it accepts hub B's offer, follows its progress to
AVAILABLE (the file downloaded into the session's folder) and opens the notebook running on hub B.
Before that, with a third hub ticked that never answers, hub A's and hub B's offers are shown while
that hub is still "asking", and it turns "timeout" after the per-hub wait.

Two real JupyterHubs with the broker, configurable-http-proxy and real single-user servers (JupyterLab
with this package's lab extension and server extension, as installed by ``scripts/setup.sh``), driven
by Debian's ``/usr/bin/chromium`` through Playwright. Screenshots of the offer table and the progress
view are saved under ``$EXECPLANNER_ARTIFACTS`` (default ``artifacts/`` in the checkout).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubprocess import ROOT, RealHub
from loopback import Loopback, Silent
from quickhubs import CHROMIUM, chromium, dismiss_news, login

from jupyterhub_execplanner import launch

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(os.environ.get("EXECPLANNER_ARTIFACTS") or ROOT / "artifacts")
MARKER = "print('hello from hub A, run on hub B')"

PROFILE = [{"display_name": "Small", "slug": "small",
            "kubespawner_override": {"cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G",
                                     "mem_limit": "1G"}}]
SETTINGS: dict[str, Any] = {
    "profiles": PROFILE,
    "capacity": {"default": {"cores": 4, "memory": 8}},
    "offer_expiry": 300,
    "prepare_time": 5,
    "max_offers": 1,
}
# the two hubs charge differently, so the cost column has something to compare
PRICES_A = {"*": {"core_hour": 0.12, "gib_hour": 0.01, "currency": "EUR", "kwh_per_core_hour": 0.012,
                  "carbon_per_kwh": 300}}
PRICES_B = {"*": {"core_hour": 0.05, "gib_hour": 0.005, "currency": "EUR", "kwh_per_core_hour": 0.01,
                  "carbon_per_kwh": 50}}
# the survey file: hub A holds it (a data collection), hub B downloads it from the archive at 50 kB/s
SURVEY = bytes(range(250)) * 600  # 150 kB: "150 kB, ~3 s" on hub B
BANDWIDTH = 50_000
# the per-hub wait while the hung hub is ticked: A's and B's offers must be in long before it ends
HUNG_TIMEOUT = 8
# JupyterLab as the single-user UI
LAB_CONFIG = """
c.Spawner.default_url = "/lab"
"""


def notebook() -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": [MARKER]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    })


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    """The survey's archive: a loopback web site serving survey/cat.fits."""
    folder = tmp_path_factory.mktemp("archive")
    (folder / "survey").mkdir()
    (folder / "survey" / "cat.fits").write_bytes(SURVEY)
    server = Loopback(folder)
    yield server
    server.close()




@pytest.fixture(scope="module")
def hung() -> Iterator[Silent]:
    silent = Silent()
    yield silent
    silent.close()


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory, site: Loopback) -> Iterator[tuple[RealHub, RealHub]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup-browser.sh")
    held = tmp_path_factory.mktemp("a-disk")
    (held / "cat.fits").write_bytes(b"hub A's own copy")
    collections = {"survey": {"path": str(held), "url_prefix": f"{site.url}/survey/"}}
    a = RealHub.start(tmp_path_factory.mktemp("lab-hub-a"), extra_config=LAB_CONFIG,
                      settings={**SETTINGS, "prices": PRICES_A, "data_collections": collections})
    try:
        b = RealHub.start(tmp_path_factory.mktemp("lab-hub-b"), extra_config=LAB_CONFIG,
                          settings={**SETTINGS, "prices": PRICES_B, "data_bandwidth": {site.url: BANDWIDTH}})
    except Exception:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        b.stop()
        a.stop()


def start_server(hub: RealHub, user: str) -> None:
    """Alice's default server on hub A, with her notebook and its requirements in her home."""
    hub.user_token(user)
    home = hub.folder / "home" / user
    home.mkdir(parents=True, exist_ok=True)
    (home / "analysis.ipynb").write_text(notebook())
    (home / "requirements.txt").write_text("# nothing beyond the base environment\n")
    response = hub.api("POST", f"users/{user}/server")
    assert response.status_code in (201, 202), response.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server = (hub.api("GET", f"users/{user}").json().get("servers") or {}).get("")
        if server and server.get("ready"):
            return
        time.sleep(0.25)
    raise AssertionError(f"{user}'s server on hub A did not become ready:\n{hub.log_tail()}")


def test_run_elsewhere_from_jupyterlab(hubs: tuple[RealHub, RealHub], site: Loopback, hung: Silent) -> None:
    from playwright.sync_api import expect

    a, b = hubs
    start_server(a, "alice")
    b_token = b.user_token("alice")
    with chromium(ARTIFACTS / "lab-failure.png", 1500, 950) as (page, context):
        _drive(page, a, b, b_token, f"{site.url}/survey/cat.fits", hung.url, context, expect)


def data_cell(row: Any) -> Any:
    """The offer row's Data cell (columns: hub, profile, cores, memory, accelerators, start, duration,
    cost, data, expires in)."""
    return row.locator("td").nth(8)


def add_hub(panel: Any, name: str, url: str, token: str, expect: Any, unreachable: bool = False) -> Any:
    """Add a hub with the panel's form (it is checked, and ticked); its row."""
    panel.get_by_test_id("ep-add-name").fill(name)
    panel.get_by_test_id("ep-add-url").fill(url)
    panel.get_by_test_id("ep-add-token").fill(token)
    panel.get_by_test_id("ep-add-submit").click()
    if unreachable:  # the check cannot reach it: the panel offers to add it all the same
        expect(panel.locator('[data-testid="ep-add-problem"][data-field="url"]')).to_contain_text(
            "cannot reach", timeout=30_000)
        panel.get_by_test_id("ep-add-anyway").click()
    else:
        expect(panel.get_by_test_id("ep-add-connected")).to_have_text(f"{name}: connected as alice")
    row = panel.locator(f'[data-testid="ep-hub"][data-hub="{name}"]')
    expect(row).to_be_visible()
    expect(row.get_by_test_id("ep-hub-check")).to_be_checked()  # a hub added is ticked
    return row


def ask_with_a_hung_hub(page: Any, panel: Any, own_name: str, hung_url: str, expect: Any) -> None:
    """Tick a hub that never answers: the others' offers show at once, its row says "asking" until
    the per-hub wait is over, then "timeout"; the hub is removed again afterwards."""
    row = add_hub(panel, "hung", hung_url, "never-used", expect, unreachable=True)
    panel.get_by_test_id("ep-timeout").fill(str(HUNG_TIMEOUT))
    started = time.monotonic()
    panel.get_by_test_id("ep-ask").click()
    offers = panel.get_by_test_id("ep-offers")
    waiting = panel.locator('[data-testid="ep-answer"][data-hub="hung"]')
    expect(offers.locator('[data-testid="ep-offer"][data-hub="hub-b"]')).to_have_count(1, timeout=30_000)
    expect(offers.locator(f'[data-testid="ep-offer"][data-hub="{own_name}"]')).to_have_count(1)
    status = waiting.get_attribute("data-status")
    shown_after = time.monotonic() - started
    assert status == "asking", f"{status!r} {shown_after:.1f} s after Ask: the hung hub held the table back"
    assert shown_after < HUNG_TIMEOUT
    expect(panel.get_by_test_id("ep-ask")).to_be_disabled()
    expect(waiting).to_contain_text("asking")
    dismiss_news(page)
    page.screenshot(path=str(ARTIFACTS / "lab-panel-asking.png"))
    expect(waiting).to_have_attribute("data-status", "timeout", timeout=(HUNG_TIMEOUT + 20) * 1000)
    assert time.monotonic() - started >= HUNG_TIMEOUT
    expect(panel.get_by_test_id("ep-ask")).to_be_enabled()
    expect(offers.locator('[data-testid="ep-offer"]')).to_have_count(2)  # the others' offers stay
    row.get_by_test_id("ep-hub-remove").click()
    expect(row).to_have_count(0)
    panel.get_by_test_id("ep-timeout").fill("5")


def _drive(page: Any, a: RealHub, b: RealHub, b_token: str, survey: str, hung_url: str, context: Any,
           expect: Any) -> None:
    login(page, a, "alice")
    page.goto(f"{a.url}/user/alice/lab")
    item = page.locator(".jp-DirListing-itemName", has_text="analysis.ipynb")
    item.wait_for(timeout=60_000)

    # right-click the notebook: "Run elsewhere…"
    item.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Run elsewhere").click()
    panel = page.locator("#execplanner-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("ep-path")).to_contain_text("analysis.ipynb")

    # her own hub is listed (and ticked) already; she adds hub B with a token that stays server-side
    own = panel.locator('[data-testid="ep-hub"]').first
    expect(own).to_be_visible()
    own_name = own.get_attribute("data-hub")
    assert own_name
    expect(own.get_by_test_id("ep-hub-check")).to_be_checked()
    add_hub(panel, "hub-b", b.url + "/", b_token, expect)
    assert b_token not in page.content(), "the token must not be sent back to the browser"

    for field, value in (("ep-cores-min", "1"), ("ep-cores-max", "1"), ("ep-memory-min", "1"),
                         ("ep-memory-max", "1"), ("ep-duration", "20")):
        panel.get_by_test_id(field).fill(value)
    # the notebook needs the survey: a bad line is refused in the panel, naming it
    data = panel.get_by_test_id("ep-data")
    data.fill(f"{survey}\nsurvey.fits")
    panel.get_by_test_id("ep-ask").click()
    expect(panel.get_by_test_id("ep-error")).to_contain_text("Data line 2")
    expect(panel.locator('[data-testid="ep-problem"][data-field="data"]')).to_contain_text("Data line 2")
    data.fill(survey)
    # a third hub that hangs holds back only its own row
    ask_with_a_hung_hub(page, panel, own_name, hung_url, expect)
    panel.get_by_test_id("ep-ask").click()
    # the new ask's rows (A and B only) have replaced the last one's
    expect(panel.get_by_test_id("ep-answer")).to_have_count(2)
    expect(panel.locator('[data-testid="ep-answer"][data-hub="hung"]')).to_have_count(0)

    offers = panel.get_by_test_id("ep-offers")
    offer_b = offers.locator('[data-testid="ep-offer"][data-hub="hub-b"]')
    offer_a = offers.locator(f'[data-testid="ep-offer"][data-hub="{own_name}"]')
    expect(offer_b).to_have_count(1, timeout=30_000)
    expect(offer_a).to_have_count(1)
    expect(panel.locator('[data-testid="ep-answer"][data-hub="hub-b"]')).to_have_attribute(
        "data-status", "YES")
    # both offers quote their price and how close the data is: hub A holds the survey, hub B must
    # download it (its HEAD of the archive gave the size, its bandwidth setting the time)
    expect(offer_b).to_contain_text("EUR")
    expect(offer_a).to_contain_text("EUR")
    expect(data_cell(offer_a)).to_have_text("local")
    expect(data_cell(offer_b)).to_have_text("150 kB, ~3 s")
    first = offers.locator('[data-testid="ep-offer"]').first
    sort = panel.get_by_test_id("ep-sort")
    # sorted by cost, hub B's cheaper offer comes first; by data proximity, hub A's
    sort.select_option("cost")
    expect(first).to_have_attribute("data-hub", "hub-b")
    sort.select_option("proximity")
    expect(first).to_have_attribute("data-hub", own_name)
    sort.select_option("cost")
    expect(first).to_have_attribute("data-hub", "hub-b")
    dismiss_news(page)
    offers.screenshot(path=str(ARTIFACTS / "lab-offers.png"))
    page.screenshot(path=str(ARTIFACTS / "lab-panel-offers.png"))
    uuid_b = offer_b.get_attribute("data-uuid")
    assert uuid_b

    # accept hub B's offer and follow its phases to AVAILABLE
    offer_b.get_by_test_id("ep-accept").click()
    progress = panel.get_by_test_id("ep-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("data-phase", re.compile("AVAILABLE|RUNNING"), timeout=120_000)
    expect(progress.locator("progress")).to_be_visible()
    dismiss_news(page)
    page.screenshot(path=str(ARTIFACTS / "lab-progress.png"))
    open_link = progress.get_by_test_id("ep-open")
    expect(open_link).to_be_visible()
    href = open_link.get_attribute("href")
    assert href and href.startswith(b.url + "/user/alice/"), href

    # hub B's broker agrees: her session there is AVAILABLE (or RUNNING) on a named server
    session = httpx.get(f"{b.broker}sessions/{uuid_b}", timeout=30,
                        headers={"Authorization": f"token {b_token}"}).json()
    assert session["phase"] in ("AVAILABLE", "RUNNING"), session
    servers = b.api("GET", "users/alice").json()["servers"]
    assert any(name.startswith("ep-") and s.get("ready") for name, s in servers.items()), servers
    # the survey was downloaded (from the archive, not hub A's copy) into the session's folder
    folder = b.folder / "home" / "alice" / launch.SESSIONS_FOLDER / launch.server_name_for(uuid_b)
    staged = folder / "data" / "cat.fits"
    assert staged.is_file() and staged.read_bytes() == SURVEY
    assert any("downloaded data 'cat.fits'" in m["message"] for m in session["meta"]["messages"]), session

    # "Open": log in to hub B in the same browser and see the notebook running there
    other = context.new_page()
    login(other, b, "alice")
    other.goto(href)
    cell = other.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea")
    expect(cell.first).to_contain_text("hello from hub A", timeout=90_000)
    assert other.url.startswith(b.url + "/user/alice/ep-"), other.url
    other.screenshot(path=str(ARTIFACTS / "lab-opened-on-hub-b.png"))
    other.close()

    # "My sessions" lists it with its phase; cancel it from the panel
    panel.get_by_test_id("ep-tab-sessions").click()
    listed = panel.locator(f'[data-testid="ep-session"][data-hub="hub-b"][data-uuid="{uuid_b}"]')
    expect(listed).to_have_attribute("data-phase", re.compile("AVAILABLE|RUNNING"), timeout=30_000)
    panel.get_by_test_id("ep-tab-ask").click()
    panel.get_by_test_id("ep-cancel").click()
    page.locator(".jp-Dialog").get_by_role("button", name="End session").click()  # it asks first
    expect(progress).to_have_attribute("data-phase", re.compile("RELEASING|CANCELLED|COMPLETED"),
                                       timeout=60_000)
    final = httpx.get(f"{b.broker}sessions/{uuid_b}", timeout=30,
                      headers={"Authorization": f"token {b_token}"}).json()
    assert final["phase"] in ("RELEASING", "CANCELLED", "COMPLETED"), final
