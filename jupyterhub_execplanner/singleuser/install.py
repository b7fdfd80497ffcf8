"""A session's own environment: a virtual environment that sees the base packages, with the
session's requirements installed into it by uv (when present, much faster) or pip.

The environment is made with ``--system-site-packages`` and a ``.pth`` file that adds the base
environment's site directories after its own, so the kernel imports what the server has (ipykernel,
numpy, ...) even when the server's Python is itself a virtual environment, while what the requirements
install takes precedence. A marker file records what was installed: a restarted server with the same
requirements reuses the environment.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from . import pipconfig

MARKER = ".execplanner-installed"
_USEFUL = (
    "error",
    "no matching distribution",
    "could not find",
    "no solution found",
    "because",
    "×",
    "╰─▶",
    "not found",
    "conflict",
    "requires",
    "unsatisfiable",
    "failed",
)
_NOISE = (
    "collecting ",
    "downloading ",
    "using cached",
    "looking in ",
    "requirement already satisfied",
    "processing ",
    "using python ",
    "using cpython ",
    "resolved ",
    "prepared ",
    "installed ",
    "audited ",
)


UNREACHABLE = "the package index could not be reached"
# what an installer's output says went wrong, in our words: (words in its output, explanation)
_FAILURES = (
    (("no matching distribution", "could not find a version", "no solution found", "unsatisfiable",
      "not found in the package registry", "not found in the provided package locations"),
     "no version of one of the requirements could be found for this server"),
    (("do not match the hashes", "hash mismatch", "hashes are required"),
     "a downloaded package did not match its --hash"),
    (("failed building wheel", "subprocess-exited-with-error", "failed to build", "build backend"),
     "a package could not be built"),
    (("connection", "network is unreachable", "name resolution", "timed out", "failed to fetch",
      "max retries"),
     UNREACHABLE),
    (("no space left",), "the server's disk is full"),
)
LOG_LINES = 40  # lines of a failed installer's output printed to the server's log


class InstallError(RuntimeError):
    """Creating the environment or installing the requirements failed; the message says why without
    quoting the requirements."""


def install_failure(installer: str, status: int, output: str) -> str:
    """The session's message for a failed install: the exit status and, when the output shows it,
    what went wrong, in this module's own words (never a line of the output)."""
    lowered = output.lower()
    why = next((text for words, text in _FAILURES if any(w in lowered for w in words)), None)
    reason = f": {why}" if why else ""
    return (f"{installer} could not install the requirements (exit status {status}){reason}; "
            "see the server's log")


def choose_installer(preference: str) -> str:
    """``uv`` or ``pip``, from the admin's ``preload_installer`` (``auto``: uv when on PATH)."""
    if preference == "pip":
        return "pip"
    if shutil.which("uv"):
        return "uv"
    if preference == "uv":
        raise InstallError("the hub installs requirements with uv, but uv is not on the server's PATH")
    return "pip"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def base_site_dirs() -> list[str]:
    """The site directories of the Python running the preload (the server's base environment)."""
    dirs = [*site.getsitepackages()]
    return [d for i, d in enumerate(dirs) if os.path.isdir(d) and d not in dirs[:i]]


def _site_packages_of(python: Path, timeout: float) -> Path:
    out = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        timeout,
        "reading the environment's site-packages",
    )
    return Path(out.strip().splitlines()[-1])


def _log_failure(what: str, output: str) -> None:
    lines = [line.rstrip()[:500] for line in output.splitlines() if line.strip()][-LOG_LINES:]
    print(f"[execplanner] {what} failed; the last lines of its output:", *lines, sep="\n  ",
          file=sys.stderr, flush=True)


def _run(argv: Sequence[str], timeout: float, what: str, names: Sequence[str] = (),
         installer: str | None = None, extra_env: Mapping[str, str] | None = None) -> str:
    """Run ``argv``; its stdout. InstallError on failure: for the install step (``installer``
    given) in our words (the output goes to the log), else with the output's useful lines."""
    env = {**os.environ, **(extra_env or {}), "NO_COLOR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_NO_INPUT": "1"}
    env.pop("EXECPLANNER_PRELOAD", None)
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, errors="replace", timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        raise InstallError(f"{what} took more than {timeout:g} s and was stopped") from None
    except OSError as e:
        raise InstallError(f"{what} could not run {argv[0]}: {e}") from None
    if done.returncode != 0:
        output = done.stderr + "\n" + done.stdout
        _log_failure(what, output)
        if installer is not None:
            raise InstallError(install_failure(installer, done.returncode, output))
        lines = useful_lines(output, names)
        raise InstallError(f"{what} failed: {' '.join(lines)}")
    return done.stdout


def useful_lines(output: str, names: Sequence[str] = (), limit: int = 12) -> list[str]:
    """The lines of an installer's output that say what went wrong: errors, resolver explanations,
    and lines naming one of the requirements; the last lines when none do."""
    lowered_names = [n.lower() for n in names if n]
    kept: list[str] = []
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        lower = line.lower()
        if lower.startswith(_NOISE) or lower.startswith("traceback") or lower.startswith("file \""):
            continue
        if any(word in lower for word in _USEFUL) or any(n in lower for n in lowered_names):
            if line not in kept:
                kept.append(line)
    if not kept:
        kept = lines[-6:] or ["(no output)"]
    if len(kept) > limit:
        kept = [*kept[: limit - 1], f"... ({len(kept) - limit + 1} more lines)"]
    return kept


def requirement_names(lines: Sequence[str]) -> list[str]:
    names = []
    for line in lines:
        try:
            names.append(Requirement(line.split(" --", 1)[0]).name)
        except InvalidRequirement:
            continue
    return names


def _fingerprint(requirements: str, installer: str, extra_args: Sequence[str]) -> str:
    text = "\n".join([sys.executable, installer, *extra_args, requirements])
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_environment(
    venv: Path,
    requirements_file: Path,
    *,
    installer: str,
    extra_args: Sequence[str] = (),
    timeout: float = 600,
    names: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Path:
    """Create ``venv`` and install ``requirements_file`` into it; its Python. Raises InstallError.
    ``env``: more variables for the installer (uv: pip's configuration, :mod:`.pipconfig`)."""
    python = venv_python(venv)
    fingerprint = _fingerprint(requirements_file.read_text(), installer,
                               [*extra_args, *sorted(f"{k}={v}" for k, v in (env or {}).items())])
    marker = venv / MARKER
    if python.exists() and marker.exists() and marker.read_text().strip() == fingerprint:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    if installer == "uv":
        uv = shutil.which("uv") or "uv"
        create = [uv, "venv", "--quiet", "--system-site-packages", "--python", sys.executable, str(venv)]
    else:
        create = [sys.executable, "-m", "venv", "--system-site-packages"]
        if importlib.util.find_spec("pip") is not None:
            create.append("--without-pip")  # the base pip is seen through the .pth below
        create.append(str(venv))
    _run(create, timeout, "creating the session's environment")
    site_packages = _site_packages_of(python, timeout)
    lines = [f"import site; site.addsitedir({d!r})\n" for d in base_site_dirs()]
    (site_packages / "_execplanner_base.pth").write_text("".join(lines))
    if installer == "uv":
        install = [uv, "pip", "install", "--python", str(python), "-r", str(requirements_file)]
    else:
        install = [str(python), "-m", "pip", "install", "-r", str(requirements_file)]
    _run([*install, *extra_args], timeout, f"installing the requirements with {installer}", names,
         installer=installer, extra_env=env)
    marker.write_text(fingerprint + "\n")
    return python


def install_requirements(
    venv: Path,
    requirements_file: Path,
    *,
    preference: str,
    say: Callable[[str], None],
    count: str,
    extra_args: Sequence[str] = (),
    timeout: float = 600,
    names: Sequence[str] = (),
) -> Path:
    """Make the session's environment with the installer ``preference`` picks, saying in the session's
    messages (``say``) which installer runs and why. uv is given pip's configuration; when uv cannot
    reach the package index and the admin left the choice to the server (``auto``), pip tries."""
    installer = choose_installer(preference)
    if installer == "pip":
        why = ("the hub's preload_installer is pip" if preference == "pip"
               else "uv is not on the server's PATH")
        say(f"installing {count} with pip ({why})")
        return ensure_environment(venv, requirements_file, installer="pip", extra_args=extra_args,
                                  timeout=timeout, names=names)
    given = pipconfig.uv_environment(pipconfig.read_pip_config(sys.executable), os.environ)
    settings = pipconfig.describe(given)
    said = f"; with pip's settings: {settings}" if settings else ""
    say(f"installing {count} with uv (found on the server's PATH{said})")
    try:
        return ensure_environment(venv, requirements_file, installer="uv", extra_args=extra_args,
                                  timeout=timeout, names=names, env=given)
    except InstallError as e:
        if preference != "auto" or UNREACHABLE not in str(e) or importlib.util.find_spec("pip") is None:
            raise
    say("uv could not reach the package index; installing with pip instead")
    return ensure_environment(venv, requirements_file, installer="pip", extra_args=extra_args,
                              timeout=timeout, names=names)
