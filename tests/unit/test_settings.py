"""The broker's settings: one config section, one concept a module, each value parsed once, admin
configuration checked against a schema with messages that name the setting, the entry and the fix."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from traitlets import HasTraits, TraitError
from traitlets.config import Config, Configurable

from jupyterhub_execplanner import setup_execplanner
from jupyterhub_execplanner.hubconfig import SetupError
from jupyterhub_execplanner.service import settings as S
from jupyterhub_execplanner.service.app import ExecPlannerApp
from jupyterhub_execplanner.service.settings import CONCEPTS, ExecPlanner, misplaced_settings

# -- one section ----------------------------------------------------------------------------------


def test_exec_planner_is_the_only_section() -> None:
    """traitlets makes a config section of every Configurable class in the MRO
    (Configurable.section_names); the concept classes are HasTraits mixins, so they are none."""
    assert ExecPlanner.section_names() == ["Configurable", "ExecPlanner"]
    sections = set(ExecPlannerApp.section_names())
    assert not sections & {c.__name__ for c in CONCEPTS}
    for concept in CONCEPTS:
        assert issubclass(concept, HasTraits) and not issubclass(concept, Configurable), concept


def test_every_setting_is_in_one_concept_and_documented() -> None:
    owners: dict[str, list[str]] = {}
    for concept in CONCEPTS:
        for name in concept.class_own_traits(config=True):
            owners.setdefault(name, []).append(concept.__name__)
    assert set(owners) == set(ExecPlanner.class_trait_names(config=True))
    assert all(len(o) == 1 for o in owners.values()), {n: o for n, o in owners.items() if len(o) > 1}
    for concept in CONCEPTS:
        title, _, intro = inspect.cleandoc(concept.__doc__ or "").partition("\n")
        assert title and intro.strip(), f"{concept.__name__}: a title line and an introduction"
        lines = len(Path(inspect.getfile(concept)).read_text().splitlines())
        assert lines < 500, f"{concept.__name__} is {lines} lines"
    for name, trait in ExecPlanner.class_traits(config=True).items():
        assert (trait.help or "").strip(), f"{name} has no help"


def test_a_setting_under_a_retired_section_is_ignored_by_traitlets() -> None:
    """Before, RunSettings was a section of its own and this took effect, unchecked."""
    planner = ExecPlanner(config=Config({"RunSettings": {"driver_interval": 7}}))
    assert planner.driver_interval == 1.0
    assert misplaced_settings(Config({"RunSettings": {"driver_interval": 7}})) == [
        "c.RunSettings.driver_interval: the broker's settings are all in one section, c.ExecPlanner; "
        "write c.ExecPlanner.driver_interval = ... (or setup_execplanner(c, driver_interval=...))"
    ]


def _hub_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jupyterhub_config.py"
    path.write_text("from jupyterhub_execplanner import setup_execplanner\n" + inspect.cleandoc(text) + "\n")
    return path


def test_a_setting_under_a_retired_section_stops_the_hub(tmp_path: Path) -> None:
    from jupyterhub.app import JupyterHub

    path = _hub_config(tmp_path, """
        setup_execplanner(c, hub_config_file="")
        c.RunSettings.driver_interval = 7
    """)
    refused = r"c\.RunSettings\.driver_interval: .* write c\.ExecPlanner\.driver_interval"
    with pytest.raises(ValueError, match=refused):
        JupyterHub().load_config_file(str(path))  # the hub raises config file errors: it stops


@pytest.mark.parametrize(
    "line",
    ["c.PeerSettings.peers.append({'name': 'b'})", "c.ClusterSettings.kube_stale_after = 60"],
)
def test_container_and_old_sections_are_refused_too(tmp_path: Path, line: str) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    path = _hub_config(tmp_path, f"""
        setup_execplanner(c, hub_config_file="")
        {line}
    """)
    with pytest.raises(ValueError, match="write c.ExecPlanner."):
        PyFileConfigLoader(path.name, str(tmp_path)).load_config()


def test_a_setting_under_a_retired_section_before_setup_stops_the_hub() -> None:
    c = Config()
    c.LimitSettings.limit_sessions = 2
    refused = r"c\.LimitSettings\.limit_sessions: .* c\.ExecPlanner\.limit_sessions"
    with pytest.raises(SetupError, match=refused):
        setup_execplanner(c, hub_config_file="")


def test_other_keys_of_a_section_with_that_name_are_left_alone() -> None:
    """The name may be another package's section: only the broker's settings are refused there."""
    c = Config()
    c.DataSettings.colour = "blue"
    setup_execplanner(c, hub_config_file="")
    c.DataSettings.size = 3
    assert (c.DataSettings.colour, c.DataSettings.size) == ("blue", 3)
    setup_execplanner(c, hub_config_file="")  # twice: still guarded, still kept
    with pytest.raises(ValueError, match="c.ExecPlanner.prices"):
        c.DataSettings.prices = {}


def test_the_service_refuses_them_too(tmp_path: Path) -> None:
    path = tmp_path / "service_config.py"
    path.write_text("c.RunSettings.driver_interval = 7\n")
    app = ExecPlannerApp()
    with pytest.raises(ValueError, match="c.ExecPlanner.driver_interval"):
        app.initialize([f"--ExecPlanner.hub_config_file={path}"])


# -- each value parsed once -------------------------------------------------------------------------


def test_validators_keep_the_parsed_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyterhub_execplanner.federation import peerconfig
    from jupyterhub_execplanner.planning import policy
    from jupyterhub_execplanner.platform import datasets

    calls: list[str] = []

    def counting(module: Any, name: str) -> None:
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, **k: calls.append(name) or real(*a, **k))

    for module, name in ((policy, "parse_prices"), (peerconfig, "check_peers"),
                         (datasets, "parse_collections"), (datasets, "parse_bandwidth")):
        counting(module, name)
    planner = ExecPlanner(config=Config({"ExecPlanner": {
        "prices": {"*": {"core_hour": 0.1}},
        "peers": [{"name": "b", "url": "https://b.example.org", "token_env": "B_TOKEN"}],
        "data_collections": {"s": {"path": "/data/s", "url_prefix": "https://a.example.org/s/"}},
        "data_bandwidth": {"https://a.example.org/": 30e6},
    }}))
    assert sorted(calls) == ["check_peers", "parse_bandwidth", "parse_collections", "parse_prices"]
    for _ in range(2):
        assert planner.price_book().for_profile("x").core_hour == 0.1
        assert [p.name for p in planner.peer_specs()] == ["b"]
        data = planner.data_config()
        assert [c.name for c in data.collections] == ["s"]
        assert data.bandwidth_for("https://a.example.org/x") == 30e6
    assert len(calls) == 4, "the service uses what the validators read"
    planner.prices = {"gpu": {"gpu_hour": 2}}
    assert planner.price_book().for_profile("gpu").gpu_hour == 2 and len(calls) == 5


def test_defaults_are_parsed_on_first_use() -> None:
    planner = ExecPlanner()
    assert not planner.price_book() and planner.peer_specs() == []
    assert planner.data_config().collections == () and planner.data_config().max_seconds == 600.0


def test_durations_are_seconds_and_timedeltas() -> None:
    planner = ExecPlanner(offer_expiry="PT2M", spawn_timeout="PT1.5S", driver_interval="PT0S")
    assert (planner.offer_expiry, planner.spawn_timeout, planner.driver_interval) == (120, 1.5, 0.0)
    assert planner.duration("offer_expiry").total_seconds() == 120


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"peer_timeout": 0}, "ExecPlanner.peer_timeout must be seconds between 0 and 300, not 0"),
        ({"peer_timeout": "PT6M"}, "ExecPlanner.peer_timeout must be seconds between 0 and 300, not 'PT6M'"),
        ({"peer_timeout": "P1M"}, "ExecPlanner.peer_timeout = 'P1M' counts months"),
        ({"kube_stale_after": 0.5}, "ExecPlanner.kube_stale_after must be at least 1 second, not 0.5"),
        ({"slurm_stale_after": "PT0.5S"}, "ExecPlanner.slurm_stale_after must be at least 1 second"),
        ({"slurm_poll_interval": 0.1}, "ExecPlanner.slurm_poll_interval must be at least 0.2"),
        ({"driver_interval": -1}, "ExecPlanner.driver_interval = -1 is negative"),
        ({"hub_poll_interval": "soon"}, "ExecPlanner.hub_poll_interval = 'soon' is not a duration"),
    ],
)
def test_bounded_durations(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(TraitError) as info:
        ExecPlanner(**settings)
    assert str(info.value).startswith(message)


def test_bounded_durations_take_iso_8601() -> None:
    planner = ExecPlanner(peer_timeout="PT5M", kube_stale_after="PT1M", hub_poll_interval=0)
    assert (planner.peer_timeout, planner.kube_stale_after, planner.hub_poll_interval) == (300, 60, 0)


# -- schemas ----------------------------------------------------------------------------------------

PEER = {"name": "b", "url": "https://b.example.org", "token": "s3cret"}
COLLECTION = {"path": "/data/s", "url_prefix": "https://a.example.org/s/"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("peers", [{**PEER, "tokn": "x"}],
         "ExecPlanner.peers[0] (peer 'b'): unknown key 'tokn' (did you mean 'token'?); the keys are "
         "forward_token, link, name, token, token_env, url"),
        ("peers", [{"url": "https://b.example.org", "token": "t"}],
         "ExecPlanner.peers[0]: 'name' is missing: give a short name of letters, digits, '.', '_' or '-' "
         "(it appears in messages), like 'hub-b'"),
        ("peers", [{**PEER, "url": "hub-b.example.org"}],
         "ExecPlanner.peers[0] (peer 'b'): 'url' must be the peer's hub or broker URL, like "
         "https://hub-b.example.org or https://hub-b.example.org/services/execplanner/, "
         "not 'hub-b.example.org'"),
        ("peers", [{**PEER, "forward_token": "yes"}],
         "ExecPlanner.peers[0] (peer 'b'): 'forward_token' must be true (send each caller's own token on) "
         "or false, not 'yes'"),
        ("peers", [PEER, {**PEER, "token": 12345}],
         "ExecPlanner.peers[1] (peer 'b'): 'token' must be a token the peer's hub gave this hub (or use "
         "'token_env')"),  # never the token itself
        ("peers", [{"name": "b", "url": "https://b.example.org"}],
         "ExecPlanner.peers[0] (peer 'b'): give exactly one of 'token', 'token_env' or 'forward_token: "
         "true' (it has none of them)"),  # the credential rule: federation/peerconfig.py
        ("prices", {"*": {"core_hour": 0.1, "curency": "EUR"}},
         "ExecPlanner.prices['*']: unknown key 'curency' (did you mean 'currency'?)"),
        ("prices", {"gpu": {"gpu_hour": -1}},
         "ExecPlanner.prices['gpu']: 'gpu_hour' must be a number >= 0 (money per GPU-hour), not -1"),
        ("prices", {"gpu": 2},
         "ExecPlanner.prices['gpu'] must be a dict of prices like {'core_hour': 0.05, 'gib_hour': 0.01, "
         "'currency': 'EUR'}, not 2"),
        ("prices", {"*": {"currency": " "}},
         "ExecPlanner.prices['*']: 'currency' must be a currency code such as 'EUR', not ' '"),
        ("data_collections", {"s": {"path": "/data/s"}},
         "ExecPlanner.data_collections['s'] has no rule to match data: give ivoid_prefix, url_prefix, "
         "obs_collection, s3_bucket or rucio_scope"),
        ("data_collections", {"s": {**COLLECTION, "path": "data/s"}},
         "ExecPlanner.data_collections['s']: 'path' must be the absolute path where a server sees the "
         "collection, like '/data/survey', not 'data/s'"),
        ("data_collections", {"s": {"url_prefix": "https://a.example.org/s/"}},
         "ExecPlanner.data_collections['s']: 'path' is missing: give the absolute path"),
        ("data_collections", {"s": {**COLLECTION, "s3_bucket": ["a", "b"]}},
         "ExecPlanner.data_collections['s']: 's3_bucket' must be the name of one S3 bucket, like "
         "'survey', not ['a', 'b']"),
        ("data_collections", {"s": {**COLLECTION, "volum": {}}},
         "ExecPlanner.data_collections['s']: unknown key 'volum' (did you mean 'volume'?)"),
        ("data_collections", {"s": {**COLLECTION, "url_prefix": ["https://a/", 3]}},
         "ExecPlanner.data_collections['s']['url_prefix'][1] must be a string, not 3"),
    ],
)
def test_schema_messages_name_the_setting_the_entry_and_the_fix(name: str, value: Any, message: str) -> None:
    with pytest.raises(SetupError) as info:
        setup_execplanner(Config(), hub_config_file="", **{name: value})
    assert f"setup_execplanner(c, ...): {message}" in str(info.value)
    assert "s3cret" not in str(info.value) and "12345" not in str(info.value)


def test_settings_module_names() -> None:
    """``service.settings`` is only the composition: each concept is a module of its own."""
    source = Path(S.__file__).read_text()
    assert "Duration(" not in source and ".tag(config=True)" not in source
