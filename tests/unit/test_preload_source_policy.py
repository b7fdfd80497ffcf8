"""The hub's data source policy travels to the preload in its plan (and back out of the JSON)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import LaunchSpec
from jupyterhub_execplanner.service.settings import ExecPlanner
from jupyterhub_execplanner.singleuser.plan import PreloadPlan
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
