"""The documentation says what the code does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "docs" / "gen_configuration.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "docs" / "configuration.md").read_text() == gen.render(), (
        "docs/configuration.md is stale: run python docs/gen_configuration.py"
    )


def test_readme_lists_the_scopes_the_service_uses() -> None:
    from jupyterhub_execplanner.service import scopes

    readme = (ROOT / "README.md").read_text()
    for scope in (*scopes.SERVICE_SCOPES, *scopes.DESCRIPTIONS):
        assert f"`{scope}`" in readme, f"README.md does not list the scope {scope}"
