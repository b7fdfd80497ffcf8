"""A session's environment as a Jupyter kernel, and the notebook's kernelspec pointing at it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookError(ValueError):
    """A body that is not a Jupyter notebook."""


def jupyter_data_dir() -> Path:
    """Where the server looks for user kernelspecs: ``$JUPYTER_DATA_DIR``, else jupyter_core's
    answer (which honours ``$XDG_DATA_HOME``), else ``~/.local/share/jupyter``."""
    if os.environ.get("JUPYTER_DATA_DIR"):
        return Path(os.environ["JUPYTER_DATA_DIR"])
    try:
        from jupyter_core.paths import jupyter_data_dir as core_data_dir
    except ImportError:  # pragma: no cover - jupyter_core comes with jupyter_server
        return Path.home() / ".local" / "share" / "jupyter"
    return Path(core_data_dir())


def kernel_name(server_name: str) -> str:
    return f"execplanner-{server_name}"


def register_kernel(
    python: Path, *, name: str, display_name: str, session: str, data_dir: Path | None = None
) -> dict[str, str]:
    """Write ``kernels/<name>/kernel.json`` for ``python``; the notebook kernelspec naming it."""
    folder = (data_dir or jupyter_data_dir()) / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True, "execplanner": {"session": session}},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return {"name": name, "display_name": display_name, "language": "python"}


def parse_notebook(body: bytes, url: str) -> dict[str, Any]:
    """The notebook in ``body``; NotebookError naming ``url`` when it is not one."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NotebookError(  # what it holds is not quoted: it may be anything the URL answered
            f"the notebook at {url} is not a Jupyter notebook (not JSON: {e.__class__.__name__})"
        ) from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("cells"), list)
        or not isinstance(document.get("nbformat"), int)
        or document["nbformat"] < 4
    ):
        raise NotebookError(
            f"the notebook at {url} is not a Jupyter notebook (nbformat 4 with 'cells' expected)"
        )
    if not isinstance(document.get("metadata"), dict):
        document["metadata"] = {}
    return document


def write_notebook(document: dict[str, Any], target: Path, kernelspec: dict[str, str]) -> None:
    document["metadata"]["kernelspec"] = dict(kernelspec)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, target)
