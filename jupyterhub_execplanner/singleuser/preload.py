"""Prepare a session's folder before its server starts.

In the server's root directory (``plan.root_dir``, else the working directory), the session's folder
(:func:`~jupyterhub_execplanner.launch.session_folder`) gets the notebook
(:func:`~jupyterhub_execplanner.launch.notebook_path`), the checked requirements file, a ``.venv``
with the requirements, registered as a kernel the notebook uses, and the data resources. A restarted
server keeps what is there: the notebook the user may have changed, an environment with the same
requirements, data already downloaded.

Every fetch follows the hub's policy carried by the plan (:func:`fetch_policy`): its source lists and
its address policy (:mod:`..platform.netguard`). The session's messages never quote what was fetched.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urljoin, urlsplit

from ..launch import DataItem, LaunchSpec, notebook_filename, notebook_path, safe_filename, session_folder
from ..platform.datasets import DataConfig
from ..platform.netguard import NetGuard, hub_urls_from_env
from .fetch import FetchError, FetchPolicy, check_url, download, fetch_bytes, stream
from .install import InstallError, install_requirements, requirement_names
from .kernel import (
    DEFAULT_KERNEL,
    NotebookError,
    kernel_name,
    parse_notebook,
    register_kernel,
    write_notebook,
)
from .plan import PlanError, PreloadPlan
from .report import Reporter
from .requirements import RequirementRefused, check_requirements

REQUIREMENTS_FILE = "requirements.txt"
MAX_REQUIREMENTS_SIZE = 1024 * 1024

# what a preload may fail with; the message is the reason shown to the session's owner
EXPECTED = (FetchError, InstallError, NotebookError, PlanError, RequirementRefused)


def root_of(plan: PreloadPlan) -> Path:
    return Path(plan.root_dir).expanduser() if plan.root_dir else Path.cwd()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def fetch_policy(plan: PreloadPlan, environ: Mapping[str, str] | None = None) -> FetchPolicy:
    """The hub's source lists and address policy from ``plan``; the hub's own URLs are the plan's,
    the broker's (``report_url``) and those JupyterHub gives the server (``environ``)."""
    given = hub_urls_from_env(os.environ if environ is None else environ)
    hub_urls = (*plan.hub_urls, plan.report_url, *given)
    try:
        guard = NetGuard.build(plan.fetch_allowed_hosts, hub_urls, plan.snapshot_paths)
    except ValueError as e:
        raise PlanError(f"$EXECPLANNER_PRELOAD has a wrong address policy: {e}") from None
    sources = DataConfig(denied=plan.data_denied_sources, allowed=plan.data_allowed_sources)
    return FetchPolicy(sources, guard)


def prepare(plan: PreloadPlan, reporter: Reporter) -> None:
    """Prepare the session's folder; raises one of EXPECTED (or OSError) with the reason."""
    spec = plan.spec
    root = root_of(plan)
    folder = root / session_folder(spec)
    folder.mkdir(parents=True, exist_ok=True)
    policy = fetch_policy(plan)

    notebook, target = _notebook(plan, root, reporter, policy)
    kernelspec = _environment(plan, folder, reporter, policy) or DEFAULT_KERNEL
    if notebook is not None and target is not None:
        write_notebook(notebook, target, kernelspec)
    _data(plan, folder, reporter, policy)


def _notebook(
    plan: PreloadPlan, root: Path, reporter: Reporter, policy: FetchPolicy | None = None
) -> tuple[dict[str, Any] | None, Path | None]:
    spec = plan.spec
    relative = notebook_path(spec)
    if not spec.notebook or relative is None:
        return None, None
    target = root / relative
    if target.exists():
        reporter.info(f"keeping the notebook already in the session's folder: {relative}")
        return None, None
    reporter.info(f"fetching notebook {spec.notebook}")
    body = fetch_bytes(
        spec.notebook, max_size=plan.max_notebook_size, timeout=plan.timeout, what="notebook",
        policy=policy or fetch_policy(plan),
    )
    try:
        return parse_notebook(body, spec.notebook), target
    except NotebookError:  # its message may quote the body: say what was expected instead
        raise NotebookError(f"the notebook at {spec.notebook} is not a Jupyter notebook (a JSON document "
                            "of nbformat 4 with 'cells' is expected)") from None


def requirements_url(spec: LaunchSpec) -> str | None:
    """The requirements file's URL: absolute, or relative to the notebook's."""
    if not spec.requirements:
        return None
    return urljoin(spec.notebook, spec.requirements) if spec.notebook else spec.requirements


def _environment(plan: PreloadPlan, folder: Path, reporter: Reporter,
                 policy: FetchPolicy | None = None) -> dict[str, str] | None:
    spec = plan.spec
    url = requirements_url(spec)
    if url is None:
        return None
    check_url(url, "requirements")
    reporter.info(f"fetching requirements {url}")
    body = fetch_bytes(url, max_size=MAX_REQUIREMENTS_SIZE, timeout=plan.timeout, what="requirements file",
                       policy=policy or fetch_policy(plan))
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FetchError(f"the requirements file at {url} is not UTF-8 text") from None
    try:
        requirements = check_requirements(text, allow_options=plan.allow_options,
                                          max_lines=plan.requirements_max_lines)
    except RequirementRefused as e:
        raise RequirementRefused(f"{e} (in {url})") from None
    if not requirements.lines:
        reporter.info("the requirements file names no packages: using the server's Python kernel")
        return None
    requirements_file = folder / REQUIREMENTS_FILE
    requirements_file.write_text(requirements.text())
    python = install_requirements(
        folder / ".venv",
        requirements_file,
        preference=plan.installer,
        say=reporter.info,
        count=_plural(requirements.count, "requirement"),
        extra_args=plan.pip_extra_args,
        timeout=plan.install_timeout,
        names=requirement_names(requirements.lines),
    )
    filename = notebook_filename(spec)
    display = f"Python ({filename})" if filename else f"Python (session {spec.server_name})"
    return register_kernel(python, name=kernel_name(spec.server_name), display_name=display,
                           session=spec.session)


def _data(plan: PreloadPlan, folder: Path, reporter: Reporter, policy: FetchPolicy | None = None) -> None:
    policy = policy or fetch_policy(plan)
    taken: set[str] = set()
    for index, item in enumerate(plan.spec.data, start=1):
        if item.mount is not None:  # placed by the offer: a local link or a download
            _placed(plan, folder, item, reporter, policy)
            continue
        assert item.location is not None
        scheme = urlsplit(item.location).scheme
        if scheme not in ("http", "https"):
            reporter.info(f"not downloading data {item.name!r}: {scheme or 'its'} locations are not fetched")
            continue
        fallback = safe_filename(unquote(urlsplit(item.location).path), f"data-{index}")
        filename = safe_filename(item.name, fallback) if item.name else fallback
        if filename in taken or filename in (".venv", REQUIREMENTS_FILE):
            filename = f"{index}-{filename}"
        taken.add(filename)
        target = folder / filename
        if target.is_symlink() or (folder / f"{filename}.part").is_symlink():
            raise FetchError(f"data {item.name!r}: {filename} is a link in the session's folder; "
                             "refusing to download through it")
        if target.exists():
            continue
        reporter.info(f"downloading data {filename} from {item.location}")
        download(item.location, target, max_size=plan.max_data_size, timeout=plan.timeout,
                 what=f"data resource {item.name!r}", policy=policy)


def describe(error: BaseException) -> str:
    """The one-paragraph reason for a failed preload."""
    if isinstance(error, EXPECTED):
        return " ".join(str(error).split())
    if isinstance(error, OSError):
        return f"preparing the session's folder failed: {error}"
    return f"the preload failed unexpectedly: {error.__class__.__name__}: {error}"


# -- data placed by the offer (issue 6) ------------------------------------------------------------

PROGRESS_EVERY = 1.0  # seconds between progress reports of a download
_UNSAFE_MOUNT = re.compile(r"[\\\x00-\x1f\x7f]")  # a backslash or a control character
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _inside(folder: Path, relative: str) -> Path:
    """The path of a data mount in the session's folder, its parent folders made. Refused (FetchError)
    unless it stays inside the folder: no absolute path, ``..``, ``.``, empty segment, backslash or
    control character; no existing symbolic link (a local resource's link, or the user's) on the way,
    which a download or a link would otherwise go through; the resolved parent inside the resolved
    folder (the last guard)."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") for p in parts) or _UNSAFE_MOUNT.search(relative):
        raise FetchError(f"the data mount {relative!r} is not a path inside the session's folder")
    current = folder
    for part in parts[:-1]:
        current = current / part
        on_the_way = current.relative_to(folder)
        if current.is_symlink():
            raise FetchError(f"the data mount {relative!r} goes through the link {on_the_way}; refusing "
                             "to write outside the session's folder")
        if not current.exists():
            current.mkdir()
        elif not current.is_dir():
            raise FetchError(f"the data mount {relative!r} goes through the file {on_the_way}")
    home, parent = folder.resolve(), current.resolve()
    if parent != home and home not in parent.parents:
        raise FetchError(f"the data mount {relative!r} is not a path inside the session's folder")
    return folder / relative


def _placed(plan: PreloadPlan, folder: Path, item: DataItem, reporter: Reporter,
            policy: FetchPolicy | None = None) -> None:
    """A local resource: a symbolic link at its mount to the collection's (read-only) path. A
    staged one: downloaded into its mount, with progress reports. Nothing is written or linked
    outside the session's folder, nor through a symbolic link."""
    assert item.mount is not None
    target = _inside(folder, item.mount)
    if item.mode == "local":
        source = item.source or ""
        if not os.path.exists(source):
            raise FetchError(f"data {item.name!r}: the platform's copy at {source} (collection "
                             f"{item.collection}) is not on this server; tell the hub's administrator")
        if target.is_symlink() and os.readlink(target) == source:
            return
        if target.is_symlink() or target.exists():
            raise FetchError(f"data {item.name!r}: {item.mount} is already in the session's folder")
        os.symlink(source, target, target_is_directory=os.path.isdir(source))
        reporter.info(f"data {item.name!r} is local: linked read-only at {item.mount} -> {source}")
        return
    if target.is_symlink():
        raise FetchError(f"data {item.name!r}: {item.mount} is a link in the session's folder; refusing "
                         "to download through it")
    if target.exists():
        reporter.info(f"keeping data {item.name!r} already downloaded at {item.mount}")
        return
    url = item.location or ""
    check_url(url, f"data resource {item.name!r}")
    size = f" ({_bytes(item.size)})" if item.size is not None else ""
    reporter.info(f"downloading data {item.name!r}{size} from {url} into {item.mount}")
    timeout = max(plan.timeout, 3 * item.seconds + 30)
    partial = target.with_name(target.name + ".part")
    started = time.monotonic()
    partial.unlink(missing_ok=True)  # a link there is removed, never written through
    try:
        with os.fdopen(os.open(partial, _CREATE, 0o644), "wb") as out:
            progress = _Progress(out, reporter, item)
            total = stream(url, cast(BinaryIO, progress), max_size=plan.max_data_size,
                           timeout=timeout, what=f"data resource {item.name!r}",
                           policy=policy or fetch_policy(plan))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    elapsed = time.monotonic() - started
    first = (progress.first - started) if progress.first is not None else elapsed
    reporter.info(f"downloaded data {item.name!r}: {_bytes(total)} in {elapsed:.1f} s",
                  transfer={"url": url, "bytes": total, "seconds": max(elapsed, 1e-6),
                            "first_byte": min(max(first, 0.0), elapsed)})


class _Progress:
    """A file that reports how many bytes were written, at most every PROGRESS_EVERY seconds."""

    def __init__(self, out: BinaryIO, reporter: Reporter, item: DataItem):
        self.out, self.reporter, self.item = out, reporter, item
        self.written, self.last = 0, time.monotonic()
        self.first: float | None = None  # when the first byte came (time.monotonic)

    def write(self, chunk: bytes) -> int:
        if self.first is None:
            self.first = time.monotonic()
        self.out.write(chunk)
        self.written += len(chunk)
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            of = f" of {_bytes(self.item.size)}" if self.item.size else ""
            self.reporter.info(f"data {self.item.name!r}: {_bytes(self.written)}{of} downloaded")
        return len(chunk)


def _bytes(size: int | None) -> str:
    from ..platform.datasets import human_bytes

    return "an unknown size" if size is None else human_bytes(size)
