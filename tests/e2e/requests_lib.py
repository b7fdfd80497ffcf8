"""Example requests for the end-to-end tests, in the forms remote planners send them."""

from __future__ import annotations

from typing import Any

KINDS = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
INTERIM = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"


def notebook(cores: tuple[int, int | None] = (1, 2), memory: tuple[int, int | None] = (1, 4),
             duration: str | None = "PT1H", **schedule: Any) -> dict[str, Any]:
    compute: dict[str, Any] = {
        "kind": f"{KINDS}/compute/simple-compute-resource.yaml",
        "meta": {"name": "compute-001"},
        "cores": {"min": cores[0]} | ({"max": cores[1]} if cores[1] is not None else {}),
        "memory": {"min": memory[0]} | ({"max": memory[1]} if memory[1] is not None else {}),
    }
    requested: dict[str, Any] = dict(schedule)
    if duration:
        requested["duration"] = duration
    return {
        "executable": {
            "kind": f"{KINDS}/executable/jupyter-notebook.yaml",
            "meta": {"name": "analysis"},
            "location": "https://example.org/notebooks/analysis.ipynb",
            "requirements": "https://example.org/notebooks/requirements.txt",
        },
        "compute": compute,
        "schedule": {"requested": requested},
    }


NOTEBOOK_YAML = f"""
# Run a notebook with its requirements, 1-2 cores, 1-4 GiB, for an hour, as soon as possible.
executable:
  kind: "{KINDS}/executable/jupyter-notebook.yaml"
  meta:
    name: "analysis"
  location: "https://example.org/notebooks/analysis.ipynb"
  requirements: "https://example.org/notebooks/requirements.txt"
compute:
  kind: "{KINDS}/compute/simple-compute-resource.yaml"
  meta:
    name: "compute-001"
  cores:
    min: 1
    max: 2
  memory:
    min: 1
    max: 4
schedule:
  requested:
    duration: "PT1H"
"""

INTERIM_YAML = f"""
executable:
  kind: {INTERIM}/executable/jupyter-notebook-1.0
  meta:
    name: executable-001
  location: https://example.org/02_dmhh.ipynb
schedule:
  requested:
    duration: PT1H
compute:
  kind: {INTERIM}/compute/simple-compute-resource-1.0
  meta:
    name: computer-001
  cores:
    min: 1
    max: 2
  memory:
    min: 1
    max: 2
"""

DRAFT_2023_YAML = """
request:
  executable:
    type: "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook"
    spec:
      notebook: "https://example.org/notebooks/train.ipynb"
      requirements: "https://example.org/notebooks/requirements.txt"
  resources:
    compute:
    - name: "compute-001"
      type: "https://www.purl.org/ivoa.net/resource-types/generic-compute"
      spec:
        mincores: 1
        minmemory: 2
"""

DRAFT_2023_GPU_YAML = """
request:
  executable:
    type: "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook"
    spec:
      notebook: "https://example.org/notebooks/train.ipynb"
  resources:
    compute:
    - name: "compute-001"
      type: "https://www.purl.org/ivoa.net/resource-types/generic-compute"
      spec:
        mincores: 4
        minmemory: 16
        extras:
        - name: "nvidia-gpu"
          type: "https://tinyurl.com/nvidia-ad104"
"""

CONTAINER_YAML = f"""
executable:
  kind: "{KINDS}/executable/docker-container.yaml"
  meta:
    name: "checksum"
  image:
    locations:
      - "ghcr.io/example/checksum:1.0"
compute:
  kind: "{KINDS}/compute/simple-compute-resource.yaml"
"""
