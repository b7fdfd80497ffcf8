"""Schemathesis against the broker's own OpenAPI document: for every operation it describes,
requests generated from the document (and deliberately against it) are sent as alice through the
real proxy, and every answer must be what the document says -- never a 5xx, a documented status, a
documented content type, headers and a body that match their schemas, a 405 with ``Allow`` for a
method the endpoint does not have, and a refusal without a token.

Examples are bounded and derandomized (the same requests on every run). The hub is a fuzzing hub of
its own (see tests/hostile.py): the per-user limit of requests per minute would otherwise answer
most of them 429.

Schemathesis's lazy ``from_fixture`` loader does not work with pytest 9 (it sets ``Node._nodeid``,
which pytest 9 no longer has), so the packaged document is loaded at import and the hub's URL is
given to each call; ``test_the_served_document_is_the_packaged_one`` checks that they are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import httpx
import pytest
import schemathesis
import yaml
from brokers import Broker
from hostile import FUZZ_SETTINGS, log_problems
from hubprocess import RealHub

from jupyterhub_execplanner.service.openapi import load_openapi, validate

pytestmark = pytest.mark.e2e

DOCUMENT = resources.files("jupyterhub_execplanner.service").joinpath("openapi.yaml")
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261207,
        "generation": {"max-examples": 40, "deterministic": True, "database": "none"},
        "operations": [
            # An ExecutionRequest is a large schema: its coverage phase alone is over 4,000 requests
            # per operation, and Hypothesis needs about two seconds to draw one that breaks it. These
            # get fuzzing only, of valid requests for the two v1.0 endpoints; hostile ones are the
            # corpus of test_hostile_bodies.py and the readers' fuzzing in test_fuzz_readers.py.
            # The relay's (peers/{hub}/...) take the same requests on to a peer.
            {
                "include-path-regex": r"^(/peers/\{hub\})?/(requests|direct)$",
                "phases": {"coverage": {"enabled": False}},
                "generation": {"mode": "positive", "max-examples": 20},
            },
            {
                "include-path-regex": "^/request$",
                "phases": {"coverage": {"enabled": False}},
            },
        ],
    }
)
schema = schemathesis.openapi.from_path(str(DOCUMENT), config=CONFIG)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.unsupported_method,
    schemathesis.checks.ignored_auth,
]
# Whether a request is acceptable is the document's to say except where the answer depends on more:
# a schema-valid request this hub cannot serve is a 200 NO (requests, request) or the standard's 400
# FAILED session (direct), and a schema-invalid one is read as far as it goes, a NO naming the field;
# an offer update's ident must equal the uuid in its URL; whether a token can be revoked depends on
# the client the hub issued it to.
DATA_CHECKS = [schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection]
NOT_DECIDED_BY_THE_SCHEMA = {"POST /requests", "POST /direct", "POST /request", "POST /offers/{uuid}",
                             "POST /links/revoke"}
LISTING_EVERY = 25  # cases between two checks that bob's sessions are still served


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHub]:
    # a peer users can link their accounts on (never reached: alice has no link there), so that
    # GET links, DELETE links/{hub} and the relay answer as on a hub with linked accounts
    settings = {**FUZZ_SETTINGS, "peers": [
        {"name": "hub-b", "url": "http://127.0.0.1:9/services/execplanner/",
         "link": {"client_id": "service-fuzz-a", "secret": "s3cret-for-fuzzing"}}]}
    hub = RealHub.start(tmp_path_factory.mktemp("schemathesis-hub"), settings=settings,
                        env={"JUPYTERHUB_CRYPT_KEY": "11" * 32})
    try:
        yield hub
    finally:
        hub.stop()


def test_the_served_document_is_the_packaged_one(fuzz_hub: RealHub) -> None:
    response = httpx.get(fuzz_hub.broker + "openapi.yaml", timeout=30)
    assert response.status_code == 200
    assert yaml.safe_load(response.content) == load_openapi()


sent = {"cases": 0}


@schema.parametrize()
def test_every_answer_is_as_documented(case: schemathesis.Case, fuzz_hub: RealHub) -> None:
    alice = {"Authorization": f"token {fuzz_hub.user_token('alice')}"}
    checks = CHECKS if f"{case.method.upper()} {case.path}" in NOT_DECIDED_BY_THE_SCHEMA else [
        *CHECKS, *DATA_CHECKS]
    case.call_and_validate(base_url=fuzz_hub.broker.rstrip("/"), headers=alice, checks=checks,
                           timeout=30)
    sent["cases"] += 1
    if sent["cases"] % LISTING_EVERY == 0:
        bob = Broker(fuzz_hub.broker, fuzz_hub.user_token("bob")).get("sessions")
        assert bob.status_code == 200, f"bob's sessions after {sent['cases']} cases: {bob.text[:300]}"


def test_after_schemathesis_everyone_is_served_and_the_log_is_clean(fuzz_hub: RealHub) -> None:
    for name in ("alice", "bob"):
        response = Broker(fuzz_hub.broker, fuzz_hub.user_token(name)).get("sessions", params={"offers": "1"})
        assert response.status_code == 200, (name, response.text[:300])
        validate(response.json(), "SessionList")
    assert fuzz_hub.log_path is not None
    problems = log_problems(fuzz_hub.log_path.read_text(errors="replace"))
    assert not problems, f"{len(problems)} lines:\n" + "\n".join(problems[:40])

