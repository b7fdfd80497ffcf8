"""The hub's data source policy, address policy and line cap travel to the preload in its plan (and back
out of the JSON)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import LaunchSpec
from jupyterhub_execplanner.service.settings import ExecPlanner
from jupyterhub_execplanner.singleuser.plan import PlanError, PreloadPlan
from jupyterhub_execplanner.singleuser.preload import fetch_policy
from jupyterhub_execplanner.spawnhook import plan_for

SESSION = "0b5c1c1e-2d3f-4a5b-8c9d-0e1f2a3b4c5d"
SPEC = LaunchSpec(session=SESSION, owner="alice", server_name=launch.server_name_for(SESSION),
                  profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z")


def test_the_plan_carries_the_source_policy() -> None:
    settings = ExecPlanner(data_denied_sources=["10.*", "http://bad.example.org/"],
                           data_allowed_sources=["*.example.org"])
    plan = plan_for(SimpleNamespace(), SPEC, "s3cret", settings, "", "execplanner")
    assert plan.data_denied_sources == ("10.*", "http://bad.example.org/")
    assert plan.data_allowed_sources == ("*.example.org",)
    again = PreloadPlan.from_json(plan.to_json())
    assert again == plan and isinstance(again.data_denied_sources, tuple)


def test_a_plan_without_a_policy_allows_everything() -> None:
    plan = plan_for(SimpleNamespace(), SPEC, "s3cret", ExecPlanner(), "", "execplanner")
    assert (plan.data_denied_sources, plan.data_allowed_sources) == ((), ())
    old = json.dumps({"spec": SPEC.to_dict(), "timeout": 5})
    assert PreloadPlan.from_json(old).data_denied_sources == ()  # a plan of an older hook


def test_the_plan_carries_the_address_policy_and_the_line_cap() -> None:
    settings = ExecPlanner(fetch_allowed_hosts=["10.0.0.0/8", "mirror.internal"], requirements_max_lines=7,
                           public_url="https://broker.example.org/eb/")
    hub = SimpleNamespace(api_url="http://hub:8081/jupyter/hub/api", base_url="/jupyter/hub/")
    spawner = SimpleNamespace(hub=hub, public_url="https://hub.example.org/jupyter/user/alice/ep-x/",
                              public_hub_url="")
    plan = plan_for(spawner, SPEC, "s3cret", settings, "http://10.0.0.5:10101", "eb")
    assert plan.fetch_allowed_hosts == ("10.0.0.0/8", "mirror.internal")
    assert plan.hub_urls == ("http://10.0.0.5:10101", "http://hub:8081/jupyter/hub/api",
                             "https://hub.example.org/jupyter/user/alice/ep-x/", "https://broker.example.org/eb/")
    assert plan.snapshot_paths == ("/jupyter/services/eb/snapshots/", "/eb/snapshots/")
    assert plan.requirements_max_lines == 7
    again = PreloadPlan.from_json(plan.to_json())
    assert again == plan and isinstance(again.hub_urls, tuple)


def test_an_older_plan_allows_no_internal_address() -> None:
    plan = PreloadPlan.from_json(json.dumps({"spec": SPEC.to_dict()}))
    assert (plan.fetch_allowed_hosts, plan.hub_urls, plan.snapshot_paths) == ((), (), ())
    assert plan.requirements_max_lines == 100
    defaults = plan_for(SimpleNamespace(), SPEC, "s3cret", ExecPlanner(), "", "execplanner")
    assert defaults.fetch_allowed_hosts == ()
    assert defaults.snapshot_paths == ("/services/execplanner/snapshots/",)


def test_the_preloads_guard_knows_the_hub() -> None:
    plan = PreloadPlan(spec=SPEC, report_url="http://127.0.0.1:10101/services/eb/sessions/x/progress",
                       hub_urls=("http://hub:8081/hub/api",), fetch_allowed_hosts=("::1",),
                       data_denied_sources=("10.*",))
    policy = fetch_policy(plan, {"JUPYTERHUB_PUBLIC_HUB_URL": "https://Hub.Example.org/hub/"})
    assert policy.guard.hub_hosts == {"hub", "127.0.0.1", "hub.example.org"}
    assert policy.sources.denied == ("10.*",)
    with pytest.raises(PlanError, match="fetch_allowed_hosts: '10.0.0.1/8' has bits set"):
        fetch_policy(PreloadPlan(spec=SPEC, fetch_allowed_hosts=("10.0.0.1/8",)), {})
