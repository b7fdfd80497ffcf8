"""The preload as a session's server runs it: ``python -m jupyterhub_execplanner.singleuser -- CMD`` in
a folder, with the notebook, requirements (a tiny wheel, installed with ``--no-index --find-links``)
and data served over loopback, and a loopback broker that records the progress reports. No PyPI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import Loopback, write_wheel

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import DataItem, LaunchSpec
from jupyterhub_execplanner.singleuser.plan import PreloadPlan

SECRET = "preload-test-secret"
SESSION = "5e551011-aaaa-4bbb-8ccc-0123456789ab"
MARKER = "SERVER-COMMAND-RAN"
NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
               "source": ["import tinypkg\n", "tinypkg.VALUE"]}],
    "metadata": {"language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
HAS_UV = shutil.which("uv") is not None
# everything is served on loopback: the tests allow it as an admin would (c.ExecPlanner.fetch_allowed_hosts)
LOOPBACK = ("127.0.0.0/8", "::1", "localhost")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    folder = tmp_path_factory.mktemp("site")
    (folder / "wheels").mkdir()
    write_wheel(folder / "wheels")
    (folder / "nb").mkdir()
    (folder / "nb" / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (folder / "nb" / "requirements.txt").write_text("# what the notebook needs\ntinypkg==0.1\n")
    (folder / "nb" / "empty.txt").write_text("# nothing\n")
    (folder / "nb" / "unknown.txt").write_text("tinypkg\nnosuchpkg-xyz>=1\n")
    (folder / "nb" / "forbidden.txt").write_text("tinypkg\n--extra-index-url https://evil.example/simple\n")
    (folder / "nb" / "page.html").write_text("<html><body>Not a notebook</body></html>")
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("a,b\n1,2\n")
    server = Loopback(folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


def make_plan(site: Loopback, **changes: Any) -> PreloadPlan:
    spec_values: dict[str, Any] = dict(
        session=SESSION, owner="alice", server_name=launch.server_name_for(SESSION), profile="small",
        cores=1, memory=1, end="2030-01-01T00:00:00Z",
        notebook=f"{site.url}/nb/analysis.ipynb", requirements="requirements.txt",
        data=(DataItem("table.csv", f"{site.url}/data/table.csv"),
              DataItem("archive", "ivo://example.org/archive?x")),
    )
    spec_values.update(changes.pop("spec", {}))
    plan_values: dict[str, Any] = dict(
        spec=LaunchSpec(**spec_values),
        report_url=f"{site.url}/services/execplanner/sessions/{SESSION}/progress",
        report_token=launch.report_token(SECRET, SESSION),
        pip_extra_args=("--no-index", "--find-links", f"{site.url}/wheels/"),
        timeout=10,
        fetch_allowed_hosts=LOOPBACK,
    )
    plan_values.update(changes)
    return PreloadPlan(**plan_values)


def run_preload(tmp_path: Path, plan: PreloadPlan | None, uv_cache: Path,
                path: str | None = None) -> subprocess.CompletedProcess[str]:
    workdir = tmp_path / "home"
    workdir.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(workdir), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
           "UV_CACHE_DIR": str(uv_cache), "PIP_NO_CACHE_DIR": "1"}
    env["PATH"] = path if path is not None else f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop(launch.PRELOAD_ENV, None)
    if plan is not None:
        env[launch.PRELOAD_ENV] = plan.to_json()
    show = (f"import os; print({MARKER!r}, os.getcwd()); "
            f"print('PRELOAD', os.environ.get({launch.PRELOAD_ENV!r}))")
    command = [sys.executable, "-c", show]
    return subprocess.run([sys.executable, "-m", "jupyterhub_execplanner.singleuser", "--", *command],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def session_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / launch.session_folder(make_plan_spec())


def make_plan_spec() -> LaunchSpec:
    return LaunchSpec(session=SESSION, owner="alice", server_name=launch.server_name_for(SESSION),
                      profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z",
                      notebook="http://x/analysis.ipynb")


def assert_prepared(tmp_path: Path, done: subprocess.CompletedProcess[str], site: Loopback) -> None:
    assert done.returncode == 0, done.stderr
    assert MARKER in done.stdout and "PRELOAD None" in done.stdout  # ran, without the plan in its env
    spec = make_plan_spec()
    notebook = tmp_path / "home" / launch.notebook_path(spec)
    document = json.loads(notebook.read_text())
    name = f"execplanner-{spec.server_name}"
    assert document["metadata"]["kernelspec"] == {
        "name": name, "display_name": "Python (analysis.ipynb)", "language": "python"}
    assert document["cells"] == NOTEBOOK["cells"]
    kernel = json.loads((tmp_path / "jupyter-data" / "kernels" / name / "kernel.json").read_text())
    venv_python = session_dir(tmp_path) / ".venv" / "bin" / "python"
    assert kernel["argv"] == [str(venv_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    check = "import tinypkg, ipykernel; print(tinypkg.VALUE)"
    assert subprocess.run([str(venv_python), "-c", check], capture_output=True, text=True).stdout == "42\n"
    assert subprocess.run([sys.executable, "-c", "import tinypkg"], capture_output=True).returncode != 0
    assert (session_dir(tmp_path) / "table.csv").read_text() == "a,b\n1,2\n"
    assert (session_dir(tmp_path) / "requirements.txt").read_text() == "tinypkg==0.1\n"
    assert all(r["authorization"] == f"execplanner-report {launch.report_token(SECRET, SESSION)}"
               for r in site.reports)
    assert all(r["path"] == f"/services/execplanner/sessions/{SESSION}/progress" for r in site.reports)
    assert not any(r["failed"] for r in site.reports)


@pytest.mark.skipif(not HAS_UV, reason="uv is not installed")
def test_preload_with_uv(tmp_path: Path, site: Loopback, uv_cache: Path) -> None:
    site.reports.clear()
    done = run_preload(tmp_path, make_plan(site, installer="auto"), uv_cache)
    assert_prepared(tmp_path, done, site)
    messages = site.messages()
    assert messages[0] == f"fetching notebook {site.url}/nb/analysis.ipynb"
    assert f"fetching requirements {site.url}/nb/requirements.txt" in messages
    assert any(m.startswith("installing 1 requirement with uv (found on the server's PATH") for m in messages)
    assert f"downloading data table.csv from {site.url}/data/table.csv" in messages
    assert any("not downloading data 'archive'" in m for m in messages)
    assert messages[-1].startswith("starting server")

    # the server restarts: the user's changes to the notebook are kept, the environment reused
    notebook = tmp_path / "home" / launch.notebook_path(make_plan_spec())
    notebook.write_text(notebook.read_text().replace("tinypkg.VALUE", "tinypkg.VALUE + 1"))
    site.reports.clear()
    again = run_preload(tmp_path, make_plan(site, installer="auto"), uv_cache)
    assert again.returncode == 0, again.stderr
    assert "tinypkg.VALUE + 1" in notebook.read_text()
    assert any("keeping the notebook" in m for m in site.messages())


def test_preload_with_pip(tmp_path: Path, site: Loopback, uv_cache: Path) -> None:
    site.reports.clear()
    done = run_preload(tmp_path, make_plan(site, installer="pip"), uv_cache)
    assert_prepared(tmp_path, done, site)
    assert "installing 1 requirement with pip (the hub's preload_installer is pip)" in site.messages()


def test_auto_falls_back_to_pip_without_uv(tmp_path: Path, site: Loopback, uv_cache: Path) -> None:
    site.reports.clear()
    done = run_preload(tmp_path, make_plan(site, installer="auto"), uv_cache, path="/usr/bin:/bin")
    assert done.returncode == 0, done.stderr
    assert "installing 1 requirement with pip (uv is not on the server's PATH)" in site.messages()


@pytest.mark.parametrize("requirements", [None, "empty.txt"])
def test_without_requirements_the_notebook_uses_python3(
    tmp_path: Path, site: Loopback, uv_cache: Path, requirements: str | None
) -> None:
    done = run_preload(tmp_path, make_plan(site, spec={"requirements": requirements}), uv_cache)
    assert done.returncode == 0, done.stderr
    assert MARKER in done.stdout
    document = json.loads((tmp_path / "home" / launch.notebook_path(make_plan_spec())).read_text())
    assert document["metadata"]["kernelspec"]["name"] == "python3"
    assert not (session_dir(tmp_path) / ".venv").exists()


def test_without_a_plan_it_only_runs_the_command(tmp_path: Path, uv_cache: Path) -> None:
    done = run_preload(tmp_path, None, uv_cache)
    assert done.returncode == 0, done.stderr
    assert MARKER in done.stdout and not (tmp_path / "home" / "execplanner").exists()


def test_a_broker_that_does_not_answer_does_not_stop_the_preload(
    tmp_path: Path, site: Loopback, uv_cache: Path
) -> None:
    plan = make_plan(site, spec={"requirements": None}, report_url="http://127.0.0.1:9/progress")
    done = run_preload(tmp_path, plan, uv_cache)
    assert done.returncode == 0, done.stderr
    assert MARKER in done.stdout


FAILURES = [
    ({"notebook": "{url}/nb/missing.ipynb"}, {},
     ["the notebook at {url}/nb/missing.ipynb could not be fetched: HTTP 404"]),
    ({"notebook": "{url}/nb/page.html"}, {},
     ["the notebook at {url}/nb/page.html is not a Jupyter notebook"]),
    ({}, {"max_notebook_size": 100}, ["more than the limit of 100 bytes"]),
    ({"requirements": "unknown.txt"}, {"installer": "uv" if HAS_UV else "pip"},
     [f"{'uv' if HAS_UV else 'pip'} could not install the requirements (exit status ",
      "no version of one of the requirements could be found for this server; see the server's log"]),
    ({"requirements": "unknown.txt"}, {"installer": "pip"},
     ["pip could not install the requirements (exit status 1): no version of one of the requirements "
      "could be found for this server; see the server's log"]),
    ({"requirements": "forbidden.txt"}, {},
     ["requirements line 2: pip options (--extra-index-url) are not allowed",
      "(in {url}/nb/forbidden.txt)"]),
    ({"notebook": "file:///etc/passwd"}, {}, ["the notebook location 'file:///etc/passwd' is not an http"]),
    ({"data": (DataItem("big", "{url}/data/table.csv"),)}, {"max_data_size": 3},
     ["the data resource 'big' at {url}/data/table.csv is 8 bytes, more than the limit of 3 bytes"]),
]


@pytest.mark.parametrize(("spec", "plan", "expected"), FAILURES,
                         ids=["404", "not-a-notebook", "too-big", "uninstallable", "uninstallable-pip",
                              "forbidden-line", "file-url", "data-too-big"])
def test_failures_stop_the_server_with_the_reason(
    tmp_path: Path, site: Loopback, uv_cache: Path, spec: dict, plan: dict, expected: list[str]
) -> None:
    site.reports.clear()
    spec = {k: tuple(DataItem(d.name, d.location.format(url=site.url)) for d in v) if k == "data"
            else v.format(url=site.url) for k, v in spec.items()}
    done = run_preload(tmp_path, make_plan(site, spec=spec, **plan), uv_cache)
    assert done.returncode == 1
    assert MARKER not in done.stdout
    failed = [r for r in site.reports if r["failed"]]
    assert len(failed) == 1 and failed[0]["level"] == "ERROR"
    reason = failed[0]["message"]
    for text in expected:
        assert text.format(url=site.url) in reason
        assert text.format(url=site.url) in done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in reason
    assert "\n" not in reason
    # the reason never quotes what was fetched (the log may)
    for fetched in ("nosuchpkg", "evil.example", "Not a notebook"):
        assert fetched not in reason
    assert f"the session's server was not started: {reason}" in done.stderr
