"""Kind URIs: the type identifiers of Execution Broker components.

v1.0 (Calycopis OpenAPI) kinds look like ``{KIND_BASE}/{group}/{name}.yaml``. Requests may also use
the interim ``https://www.purl.org/ivoa.net/EB/schema/v1.0/types/<group>/<name>-1.0`` form and the
2025 ``https://www.purl.org/ivoa.net/EB/schema/types/<group>/<name>-1.0`` form, whose group
spellings differ (``executables``, ``resources/compute``, …). :func:`parse_kind` reads all three; we
always write v1.0.
"""

from __future__ import annotations

import re

KIND_BASE = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"

# The wire forms a kind URI can take (see parse_kind_form).
V1_0 = "v1.0"
INTERIM = "interim"  # EB/schema/v1.0/types/<group>/<name>-1.0
EB_2025 = "2025"  # EB/schema/types/<group>/<name>-1.0

_HOST = r"https?://(?:www\.)?purl\.org/ivoa\.net"
_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        V1_0,
        re.compile(_HOST + r"/Calycopis-openapi/schema/v1\.0/kinds/(?P<g>.+)/(?P<n>[^/]+)\.yaml"),
    ),
    (INTERIM, re.compile(_HOST + r"/EB/schema/v1\.0/types/(?P<g>.+)/(?P<n>[^/]+)-1\.0")),
    (EB_2025, re.compile(_HOST + r"/EB/schema/types/(?P<g>.+)/(?P<n>[^/]+)-1\.0")),
)

# Group spellings of the older forms (and the reference implementation's "computer" typo).
_GROUPS = {
    "executables": "executable",
    "resources/compute": "compute",
    "resources/computer": "compute",
    "computer": "compute",
    "resources/storage": "storage",
    "resources/data": "data",
    "resources/volume": "volume",
    "resources/volumes": "volume",
    "volumes": "volume",
    "cost": "costs",
    "metric": "metrics",
    "sessions": "session",
    "offersets": "offerset",
}

_NAMES = {"Rucio-data-resource": "rucio-data-resource"}

# Short names of the kinds we understand, by group.
JUPYTER_NOTEBOOK = "jupyter-notebook"
DOCKER_CONTAINER = "docker-container"
SINGULARITY_CONTAINER = "singularity-container"
SIMPLE_COMPUTE = "simple-compute-resource"
SIMPLE_STORAGE = "simple-storage-resource"
SIMPLE_VOLUME = "simple-volume-mount"
SIMPLE_DATA = "simple-data-resource"
S3_DATA = "S3-data-resource"
RUCIO_DATA = "rucio-data-resource"
IVOA_DATA = "ivoa-data-resource"
SKAO_DATA = "skao-data-resource"
SIMPLE_COST = "simple-minmax-float-cost"
SIMPLE_METRIC = "simple-minmax-float-metric"

EXECUTABLE_KINDS = (JUPYTER_NOTEBOOK, DOCKER_CONTAINER, SINGULARITY_CONTAINER)
COMPUTE_KINDS = (SIMPLE_COMPUTE,)
STORAGE_KINDS = (SIMPLE_STORAGE,)
VOLUME_KINDS = (SIMPLE_VOLUME,)
DATA_KINDS = (SIMPLE_DATA, S3_DATA, RUCIO_DATA, IVOA_DATA, SKAO_DATA)
COST_KINDS = (SIMPLE_COST,)
METRIC_KINDS = (SIMPLE_METRIC,)

UNDERSTOOD: dict[str, tuple[str, ...]] = {
    "executable": EXECUTABLE_KINDS,
    "compute": COMPUTE_KINDS,
    "storage": STORAGE_KINDS,
    "volume": VOLUME_KINDS,
    "data": DATA_KINDS,
    "costs": COST_KINDS,
    "metrics": METRIC_KINDS,
}


def kind_uri(group: str, name: str) -> str:
    """The v1.0 kind URI of ``name`` in ``group``."""
    return f"{KIND_BASE}/{group}/{name}.yaml"


SESSION_KIND = kind_uri("session", "scheduled-execution-session")
OFFERSET_KIND = kind_uri("offerset", "execution-offerset")


def parse_kind_form(value: object) -> tuple[str, str, str] | None:
    """``(form, group, name)`` for a kind URI in any accepted form, or None.

    ``form`` is :data:`V1_0`, :data:`INTERIM` or :data:`EB_2025`; ``group`` and ``name`` are
    normalised to the v1.0 spellings. Any group and name are returned, understood or not.
    """
    if not isinstance(value, str) or len(value) > 500:
        return None
    text = value.strip()
    for form, pattern in _FORMS:
        match = pattern.fullmatch(text)
        if match:
            group, name = match.group("g"), match.group("n")
            return form, _GROUPS.get(group, group), _NAMES.get(name, name)
    return None


def parse_kind(value: object) -> tuple[str, str] | None:
    """``(group, name)`` for a kind URI in the v1.0, interim or 2025 form, else None."""
    parsed = parse_kind_form(value)
    return None if parsed is None else (parsed[1], parsed[2])


def understood(value: object, group: str) -> str | None:
    """The short name if ``value`` is a kind of ``group`` that we understand, else None."""
    parsed = parse_kind(value)
    if parsed is None or parsed[0] != group or parsed[1] not in UNDERSTOOD.get(group, ()):
        return None
    return parsed[1]


def group_uris(group: str) -> list[str]:
    """The v1.0 URIs of the kinds we understand in ``group``."""
    return [kind_uri(group, name) for name in UNDERSTOOD.get(group, ())]


def understood_kinds(executables: tuple[str, ...] | None = None) -> list[str]:
    """The v1.0 URIs of every request kind we understand (for ``GET /``); of the executable kinds,
    only ``executables`` when given (those this hub can give offers for)."""
    return [
        kind_uri(group, name)
        for group, names in UNDERSTOOD.items()
        for name in names
        if group != "executable" or executables is None or name in executables
    ]
