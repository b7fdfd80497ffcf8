"""The README's two-hub recipe, lived in a browser as a new user would (issue 12).

Two hubs started exactly as the README says (``bash scripts/hub.sh``; hub B with
``EXECPLANNER_HUB_HOST=localhost``, its own port and state folder), Debian's Chromium driven by
Playwright. Alice logs in to hub A, writes a notebook that imports a package her lab does not have
and a ``requirements.txt`` naming it, presses the notebook's **Run elsewhere** button, makes a token
on hub B (logging in there does not log her out of hub A) and adds hub B (the check says "connected
as alice"), asks both hubs, asks again (her first offers are released: the new ones start no later),
accepts hub B's offer (hub A's is released), watches the progress, opens the notebook on hub B (it
arrives without the old error output), runs the cell (the package was installed on hub B, from a
loopback wheel folder that her pip configuration on hub B names), and ends the session through the
confirmation dialog.

Screenshots of every step are kept under ``$EXECPLANNER_ARTIFACTS/two-hubs`` (default
``artifacts/two-hubs`` in the checkout, git-ignored); the README's pictures come from them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubprocess import ROOT
from loopback import Loopback, write_wheel
from quickhubs import (
    CHROMIUM,
    Hub,
    chromium,
    dismiss_news,
    login,
    new_from_launcher,
    run_first_cell,
    save_as,
    start_hub,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(os.environ.get("EXECPLANNER_ARTIFACTS") or ROOT / "artifacts") / "two-hubs"
CELL = "import tinypkg\nprint('tinypkg says', tinypkg.VALUE)"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    """A loopback folder of wheels: the only package index alice's pip knows on hub B."""
    folder = tmp_path_factory.mktemp("wheels")
    write_wheel(folder)
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory, wheels: Loopback) -> Iterator[tuple[Hub, Hub]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup-browser.sh")
    a = start_hub(tmp_path_factory.mktemp("hub-a"), None)
    try:
        b = start_hub(tmp_path_factory.mktemp("hub-b"), "localhost")
    except BaseException:
        a.stop()
        raise
    # alice's pip configuration on hub B (in her home there): packages come from the wheel folder only
    pip_conf = b.state / "home" / "alice" / ".config" / "pip" / "pip.conf"
    pip_conf.parent.mkdir(parents=True, exist_ok=True)
    pip_conf.write_text(f"[global]\nno-index = true\nfind-links = {wheels.url}/\n")
    try:
        yield a, b
    finally:
        b.stop()
        a.stop()


class Steps:
    """Screenshots of each step, numbered in order."""

    def __init__(self, page: Any) -> None:
        self.page, self.n = page, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str, page: Any = None, locator: Any = None) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.n:02d}-{name}.png"
        dismiss_news(page or self.page)
        (locator or page or self.page).screenshot(path=str(path))
        return path


def make_token(page: Any, hub: Hub) -> str:
    """What the README says: open /hub/token, press "Request new API token", copy it."""
    page.goto(f"{hub.url}/hub/token")
    page.get_by_role("button", name=re.compile("Request new API token", re.I)).click()
    result = page.locator("#token-result")
    result.wait_for(timeout=30_000)
    token = result.inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{20,}", token), token
    return token


def broker_session(hub: Hub, token: str, uuid: str) -> dict[str, Any]:
    response = httpx.get(f"{hub.url}/services/execplanner/sessions/{uuid}", timeout=30,
                         headers={"Authorization": f"token {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def offer_starts(panel: Any) -> dict[str, tuple[str, float]]:
    """Each hub's first offer: its uuid and start (epoch seconds)."""
    out: dict[str, tuple[str, float]] = {}
    rows = panel.locator('[data-testid="ep-offer"]')
    for i in range(rows.count()):
        row = rows.nth(i)
        hub = row.get_attribute("data-hub")
        start = datetime.fromisoformat(row.get_attribute("data-start").replace("Z", "+00:00"))
        if hub not in out:
            out[hub] = (row.get_attribute("data-uuid"), start.timestamp())
    return out


def test_two_hubs_from_the_readme_to_a_running_notebook(hubs: tuple[Hub, Hub]) -> None:
    from playwright.sync_api import expect

    a, b = hubs
    with chromium(ARTIFACTS / "failure.png") as (page, context):
        _walk(page, context, a, b, expect)


def _walk(page: Any, context: Any, a: Hub, b: Hub, expect: Any) -> None:
    steps = Steps(page)
    # log in to hub A; her server starts and JupyterLab opens
    login(page, a, "alice")
    page.goto(f"{a.url}/hub/spawn")
    page.wait_for_url(re.compile(r".*/user/alice/lab.*"), timeout=120_000)
    page.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    dismiss_news(page)

    # a notebook that imports a package her lab does not have: it fails here (an error output)
    new_from_launcher(page, "Notebook", "Python 3")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-Cell .cm-content").first.click()
    page.keyboard.type(CELL)
    run_first_cell(page, notebook, "ModuleNotFoundError", expect)
    save_as(page, "analysis.ipynb")
    # and its requirements, beside it
    new_from_launcher(page, "Other", "Text File")
    page.locator(".jp-FileEditor:not(.lm-mod-hidden) .cm-content").first.click()
    page.keyboard.type("tinypkg==0.1\n")
    save_as(page, "requirements.txt")
    steps.shot("notebook-and-requirements")

    # the notebook's toolbar: "Run elsewhere"
    page.locator(".lm-TabBar-tab", has_text="analysis.ipynb").first.click()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-execplanner-ToolbarButton").click()
    panel = page.locator("#execplanner-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("ep-path")).to_have_text("analysis.ipynb")
    # what will be sent: the two files, the notebook without its output
    files = panel.get_by_test_id("ep-file")
    expect(files).to_have_count(2)
    expect(panel.locator('[data-testid="ep-file"][data-name="analysis.ipynb"]')).to_contain_text(
        "without its 1 output")
    expect(panel.get_by_test_id("ep-keep-outputs")).not_to_be_checked()
    own = panel.locator('[data-testid="ep-hub"]').first
    own_name = own.get_attribute("data-hub")
    expect(own.get_by_test_id("ep-hub-check")).to_be_checked()
    steps.shot("run-elsewhere")

    # a token on hub B, made on its /hub/token page; logging in there keeps her logged in to hub A
    other = context.new_page()
    login(other, b, "alice")
    token_b = make_token(other, b)
    steps.shot("token-on-hub-b", page=other)
    other.close()
    other = context.new_page()
    token_a = make_token(other, a)  # still logged in to hub A (its own API checks, below)
    other.close()

    # add hub B: the check says whose token it is, and hub B is ticked
    panel.get_by_test_id("ep-add-name").fill("hub-b")
    panel.get_by_test_id("ep-add-url").fill(f"{b.url}/")
    panel.get_by_test_id("ep-add-token").fill(token_b)
    panel.get_by_test_id("ep-add-submit").click()
    expect(panel.get_by_test_id("ep-add-connected")).to_have_text("hub-b: connected as alice")
    row_b = panel.locator('[data-testid="ep-hub"][data-hub="hub-b"]')
    expect(row_b.get_by_test_id("ep-hub-check")).to_be_checked()
    assert token_b not in page.content()
    # the same hub again, by another name: refused next to the URL field
    panel.get_by_test_id("ep-add-name").fill("hub-b-again")
    panel.get_by_test_id("ep-add-url").fill(f"{b.url}/hub/")
    panel.get_by_test_id("ep-add-token").fill(token_b)
    panel.get_by_test_id("ep-add-submit").click()
    expect(panel.locator('[data-testid="ep-add-problem"][data-field="url"]')).to_contain_text(
        'already in the list, as "hub-b"')
    panel.get_by_test_id("ep-add-name").fill("")
    panel.get_by_test_id("ep-add-url").fill("")
    panel.get_by_test_id("ep-add-token").fill("")
    steps.shot("hub-b-added")

    # ask both
    ask = panel.get_by_test_id("ep-ask")
    first_asked = time.time()
    ask.click()
    offers = panel.get_by_test_id("ep-offers")
    expect(offers.locator('[data-testid="ep-offer"][data-hub="hub-b"]').first).to_be_visible(timeout=60_000)
    expect(offers.locator(f'[data-testid="ep-offer"][data-hub="{own_name}"]').first).to_be_visible()
    expect(ask).to_be_enabled(timeout=60_000)
    first = offer_starts(panel)
    # the panel scrolled down to the offers (below the form at this window size)
    scrolled = panel.locator(".jp-execplanner-Widget").evaluate("e => e.scrollTop")
    assert scrolled > 0, "the panel did not scroll to the offers"
    start_text = offers.get_by_test_id("ep-offer-start").first.inner_text()
    assert re.search(r"\d\d:\d\d [A-Z+\-0-9]+", start_text), start_text  # local time, with the zone
    steps.shot("offers")

    # ask again: the first offers are released on both hubs, the new ones start no later
    second_asked = time.time()
    ask.click()
    expect(ask).to_be_enabled(timeout=60_000)
    expect(offers.locator('[data-testid="ep-offer"][data-hub="hub-b"]').first).to_be_visible(timeout=60_000)
    expect(offers.locator(f'[data-testid="ep-offer"][data-hub="{own_name}"]').first).to_be_visible()
    second = offer_starts(panel)
    for hub in ("hub-b", own_name):
        assert second[hub][0] != first[hub][0]
        # the clock moved on between the asks, nothing else: the first offers held nothing
        assert second[hub][1] <= first[hub][1] + (second_asked - first_asked) + 5, (hub, first, second)
    assert broker_session(b, token_b, first["hub-b"][0])["phase"] == "REJECTED"
    assert broker_session(a, token_a, first[own_name][0])["phase"] == "REJECTED"
    accept_b = offers.locator('[data-testid="ep-offer"][data-hub="hub-b"]').first.get_by_test_id("ep-accept")
    assert (accept_b.get_attribute("aria-label") or "").startswith("Accept offer from hub hub-b")
    steps.shot("offers-again")

    # accept hub B's: hub A's offer is released, the panel follows the session
    uuid_b = second["hub-b"][0]
    accept_b.click()
    progress = panel.get_by_test_id("ep-progress")
    expect(progress).to_be_visible()
    deadline = time.monotonic() + 30
    while broker_session(a, token_a, second[own_name][0])["phase"] != "REJECTED":
        assert time.monotonic() < deadline, "hub A's offer was not released"
        time.sleep(0.5)
    expect(progress).to_have_attribute("data-phase", re.compile("PREPARING|WAITING|ACCEPTED|AVAILABLE"))
    steps.shot("progress")
    expect(progress).to_have_attribute("data-phase", re.compile("AVAILABLE|RUNNING"), timeout=240_000)
    steps.shot("available")

    # Open: the notebook on hub B, with no old output; her login there still holds
    href = progress.get_by_test_id("ep-open").get_attribute("href")
    assert href and href.startswith(f"{b.url}/user/alice/"), href
    remote = context.new_page()
    remote.goto(href)
    remote_nb = remote.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(remote_nb.locator(".jp-Cell .jp-InputArea").first).to_contain_text("import tinypkg",
                                                                              timeout=120_000)
    expect(remote_nb.locator(".jp-OutputArea-output")).to_have_count(0)
    # run the cell: the package was installed on hub B
    run_first_cell(remote, remote_nb, "tinypkg says 42", expect)
    steps.shot("opened-on-hub-b", page=remote)
    remote.close()

    # cancel: the panel asks first, then shows the session stopping, then ended
    page.bring_to_front()
    progress.get_by_test_id("ep-cancel").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Unsaved work on that server is lost")
    steps.shot("cancel-confirm")
    dialog.get_by_role("button", name="Keep it running").click()
    expect(dialog).to_have_count(0)
    expect(progress).to_have_attribute("data-phase", re.compile("AVAILABLE|RUNNING"))
    progress.get_by_test_id("ep-cancel").click()
    dialog.get_by_role("button", name="End session").click()
    expect(progress).to_have_attribute("data-phase", "CANCELLED", timeout=60_000)
    expect(progress).to_have_attribute("data-stopping", "false", timeout=180_000)
    expect(progress.get_by_test_id("ep-phase")).to_have_text("CANCELLED")
    expect(progress.get_by_test_id("ep-ended")).to_contain_text("cancelled")
    expect(progress.locator("progress")).to_have_count(0)  # its own look, not a bar
    steps.shot("cancelled")
    final = broker_session(b, token_b, uuid_b)
    assert final["phase"] == "CANCELLED", final
    # "My sessions" lists it, ended
    panel.get_by_test_id("ep-tab-sessions").click()
    listed = panel.locator(f'[data-testid="ep-session"][data-hub="hub-b"][data-uuid="{uuid_b}"]')
    expect(listed).to_have_attribute("data-phase", "CANCELLED", timeout=30_000)
    steps.shot("my-sessions")
