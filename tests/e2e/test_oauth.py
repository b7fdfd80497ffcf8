"""A browser logged in to the hub reaches the broker through the hub's OAuth, with no token."""

from __future__ import annotations

import httpx
import pytest
from hubprocess import RealHub

pytestmark = pytest.mark.e2e


def test_browser_logs_in_through_the_hub(hub: RealHub) -> None:
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        browser.get(f"{hub.url}/hub/login")
        xsrf = browser.cookies.get("_xsrf", path="/hub/")
        login = browser.post(f"{hub.url}/hub/login",
                             data={"username": "olga", "password": "any", "_xsrf": xsrf})
        assert login.status_code == 200
        page = browser.get(hub.broker + "sessions",
                           headers={"Accept": "text/html,application/json;q=0.9"})
        assert page.status_code == 200, page.text[:300]
        assert str(page.url) == hub.broker + "sessions"
        assert page.json() == {"sessions": []}
        assert any(r.url.path.endswith("/oauth_callback") for r in page.history)
    # an API client without a token is not redirected: it is told what to send
    api = httpx.get(hub.broker + "sessions", headers={"Accept": "application/json"})
    assert api.status_code == 401
