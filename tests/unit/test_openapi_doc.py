"""The service's OpenAPI document: valid OpenAPI 3.1, covers docs/api.md, and its schemas accept our
documents and refuse broken ones."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from openapi_spec_validator import validate as validate_spec

from jupyterhub_execplanner.federation.peerconfig import check_peers
from jupyterhub_execplanner.federation.peers import Peer
from jupyterhub_execplanner.links.book import Link, LinkBook
from jupyterhub_execplanner.links.linker import Linker
from jupyterhub_execplanner.links.sealing import Sealer
from jupyterhub_execplanner.service.openapi import load_openapi, schema_for, schema_names, validate
from jupyterhub_execplanner.sessions.store import Store

ROOT = Path(__file__).resolve().parents[2]
V1 = "https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds"
INTERIM = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"
BASE = "http://hub.example.org/services/execplanner/"
NOW = "2026-11-24T15:00:00Z"


# -- sample documents shaped like docs/api.md ------------------------------------------------------


def message(text: str = "cores.min 64 is more than the largest profile has (16)") -> dict[str, Any]:
    return {
        "kind": "urn:resource-limit",
        "time": NOW,
        "level": "WARN",
        "template": "${path} ${value} is more than the largest profile has (${limit})",
        "values": {"path": "compute.cores.min", "value": "64", "limit": "16"},
        "message": text,
    }


def session(uuid: str = "0f3c2a9e-6f1b-4c55-9d0e-2b7c1d4e5f60", phase: str = "OFFERED") -> dict:
    return {
        "kind": f"{V1}/session/scheduled-execution-session.yaml",
        "meta": {
            "uuid": uuid,
            "name": "analysis-offer-0",
            "url": f"{BASE}sessions/{uuid}",
            "created": NOW,
            "modified": NOW,
            "description": "2 cores, 4 GiB on profile 'Small server' (small)",
            "messages": [],
            "options": [
                {
                    "kind": "uri:enum-value-option",
                    "path": "phase",
                    "values": ["ACCEPTED", "REJECTED", "CANCELLED"],
                }
            ],
        },
        "phase": phase,
        "expires": "2026-11-24T15:05:00Z",
        "schedule": {
            "preparing": {"start": NOW, "duration": "PT30S"},
            "available": {"start": "2026-11-24T15:00:30Z/PT0S", "duration": "PT1H"},
            "releasing": {"start": "2026-11-24T16:00:30Z", "duration": "PT10S"},
        },
        "executable": {
            "kind": f"{V1}/executable/jupyter-notebook.yaml",
            "meta": {"uuid": "6b1d7f0c-1111-4a2b-8c3d-4e5f60718293", "name": "analysis"},
            "location": "https://example.org/analysis.ipynb",
            "requirements": "https://example.org/requirements.txt",
        },
        "compute": {
            "kind": f"{V1}/compute/simple-compute-resource.yaml",
            "meta": {"uuid": "7c2e8a1d-2222-4b3c-9d4e-5f6071829304", "name": "compute-001"},
            "cores": {"min": 2, "max": 2},
            "memory": {"min": 4, "max": 4},
            "accelerators": [
                {"name": "gpu", "resource": "nvidia.com/gpu", "count": {"min": 1, "max": 1}}
            ],
            "volumes": [],
        },
        "storage": [],
        "data": [],
        "connectors": [],
        "costs": [
            {
                "kind": f"{V1}/costs/simple-minmax-float-cost.yaml",
                "type": "urn:ivoa:calycopis:cost:monetary",
                "min": 0.1,
                "max": 0.5,
            }
        ],
        "metrics": [
            {
                "kind": f"{V1}/metrics/simple-minmax-float-metric.yaml",
                "type": "urn:execplanner:metric:data-proximity",
                "min": 1.0,
                "max": 1.0,
            }
        ],
        "profile": {"slug": "small", "display_name": "Small server"},
    }


def failed_session() -> dict[str, Any]:
    """What POST direct answers with 400: a FAILED session whose messages say why."""
    doc = session(phase="FAILED")
    doc["meta"]["messages"] = [message()]
    return doc


def offerset(result: str = "YES") -> dict[str, Any]:
    uuid = "7b6a0c1e-3333-4c4d-8e5f-60718293a4b5"
    doc: dict[str, Any] = {
        "kind": f"{V1}/offerset/execution-offerset.yaml",
        "meta": {
            "uuid": uuid,
            "name": "analysis",
            "url": f"{BASE}offersets/{uuid}",
            "created": NOW,
            "messages": [],
        },
        "result": result,
        "offers": [],
    }
    if result == "YES":
        doc["offers"] = [session(), session("1a2b3c4d-4444-4d5e-9f60-718293a4b5c6")]
    else:
        doc["meta"]["messages"] = [message()]
    return doc


def link(**changes: Any) -> dict[str, Any]:
    """An entry of ``GET links``, as docs/linked-accounts.md shows it."""
    entry = {
        "hub": "hub-b",
        "url": "http://localhost:8001/services/execplanner/",
        "relay": f"{BASE}peers/hub-b/",
        "authorize": f"{BASE}links/hub-b/authorize",
        "state": "linked",
        "user": "alice-b",
        "linked_at": NOW,
        "expires_at": "2026-12-08T15:00:00Z",
        "message": "Linked as alice-b on hub-b.",
    }
    return {**entry, **changes}


def execution_request() -> dict[str, Any]:
    return {
        "executable": {
            "kind": f"{INTERIM}/executable/jupyter-notebook-1.0",
            "meta": {"name": "executable-001"},
            "location": "https://example.org/02_dmhh.ipynb",
            "requirements": "requirements.txt",
        },
        "schedule": {"requested": {"start": "2026-11-24T15:00Z/PT30M", "duration": "PT1H"}},
        "compute": {
            "kind": f"{V1}/compute/simple-compute-resource.yaml",
            "meta": {"name": "computer-001"},
            "cores": {"min": 5, "max": 15},
            "memory": {"min": 3, "max": 9},
            "accelerators": [{"type": "a100", "count": {"min": 1}}],
            "volumes": [
                {
                    "kind": f"{V1}/volume/simple-volume-mount.yaml",
                    "path": "/input",
                    "mode": "READONLY",
                    "resource": "input-data",
                }
            ],
        },
        "data": [
            {
                "kind": f"{V1}/data/simple-data-resource.yaml",
                "meta": {"name": "input-data"},
                "location": "https://example.com/data.fits",
            },
            {
                "kind": f"{V1}/data/S3-data-resource.yaml",
                "endpoint": "https://s3.example.org",
                "bucket": "b",
                "object": "o",
            },
            {"kind": f"{V1}/data/rucio-data-resource.yaml", "rucio": {"type": "FILE"}},
            {"kind": f"{V1}/data/ivoa-data-resource.yaml", "ivoa": {"ivoid": "ivo://x/y?z"}},
            {
                "kind": f"{V1}/data/skao-data-resource.yaml",
                "skao": {"namespace": "n", "objectname": "o", "datasize": 10},
            },
        ],
        "storage": [{"kind": f"{V1}/storage/simple-storage-resource.yaml", "size": {"min": 1}}],
    }


def info() -> dict[str, Any]:
    return {
        "name": "execplanner",
        "version": "0.1.0",
        "standard": "IVOA Execution Broker v1.0",
        "kinds": [f"{V1}/executable/jupyter-notebook.yaml"],
        "profiles": [
            {
                "slug": "small",
                "display_name": "Small server",
                "description": None,
                "cores": {"min": 1, "max": 2},
                "memory": {"min": 1, "max": 4},
                "accelerators": {"nvidia.com/gpu": 1},
                "image": None,
                "pool": "default",
                "max_duration": "PT8H",
            }
        ],
        "endpoints": {"requests": f"{BASE}requests"},
    }


# -- the document ---------------------------------------------------------------------------------


def test_valid_openapi_31() -> None:
    doc = load_openapi()
    validate_spec(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["version"] == "1.0"
    assert doc["servers"][0]["url"] == "/services/execplanner"


def test_in_package_for_the_wheel() -> None:
    path = resources.files("jupyterhub_execplanner.service").joinpath("openapi.yaml")
    assert path.is_file()
    assert Path(str(path)).resolve().is_relative_to(ROOT / "jupyterhub_execplanner")


def test_security_schemes() -> None:
    schemes = load_openapi()["components"]["securitySchemes"]
    token = schemes["hubToken"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "header", "Authorization")
    assert "token <token>" in token["description"] and "Bearer" in token["description"]
    assert schemes["hubOAuthCookie"]["in"] == "cookie"
    paths = load_openapi()["paths"]
    assert paths["/"]["get"]["security"] == []
    assert paths["/openapi.yaml"]["get"]["security"] == []


def _table_operations() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    found = re.findall(r"^\| `(GET|POST) ([^`]+)` \|", text, flags=re.MULTILINE)
    assert len(found) >= 12, found
    return [(method.lower(), "/" + path.lstrip("/")) for method, path in found]


@pytest.mark.parametrize("method,path", _table_operations())
def test_every_documented_operation_exists(method: str, path: str) -> None:
    doc = load_openapi()
    assert path in doc["paths"], f"{path} missing"
    operation = doc["paths"][path].get(method)
    assert operation is not None, f"{method.upper()} {path} missing"
    assert operation["summary"] and operation["description"] and operation["operationId"]
    assert {"200", "201", "204"} & set(operation["responses"]), "a success answer is documented"


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_operations_take_json_and_yaml_and_answer_errors() -> None:
    doc = load_openapi()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post"):
                continue
            if method == "post" and "requestBody" not in operation:
                # the one call without a body: the token it revokes is its Authorization header
                assert path == "/links/revoke", path
                assert {"400", "401"} <= set(operation["responses"]), path
            elif method == "post":
                body = _resolve(doc, operation["requestBody"])
                assert {"application/json", "application/yaml"} <= set(body["content"]), path
                # the progress and launch endpoints take a session's own token, never a hub token:
                # no 401
                internal = path.endswith(("/progress", "/launch"))
                codes = ("400", "403", "413", "415") if internal else ("400", "401", "403", "413", "415")
                for code in codes:
                    assert code in operation["responses"], (path, code)
            if "{uuid}" in path and not path.endswith("/launch"):  # an unknown session's claim is a 409
                assert "404" in operation["responses"], path
            for code, response in operation["responses"].items():
                response = _resolve(doc, response)
                if code.startswith("4") and path not in ("/direct", "/peers/{hub}/direct"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, code)
    assert "409" in doc["paths"]["/sessions/{uuid}"]["post"]["responses"]
    assert "409" in doc["paths"]["/offers/{uuid}"]["post"]["responses"]


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    doc = load_openapi()
    return [(path, method, operation) for path, item in doc["paths"].items()
            for method, operation in item.items() if method in ("get", "post", "delete")]


def _response(operation: dict[str, Any], code: str) -> dict[str, Any]:
    assert code in operation["responses"], f"{operation['operationId']} does not document {code}"
    return _resolve(load_openapi(), operation["responses"][code])


def _required_header(response: dict[str, Any], name: str) -> dict[str, Any]:
    header = _resolve(load_openapi(), response["headers"][name])
    assert header["required"] is True, name
    return header


@pytest.mark.parametrize("path,method", [(p, m) for p, m, _ in _operations()])
def test_every_operation_documents_405_with_allow_and_503_with_retry_after(path: str, method: str) -> None:
    """Any endpoint answers a method it does not have with 405 and ``Allow``, and a database it cannot
    use with 503 and ``Retry-After`` (service/handlers.py, service/degraded.py)."""
    operation = load_openapi()["paths"][path][method]
    allow = _required_header(_response(operation, "405"), "Allow")
    assert re.fullmatch(allow["schema"]["pattern"], "GET, POST")
    assert not re.fullmatch(allow["schema"]["pattern"], "")
    retry = _required_header(_response(operation, "503"), "Retry-After")
    assert retry["schema"]["type"] == "integer"
    for code in ("405", "503"):
        content = _response(operation, code)["content"]
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize("path,method", [
    ("/requests", "post"), ("/direct", "post"), ("/request", "post"), ("/snapshots", "post"),
    ("/sessions/{uuid}", "post"), ("/offers/{uuid}", "post"),
])
def test_limited_calls_document_429_with_retry_after(path: str, method: str) -> None:
    """The per-user limits (requests per minute, accepted sessions, snapshot bytes) are 429s."""
    operation = load_openapi()["paths"][path][method]
    _required_header(_response(operation, "429"), "Retry-After")


@pytest.mark.parametrize("path,method", [
    (p, m) for p, m, _ in _operations() if "{" in p or p == "/sessions"
])
def test_a_path_or_query_it_cannot_read_is_documented_400(path: str, method: str) -> None:
    operation = load_openapi()["paths"][path][method]
    assert _response(operation, "400")


@pytest.mark.parametrize("value,ok", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", True), ("No", True),
    ("0", True), ("bogus", False), ("2", False), ("", False), ("true ", False),
])
def test_the_offers_flag_is_what_the_service_reads(value: str, ok: bool) -> None:
    schema = load_openapi()["components"]["parameters"]["IncludeOffers"]["schema"]
    assert bool(re.fullmatch(schema["pattern"], value)) is ok


def test_openapi_yaml_is_answered_in_yaml_or_json() -> None:
    content = load_openapi()["paths"]["/openapi.yaml"]["get"]["responses"]["200"]["content"]
    assert {"application/yaml", "application/json"} <= set(content)


def test_named_schemas_exist() -> None:
    names = set(schema_names())
    wanted = {
        "ExecutionRequest", "OfferSetResponse", "ExecutionSession", "SessionList", "Update",
        "Error", "ServiceInfo", "ProfileSummary", "Message", "Schedule", "JupyterNotebook",
        "DockerContainer", "SingularityContainer", "ComputeResource", "StorageResource",
        "DataResource", "SimpleDataResource", "S3DataResource", "RucioDataResource",
        "IvoaDataResource", "SkaoDataResource", "VolumeMount", "CostItem", "MetricItem",
        "Connector", "Option", "Request2023", "Response2023", "Offer2023",
    }  # fmt: skip
    assert wanted <= names


def test_no_closed_objects_but_error() -> None:
    def closed(node: Any) -> bool:
        if isinstance(node, dict):
            if node.get("additionalProperties") is False:
                return True
            return any(closed(v) for v in node.values())
        if isinstance(node, list):
            return any(closed(v) for v in node)
        return False

    schemas = load_openapi()["components"]["schemas"]
    assert [name for name, schema in schemas.items() if closed(schema)] == ["Error"]


def test_load_openapi_returns_a_copy() -> None:
    load_openapi()["info"]["version"] = "changed"
    assert load_openapi()["info"]["version"] == "1.0"


def test_schema_for_is_self_contained() -> None:
    schema = schema_for("OfferSetResponse")
    assert "components" in schema and "ExecutionSession" in schema["components"]["schemas"]
    with pytest.raises(KeyError, match="NoSuchSchema"):
        schema_for("NoSuchSchema")


# -- documents that must validate -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name,doc",
    [
        ("OfferSetResponse", offerset("YES")),
        ("OfferSetResponse", offerset("NO")),
        ("ExecutionSession", session()),
        ("ExecutionSession", session(phase="FAILED")),
        ("SessionList", {"sessions": [session(phase="AVAILABLE")]}),
        ("SessionList", {"sessions": []}),
        ("ExecutionRequest", execution_request()),
        ("ExecutionRequest", {"executable": {"kind": "urn:some-future-kind", "anything": [1]}}),
        ("Update", {"kind": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}),
        ("Update", {"kind": "uri:enum-value-update", "path": "/phase", "value": "CANCELLED"}),
        ("Error", {"status": 404, "message": "Session 0f3c not found."}),
        ("ServiceInfo", info()),
        ("Message", message()),
        ("Request2023", {"request": {"executable": {"type": "t", "spec": {"notebook": "u"}}}}),
        ("Response2023", {"response": {"result": "NO", "reasons": [{"path": "p", "text": "t"}]}}),
        ("Offer2023", {"offer": {"ident": "0f3c", "status": "ACCEPTED", "expires": NOW}}),
        ("DirectFailure", failed_session()),
        ("SnapshotUpload", {"files": {"analysis.ipynb": "{}", "requirements.txt": "numpy\n"}}),
        ("SnapshotUpload", {"files": {"é 1.ipynb": "", "x" * 255: ""}}),
        ("LinkList", {"links": []}),
        ("LinkList", {"links": [link(), link(hub="hub-c", state="unlinked", user=None, linked_at=None,
                                            expires_at=None, message="Not linked.")]}),
        ("LinkList", {"links": [link(state="expired", expires_at=None, owner="alice"),
                                link(hub="gone", url=None, owner="bob")]}),
        ("Unlinked", {"hub": "hub-b", "state": "unlinked", "revoked": True, "message": "Unlinked."}),
        ("Unlinked", {"hub": "hub-b", "state": "unlinked", "revoked": False, "message": "No link."}),
        ("Error", {"status": 409, "message": "hub-b: your account there is not linked.",
                   "link": "unlinked"}),
        ("Error", {"status": 409, "message": "hub-b: link again.", "link": "expired"}),
    ],
)
def test_good_documents_validate(name: str, doc: dict[str, Any]) -> None:
    validate(doc, name)


def test_connectors_and_docker_executable_validate() -> None:
    doc = session(phase="AVAILABLE")
    doc["connectors"] = [
        {"kind": "uri:jupyter", "status": "AVAILABLE", "protocol": "HTTPS", "location": BASE}
    ]
    doc["executable"] = {
        "kind": f"{V1}/executable/docker-container.yaml",
        "image": {"locations": ["ghcr.io/x/y:1"], "digest": "sha256:00"},
        "command": ["60", "0"],
        "environment": {"INPUT": "/input"},
    }
    validate(doc, "ExecutionSession")


# -- documents that must not ----------------------------------------------------------------------


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(offerset("YES"))
    change(doc)
    return doc


@pytest.mark.parametrize(
    "name,doc",
    [
        ("ExecutionSession", {**session(), "phase": "BOGUS"}),
        ("ExecutionSession", {**session(), "expires": "tomorrow"}),
        ("ExecutionSession", {k: v for k, v in session().items() if k != "kind"}),
        ("OfferSetResponse", _broken(lambda d: d["offers"][0].update(phase="BOGUS"))),
        ("OfferSetResponse", _broken(lambda d: d["offers"][1]["compute"].update(cores="2"))),
        ("OfferSetResponse", _broken(lambda d: d["offers"][0]["compute"]["memory"].update(
            min=1.5))),
        ("OfferSetResponse", _broken(lambda d: d.update(result="MAYBE"))),
        ("OfferSetResponse", _broken(lambda d: d["meta"].update(created="24/11/2026"))),
        ("OfferSetResponse", _broken(lambda d: d["meta"].update(messages=[{"level": "FATAL"}]))),
        ("OfferSetResponse", _broken(lambda d: d["offers"][0]["schedule"]["available"].update(
            start="2026-11-24T15:00:30Z"))),
        ("OfferSetResponse", _broken(lambda d: d["offers"][0]["schedule"]["available"].update(
            duration="1H"))),
        ("OfferSetResponse", _broken(lambda d: d["offers"][0]["executable"].update(location=7))),
        ("OfferSetResponse", _broken(lambda d: d["offers"][0]["compute"]["accelerators"][0].update(
            count={"min": "one"}))),
        ("ExecutionRequest", {"compute": {"kind": f"{V1}/compute/simple-compute-resource.yaml",
                                          "cores": {"min": "2"}}}),
        ("ExecutionRequest", {"data": [{"kind": f"{V1}/data/rucio-data-resource.yaml",
                                        "rucio": {"type": "FOLDER"}}]}),
        ("ExecutionRequest", {"executable": {"location": "https://example.org/nb.ipynb"}}),
        ("Update", {"kind": "uri:enum-value-update", "path": "phase", "value": "BOGUS"}),
        ("Update", {"kind": "uri:string-value-update", "path": "phase", "value": "ACCEPTED"}),
        ("Error", {"status": 404, "message": "x", "extra": 1}),
        ("Error", {"status": "404", "message": "x"}),
        ("SessionList", {"items": []}),
        ("ServiceInfo", {**info(), "profiles": [{**info()["profiles"][0], "cores": 2}]}),
        ("DirectFailure", session()),
        ("DirectFailure", {**failed_session(), "meta": {**failed_session()["meta"], "messages": []}}),
        ("DirectFailure", {"status": 400, "message": "the body is not valid JSON"}),
        ("SnapshotUpload", {"files": {}}),
        ("SnapshotUpload", {"files": {"": "x"}}),
        ("SnapshotUpload", {"files": {"..": "x"}}),
        ("SnapshotUpload", {"files": {"a/b.ipynb": "x"}}),
        ("SnapshotUpload", {"files": {"a\\b.ipynb": "x"}}),
        ("SnapshotUpload", {"files": {"a\x00.ipynb": "x"}}),
        ("SnapshotUpload", {"files": {"x" * 256: "x"}}),
        ("SnapshotUpload", {"files": {f"{i}.txt": "x" for i in range(5)}}),
        ("LinkList", [link()]),
        ("LinkList", {"links": [link(state="BOGUS")]}),
        ("LinkList", {"links": [link(linked_at="yesterday")]}),
        ("LinkList", {"links": [{k: v for k, v in link().items() if k != "relay"}]}),
        ("LinkList", {"links": [link(url=None, relay=None)]}),
        ("Unlinked", {"hub": "hub-b", "state": "linked", "revoked": True, "message": "x"}),
        ("Unlinked", {"hub": "hub-b", "state": "unlinked", "revoked": "no", "message": "x"}),
        ("Error", {"status": 409, "message": "x", "link": "linked"}),
    ],
)  # fmt: skip
def test_broken_documents_do_not_validate(name: str, doc: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        validate(doc, name)


async def test_the_linkers_answers_are_as_documented(tmp_path: Path) -> None:
    """What the links endpoints answer (links/linker.py) validates: a user's links in each state,
    an admin's listing (with a link to a hub that is no longer a peer), and an unlink."""
    now = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    specs = check_peers([
        {"name": "hub-b", "url": "https://hub-b.example.org/services/execplanner/",
         "link": {"client_id": "service-hub-a", "secret": "s3cret"}},
        {"name": "hub-c", "url": "https://hub-c.example.org/services/execplanner/",
         "link": {"client_id": "service-hub-a", "secret_env": "UNSET_LINK_SECRET"}},
    ])
    sealer = Sealer({"JUPYTERHUB_CRYPT_KEY": "00" * 32})
    book = LinkBook(Store(f"sqlite:///{tmp_path / 'broker.sqlite'}"), lambda: now)
    linker = Linker([Peer(s, {}) for s in specs], book, sealer, clock=lambda: now)
    made = {"token": sealer.seal("t"), "token_id": "a1", "scopes": ("custom:execplanner:request",),
            "created": now}
    book.put(Link(owner="alice", peer="hub-b", remote_user="alice-b", expires=now + timedelta(days=1),
                  **made))
    book.put(Link(owner="bob", peer="hub-b", remote_user="bob-b", expires=None, broken="refused", **made))
    book.put(Link(owner="bob", peer="hub-gone", remote_user="bob-g", expires=None, **made))

    mine = linker.describe("alice", BASE)
    assert [(e["hub"], e["state"]) for e in mine] == [("hub-b", "linked"), ("hub-c", "unlinked")]
    validate({"links": mine}, "LinkList")
    everyone = linker.describe(None, BASE)
    assert [(e["owner"], e["hub"], e["state"]) for e in everyone] == [
        ("alice", "hub-b", "linked"), ("bob", "hub-b", "expired"), ("bob", "hub-gone", "linked")]
    validate({"links": everyone}, "LinkList")
    validate(await linker.unlink("carol", "hub-b"), "Unlinked")


@pytest.mark.parametrize("text", ["PT1H", "PT30S", "PT0S", "P1D", "P1DT2H30M", "PT0.5S", "P2W"])
def test_durations(text: str) -> None:
    validate(text, "Duration")


@pytest.mark.parametrize("text", ["P", "PT", "1H", "P1DT", "PT1", "PT1H ", "H1"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValidationError):
        validate(text, "Duration")


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24T15:00:30Z/PT0S",
        "2026-11-24T15:00:00Z/2026-11-24T17:00:00Z",
        "2023-08-09/PT2H",
        "PT2H/2023-08-09",
        "2026-11-24T15:00:00.123456789+01:00/PT1H",
    ],
)
def test_intervals(text: str) -> None:
    validate(text, "Interval")


@pytest.mark.parametrize("text", ["2026-11-24T15:00:30Z", "PT1H/PT1H", "now/PT1H", ""])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValidationError):
        validate(text, "Interval")
