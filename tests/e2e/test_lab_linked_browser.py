"""Linked accounts in the "Run elsewhere" panel, in Chromium, with two real hubs (issue 13).

Hub A and hub B started as docs/linked-accounts.md says for a trial (``bash scripts/hub.sh`` with
``EXECPLANNER_PEER_URL`` / ``EXECPLANNER_LINK_FROM``). Alice logs in to hub A; in the panel hub B is
listed "not linked"; **Link account** opens hub B's login in a new window, where she logs in as
``alice-b`` (another name: identities are mapped, not assumed) and agrees on hub B's consent page; the
panel then says "linked as alice-b". She asks both hubs, accepts hub B's offer, and the server that
starts on hub B is ``alice-b``'s. Bob on hub A cannot use her link; the aggregator asks hub B as
``alice-b``; **Unlink** revokes the token on hub B (a call with it then answers 403).

Screenshots are kept under ``$EXECPLANNER_ARTIFACTS/linked`` (default ``artifacts/linked``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubprocess import ROOT
from quickhubs import (
    CHROMIUM,
    Hub,
    chromium,
    dismiss_news,
    linked_pair,
    linked_token,
    login,
    new_from_launcher,
    save_as,
    user_token,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(os.environ.get("EXECPLANNER_ARTIFACTS") or ROOT / "artifacts") / "linked"
SECRET = "linked-browser-test-secret-0123456789"
PEER = "hub-b"


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Hub]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup-browser.sh")
    yield from linked_pair(tmp_path_factory, SECRET, PEER)


def admin_get(hub: Hub, path: str) -> Any:
    answer = httpx.get(f"{hub.url}/hub/api/{path}", trust_env=False, timeout=30,
                       headers={"Authorization": f"token {user_token(hub, 'admin')}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def broker(hub: Hub, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{hub.url}/services/execplanner/{path}", trust_env=False, timeout=60,
                         headers={"Authorization": f"token {token}"}, **kwargs)


def test_alice_links_her_account_on_hub_b_and_runs_there_as_alice_b(hubs: tuple[Hub, Hub]) -> None:
    from playwright.sync_api import expect

    a, b = hubs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium(ARTIFACTS / "failure.png") as (page, context):
        _walk(page, context, a, b, expect)


def shot(page: Any, name: str, locator: Any = None) -> None:
    dismiss_news(page)
    (locator or page).screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _walk(page: Any, context: Any, a: Hub, b: Hub, expect: Any) -> None:
    login(page, a, "alice")
    page.goto(f"{a.url}/hub/spawn")
    page.wait_for_url(re.compile(r".*/user/alice/lab.*"), timeout=120_000)
    page.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    dismiss_news(page)
    new_from_launcher(page, "Notebook", "Python 3")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-Cell .cm-content").first.click()
    page.keyboard.type("print('hello from wherever this runs')")
    save_as(page, "linked.ipynb")
    page.locator(".lm-TabBar-tab", has_text="linked.ipynb").first.click()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-execplanner-ToolbarButton").click()
    panel = page.locator("#execplanner-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("ep-path")).to_have_text("linked.ipynb")

    # hub B is listed as a hub her hub can link, not linked yet
    row_b = panel.locator(f'[data-testid="ep-hub"][data-hub="{PEER}"]')
    expect(row_b.get_by_test_id("ep-link-state")).to_have_text("not linked")
    link_button = row_b.get_by_role("button", name=f"Link account on {PEER}")
    expect(link_button).to_be_enabled()
    shot(page, "01-not-linked", panel)

    # Link account: hub B's own login (as alice-b) and consent page, in a window of its own
    with context.expect_page() as opened:
        link_button.click()
    window = opened.value
    window.wait_for_url(re.compile(rf"{re.escape(b.url)}/hub/login.*"), timeout=60_000)
    window.fill("input[name=username]", "alice-b")
    window.fill("input[name=password]", "any")
    window.click("input[type=submit], button[type=submit]")
    window.wait_for_url(re.compile(r".*/hub/api/oauth2/authorize.*"), timeout=60_000)
    expect(window.locator("body")).to_contain_text("Ask the execution broker for offers")
    shot(window, "02-consent-on-hub-b")
    # after consent: the link page ("Linked as alice-b on hub-b") tells the panel, which closes it
    with window.expect_event("close", timeout=60_000):
        window.get_by_role("button", name="Authorize").click()

    expect(row_b.get_by_test_id("ep-link-state")).to_have_text("linked as alice-b", timeout=30_000)
    expect(row_b.get_by_role("button", name=f"Unlink {PEER}")).to_be_visible()
    shot(page, "03-linked", panel)
    raw = linked_token(a, "alice", PEER)
    assert raw not in page.content()

    # ask both hubs; hub B's offer is accepted and runs as alice-b there
    check_b = row_b.get_by_test_id("ep-hub-check")
    if not check_b.is_checked():
        check_b.check()
    panel.get_by_test_id("ep-ask").click()
    offers = panel.get_by_test_id("ep-offers")
    own = panel.locator('[data-testid="ep-hub"]').first.get_attribute("data-hub")
    offer_b = offers.locator(f'[data-testid="ep-offer"][data-hub="{PEER}"]').first
    expect(offer_b).to_be_visible(timeout=60_000)
    expect(offers.locator(f'[data-testid="ep-offer"][data-hub="{own}"]').first).to_be_visible()
    shot(page, "04-offers", panel)
    offer_b.get_by_test_id("ep-accept").click()
    progress = panel.get_by_test_id("ep-progress")
    expect(progress).to_have_attribute("data-phase", re.compile("AVAILABLE|RUNNING"), timeout=240_000)
    href = progress.get_by_test_id("ep-open").get_attribute("href")
    assert href and href.startswith(f"{b.url}/user/alice-b/"), href
    servers = admin_get(b, "users/alice-b")["servers"]
    assert any(name.startswith("ep-") for name in servers), servers
    assert "alice" not in [u["name"] for u in admin_get(b, "users")]
    shot(page, "05-running-on-hub-b-as-alice-b", panel)

    # bob on hub A cannot use alice's link: his own is not linked
    relayed = broker(a, user_token(a, "bob"), "GET", f"peers/{PEER}/sessions")
    assert relayed.status_code == 409 and relayed.json()["link"] == "unlinked", relayed.text

    # the aggregator (hub A, asked with alice's own token) asks hub B as alice-b
    alice = user_token(a, "alice")
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    snapshot = broker(a, alice, "POST", "snapshots", json={"files": {"n.ipynb": notebook}})
    url = snapshot.json()["urls"]["n.ipynb"]
    request = {"executable": {"kind": "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/"
                                      "executable/jupyter-notebook.yaml", "location": url},
               "schedule": {"requested": {"duration": "PT10M"}}}
    merged = broker(a, alice, "POST", "requests", json=request).json()
    said = [m["message"] for m in merged["meta"]["messages"]]
    assert f"Peer {PEER} was asked as alice-b, your linked account there." in said, said

    # end the session, then Unlink (after a confirmation): the token is revoked on hub B
    progress.get_by_test_id("ep-cancel").click()
    page.locator(".jp-Dialog").get_by_role("button", name="End session").click()
    expect(progress).to_have_attribute("data-phase", "CANCELLED", timeout=60_000)
    row_b.get_by_role("button", name=f"Unlink {PEER}").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Unlink your account on {PEER}?")
    shot(page, "06-unlink-confirm")
    dialog.get_by_role("button", name="Unlink").click()
    expect(row_b.get_by_test_id("ep-link-state")).to_have_text("not linked", timeout=30_000)
    shot(page, "07-unlinked", panel)
    revoked = httpx.get(f"{b.url}/hub/api/user", trust_env=False, timeout=30,
                        headers={"Authorization": f"Bearer {raw}"})
    assert revoked.status_code == 403, revoked.text
