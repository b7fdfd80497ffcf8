"""Kind URIs: the three accepted forms, the group and name spellings, and what we list."""

from __future__ import annotations

import pytest

from jupyterhub_execplanner.model import kinds as K

V1 = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
INTERIM = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"
EB2025 = "https://www.purl.org/ivoa.net/EB/schema/types"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"{V1}/executable/jupyter-notebook.yaml", ("executable", "jupyter-notebook")),
        (f"{V1}/executable/docker-container.yaml", ("executable", "docker-container")),
        (f"{V1}/compute/simple-compute-resource.yaml", ("compute", "simple-compute-resource")),
        (f"{V1}/computer/simple-compute-resource.yaml", ("compute", "simple-compute-resource")),
        (f"{V1}/data/S3-data-resource.yaml", ("data", "S3-data-resource")),
        (f"{V1}/data/Rucio-data-resource.yaml", ("data", "rucio-data-resource")),
        (f"{V1}/data/abstract-data-resource.yaml", ("data", "abstract-data-resource")),
        (f"{V1}/costs/simple-minmax-float-cost.yaml", ("costs", "simple-minmax-float-cost")),
        (f"{INTERIM}/executable/jupyter-notebook-1.0", ("executable", "jupyter-notebook")),
        (f"{INTERIM}/compute/simple-compute-resource-1.0", ("compute", "simple-compute-resource")),
        (f"{INTERIM}/volume/simple-volume-mount-1.0", ("volume", "simple-volume-mount")),
        (f"{INTERIM}/offerset/execution-offerset-1.0", ("offerset", "execution-offerset")),
        (f"{EB2025}/executables/docker-container-1.0", ("executable", "docker-container")),
        (
            f"{EB2025}/resources/compute/simple-compute-resource-1.0",
            ("compute", "simple-compute-resource"),
        ),
        (
            f"{EB2025}/resources/storage/simple-storage-resource-1.0",
            ("storage", "simple-storage-resource"),
        ),
        (f"{EB2025}/resources/data/Rucio-data-resource-1.0", ("data", "rucio-data-resource")),
        (f"{EB2025}/resources/data/S3-data-resource-1.0", ("data", "S3-data-resource")),
        (
            "http://purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/data/"
            "simple-data-resource.yaml",
            ("data", "simple-data-resource"),
        ),
        (f"  {V1}/storage/simple-storage-resource.yaml  ", ("storage", "simple-storage-resource")),
    ],
)
def test_parse_kind_accepts_every_form(uri: str, expected: tuple[str, str]) -> None:
    assert K.parse_kind(uri) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        ["x"],
        {"kind": "x"},
        "",
        "jupyter-notebook",
        "uri:jupyter-notebook-1.0",
        f"{V1}/executable/jupyter-notebook",  # no .yaml
        f"{INTERIM}/executable/jupyter-notebook",  # no -1.0
        f"{V1}/jupyter-notebook.yaml",  # no group
        "https://example.org/kinds/executable/jupyter-notebook.yaml",
        # 2023 types are not kinds
        "https://www.purl.org/ivoa.net/executable-types/jupyter-notebook",
        V1 + "/executable/" + "x" * 600 + ".yaml",
    ],
)
def test_parse_kind_refuses_other_values(value: object) -> None:
    assert K.parse_kind(value) is None


@pytest.mark.parametrize(
    ("uri", "form"),
    [
        (f"{V1}/executable/jupyter-notebook.yaml", K.V1_0),
        (f"{INTERIM}/executable/jupyter-notebook-1.0", K.INTERIM),
        (f"{EB2025}/executables/jupyter-notebook-1.0", K.EB_2025),
    ],
)
def test_parse_kind_form(uri: str, form: str) -> None:
    assert K.parse_kind_form(uri) == (form, "executable", "jupyter-notebook")


@pytest.mark.parametrize(
    ("group", "name", "uri"),
    [
        ("executable", "jupyter-notebook", f"{V1}/executable/jupyter-notebook.yaml"),
        ("data", "S3-data-resource", f"{V1}/data/S3-data-resource.yaml"),
        (
            "session",
            "scheduled-execution-session",
            f"{V1}/session/scheduled-execution-session.yaml",
        ),
    ],
)
def test_kind_uri(group: str, name: str, uri: str) -> None:
    assert K.kind_uri(group, name) == uri
    assert K.parse_kind(uri) == (group, name)


def test_session_and_offerset_kinds() -> None:
    assert K.SESSION_KIND == f"{V1}/session/scheduled-execution-session.yaml"
    assert K.OFFERSET_KIND == f"{V1}/offerset/execution-offerset.yaml"


def test_understood_kinds_lists_the_v1_uris() -> None:
    uris = K.understood_kinds()
    assert len(uris) == 13 == len(set(uris))
    assert f"{V1}/executable/singularity-container.yaml" in uris
    assert f"{V1}/data/skao-data-resource.yaml" in uris
    assert f"{V1}/metrics/simple-minmax-float-metric.yaml" in uris
    assert K.SESSION_KIND not in uris
    assert all(K.parse_kind(u) is not None for u in uris)


@pytest.mark.parametrize(
    ("value", "group", "expected"),
    [
        (f"{V1}/executable/docker-container.yaml", "executable", "docker-container"),
        (f"{INTERIM}/data/S3-data-resource-1.0", "data", "S3-data-resource"),
        (f"{V1}/executable/docker-container.yaml", "compute", None),  # wrong group
        (f"{V1}/data/abstract-data-resource.yaml", "data", None),  # not understood
        (f"{V1}/executable/zeppelin-notebook.yaml", "executable", None),
        (None, "executable", None),
    ],
)
def test_understood(value: object, group: str, expected: str | None) -> None:
    assert K.understood(value, group) == expected
