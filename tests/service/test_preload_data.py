"""The preload places an offer's data: a read-only link for local data, a download with progress for
staged data, and a failed transfer fails the start with the reason (reported to the broker)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Loopback

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import DataItem, LaunchSpec
from jupyterhub_execplanner.singleuser import preload
from jupyterhub_execplanner.singleuser.fetch import FetchError
from jupyterhub_execplanner.singleuser.plan import PreloadPlan

SESSION = "5a1d0c3e-0000-4000-8000-000000000001"
SIZE = 3_000_000
# the data is served on loopback: the tests allow it as an admin would (c.ExecPlanner.fetch_allowed_hosts)
LOOPBACK = ("127.0.0.0/8", "::1", "localhost")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Loopback]:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "big.fits").write_bytes(b"\x01" * SIZE)
    server = Loopback(tmp_path / "site")
    yield server
    server.close()


def run(tmp_path: Path, site: Loopback, *data: DataItem) -> tuple[subprocess.CompletedProcess[str], Path]:
    spec = LaunchSpec(session=SESSION, owner="alice", server_name=launch.server_name_for(SESSION),
                      profile="small", cores=1, memory=1, end="2030-01-01T00:00:00Z", data=data)
    plan = PreloadPlan(spec=spec, report_url=f"{site.url}/progress", report_token="t", timeout=10,
                       root_dir=str(tmp_path / "home"), fetch_allowed_hosts=LOOPBACK)
    env = {**os.environ, launch.PRELOAD_ENV: plan.to_json()}
    done = subprocess.run([sys.executable, "-m", "jupyterhub_execplanner.singleuser", "--", sys.executable,
                           "-c", "print('STARTED')"], env=env, capture_output=True, text=True, timeout=120)
    return done, tmp_path / "home" / launch.session_folder(spec)


def test_local_link_and_staged_download(tmp_path: Path, site: Loopback) -> None:
    held = tmp_path / "disk" / "survey"
    held.mkdir(parents=True)
    (held / "cat.fits").write_text("local copy")
    done, folder = run(
        tmp_path, site,
        DataItem("survey", f"{site.url}/survey/cat.fits", "local", "input/survey", str(held / "cat.fits"),
                 0, 0.0, "survey"),
        DataItem("big", f"{site.url}/big.fits", "stage", "data/big", None, SIZE, 1.0),
    )
    assert done.returncode == 0 and "STARTED" in done.stdout, done.stderr
    link = folder / "input" / "survey"
    assert link.is_symlink() and os.readlink(link) == str(held / "cat.fits")
    assert (folder / "data" / "big").stat().st_size == SIZE and not (folder / "data" / "big.part").exists()
    messages = site.messages()
    assert f"data 'survey' is local: linked read-only at input/survey -> {held / 'cat.fits'}" in messages
    assert f"downloading data 'big' (3 MB) from {site.url}/big.fits into data/big" in messages
    assert any(m.startswith("downloaded data 'big': 3 MB in ") for m in messages)
    assert not any(r["failed"] for r in site.reports)
    # the download's figures go to the broker, which measures the source with them (issue 15)
    [transfer] = [r["transfer"] for r in site.reports if "transfer" in r]
    assert transfer["url"] == f"{site.url}/big.fits" and transfer["bytes"] == SIZE
    assert 0 <= transfer["first_byte"] <= transfer["seconds"]


def test_progress_reports_count_the_bytes(tmp_path: Path, site: Loopback,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def info(self, message: str, *, transfer: object = None) -> None:
            self.lines.append(message)

    monkeypatch.setattr(preload, "PROGRESS_EVERY", 0.0)  # a report at every chunk
    recorder = Recorder()
    spec = LaunchSpec(session=SESSION, owner="alice", server_name="ep-x", profile="small", cores=1,
                      memory=1, end="2030-01-01T00:00:00Z")
    plan = PreloadPlan(spec=spec, timeout=10, fetch_allowed_hosts=LOOPBACK)
    item = DataItem("big", f"{site.url}/big.fits", "stage", "data/big", None, SIZE, 1.0)
    preload._placed(plan, tmp_path, item, recorder)  # type: ignore[arg-type]
    progress = [m for m in recorder.lines if m.endswith("downloaded") and "of 3 MB" in m]
    assert progress and progress[-1] == "data 'big': 3 MB of 3 MB downloaded"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (DataItem("gone", "{url}/missing.fits", "stage", "data/gone", None, 10, 0.0),
         "the data resource 'gone' at {url}/missing.fits could not be fetched: HTTP 404"),
        (DataItem("survey", None, "local", "data/survey", "/nonexistent/survey", 0, 0.0, "survey"),
         "data 'survey': the platform's copy at /nonexistent/survey (collection survey) is not on this "
         "server"),
        (DataItem("evil", "{url}/big.fits", "stage", "../../escape", None, 10, 0.0),
         "the data mount '../../escape' is not a path inside the session's folder"),
    ],
)
def test_failed_transfer_fails_the_start_with_the_reason(tmp_path: Path, site: Loopback, item: DataItem,
                                                         reason: str) -> None:
    location = item.location.format(url=site.url) if item.location else None
    fixed = DataItem(item.name, location, item.mode, item.mount, item.source, item.size, item.seconds,
                     item.collection)
    done, _ = run(tmp_path, site, fixed)
    assert done.returncode == 1 and "STARTED" not in done.stdout
    [failure] = [r for r in site.reports if r["failed"]]
    assert failure["level"] == "ERROR" and reason.format(url=site.url) in failure["message"]


# -- a crafted plan cannot write or link outside the session's folder ---------------------------------


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *, transfer: object = None) -> None:
        self.lines.append(message)


def outside_files(tmp_path: Path, folder: Path) -> list[str]:
    """Every path under tmp_path that is not in the session's folder or the test site."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if folder not in (p, *p.parents) and not p.is_relative_to(tmp_path / "site"))


def test_a_download_never_goes_through_a_local_link(tmp_path: Path, site: Loopback) -> None:
    held = tmp_path / "disk" / "survey"
    (held / "sub").mkdir(parents=True)  # a collection the server could write to
    done, folder = run(
        tmp_path, site,
        DataItem("near", f"{site.url}/survey/sub", "local", "data/d", str(held / "sub"), 0, 0.0, "survey"),
        DataItem("evil", f"{site.url}/big.fits", "stage", "data/d/evil.fits", None, SIZE, 1.0),
    )
    assert done.returncode == 1 and "STARTED" not in done.stdout
    [failure] = [r for r in site.reports if r["failed"]]
    assert "the data mount 'data/d/evil.fits' goes through the link data/d" in failure["message"]
    assert list((held / "sub").iterdir()) == [] and (folder / "data" / "d").is_symlink()


@pytest.mark.parametrize("mount", ["../../escape", "/tmp/abs", "data/../../x", "data/./x", "data//x", "",
                                   "data\\..\\..\\x", "data/x\x00y", "data/x\ny"])
def test_a_mount_that_is_not_a_plain_relative_path_is_refused(tmp_path: Path, site: Loopback,
                                                               mount: str) -> None:
    folder = tmp_path / "home" / "session"
    folder.mkdir(parents=True)
    plan = PreloadPlan(spec=LaunchSpec(session=SESSION, owner="a", server_name="ep-x", profile="small",
                                       cores=1, memory=1, end="2030-01-01T00:00:00Z"), timeout=10,
                       fetch_allowed_hosts=LOOPBACK)
    for item in (DataItem("evil", f"{site.url}/big.fits", "stage", mount, None, SIZE, 1.0),
                 DataItem("evil", None, "local", mount, str(tmp_path / "site"), 0, 0.0, "survey")):
        with pytest.raises(FetchError, match="is not a path inside the session's folder"):
            preload._placed(plan, folder, item, Lines())  # type: ignore[arg-type]
    assert outside_files(tmp_path, folder) == ["home"] and list(folder.iterdir()) == []


def test_links_already_in_the_folder_are_not_followed(tmp_path: Path, site: Loopback) -> None:
    folder, elsewhere = tmp_path / "home" / "session", tmp_path / "elsewhere"
    folder.mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / "kept").write_text("not yours")
    (folder / "data").symlink_to(elsewhere, target_is_directory=True)  # e.g. made by the user
    (folder / "file").symlink_to(elsewhere / "kept")
    (folder / "big.part").symlink_to(elsewhere / "kept")
    plan = PreloadPlan(spec=LaunchSpec(session=SESSION, owner="a", server_name="ep-x", profile="small",
                                       cores=1, memory=1, end="2030-01-01T00:00:00Z"), timeout=10,
                       fetch_allowed_hosts=LOOPBACK)
    url = f"{site.url}/big.fits"
    refused = [
        (DataItem("a", url, "stage", "data/x", None, SIZE, 1.0), "goes through the link data;"),
        (DataItem("b", None, "local", "data/link", str(tmp_path / "site"), 0, 0.0, "c"),
         "goes through the link data;"),
        (DataItem("c", url, "stage", "file", None, SIZE, 1.0), "file is a link in the session's folder"),
    ]
    for item, reason in refused:
        with pytest.raises(FetchError, match=reason):
            preload._placed(plan, folder, item, Lines())  # type: ignore[arg-type]
    # a stale partial download that is a link is replaced, never written through
    item = DataItem("d", url, "stage", "big", None, SIZE, 1.0)
    preload._placed(plan, folder, item, Lines())  # type: ignore[arg-type]
    assert (folder / "big").stat().st_size == SIZE and not (folder / "big").is_symlink()
    assert not (folder / "big.part").exists() and not (folder / "big.part").is_symlink()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["kept"]
    assert (elsewhere / "kept").read_text() == "not yours"


def test_a_plain_download_is_not_written_through_a_link(tmp_path: Path, site: Loopback) -> None:
    folder, kept = tmp_path / "session", tmp_path / "kept"
    folder.mkdir()
    kept.write_text("not yours")
    (folder / "big.fits").symlink_to(kept)
    spec = LaunchSpec(session=SESSION, owner="a", server_name="ep-x", profile="small", cores=1, memory=1,
                      end="2030-01-01T00:00:00Z", data=(DataItem("big.fits", f"{site.url}/big.fits"),))
    with pytest.raises(FetchError, match="big.fits is a link in the session's folder"):
        preload._data(PreloadPlan(spec=spec, timeout=10, fetch_allowed_hosts=LOOPBACK), folder,
                      Lines())  # type: ignore[arg-type]
    assert kept.read_text() == "not yours"
