"""The phase table: who may move a session from where to where."""

from __future__ import annotations

import pytest

from jupyterhub_execplanner.model.phases import (
    CLIENT,
    SERVICE,
    TERMINAL,
    Phase,
    TransitionError,
    client_options,
    parse_phase,
    transition,
)

P = Phase


@pytest.mark.parametrize(
    ("current", "target", "actor", "allowed"),
    [
        (P.OFFERED, P.ACCEPTED, CLIENT, True),
        (P.OFFERED, P.REJECTED, CLIENT, True),
        (P.OFFERED, P.CANCELLED, CLIENT, True),
        (P.OFFERED, P.EXPIRED, CLIENT, False),
        (P.OFFERED, P.EXPIRED, SERVICE, True),
        (P.ACCEPTED, P.ACCEPTED, CLIENT, False),
        (P.ACCEPTED, P.REJECTED, CLIENT, False),
        (P.ACCEPTED, P.CANCELLED, CLIENT, True),
        (P.PREPARING, P.CANCELLED, CLIENT, True),
        (P.AVAILABLE, P.CANCELLED, CLIENT, True),
        (P.RUNNING, P.CANCELLED, CLIENT, True),
        (P.RELEASING, P.CANCELLED, CLIENT, False),
        (P.ACCEPTED, P.WAITING, SERVICE, True),
        (P.ACCEPTED, P.PREPARING, SERVICE, True),
        (P.WAITING, P.PREPARING, SERVICE, True),
        (P.PREPARING, P.AVAILABLE, SERVICE, True),
        (P.AVAILABLE, P.RUNNING, SERVICE, True),
        (P.RUNNING, P.RELEASING, SERVICE, True),
        (P.RELEASING, P.COMPLETED, SERVICE, True),
        (P.RELEASING, P.FAILED, SERVICE, True),
        (P.PREPARING, P.COMPLETED, SERVICE, False),
        (P.OFFERED, P.PREPARING, SERVICE, False),
        (P.WAITING, P.AVAILABLE, SERVICE, False),
        # a hub restart stopped the server: it is started again
        (P.AVAILABLE, P.PREPARING, SERVICE, True),
        (P.RUNNING, P.PREPARING, SERVICE, True),
        (P.RELEASING, P.PREPARING, SERVICE, False),
        (P.AVAILABLE, P.PREPARING, CLIENT, False),
        (P.ACCEPTED, P.RUNNING, CLIENT, False),
    ],
)
def test_transition_table(current: Phase, target: Phase, actor: str, allowed: bool) -> None:
    if allowed:
        assert transition(current, target, actor) is target
    else:
        with pytest.raises(TransitionError):
            transition(current, target, actor)


@pytest.mark.parametrize("terminal", sorted(TERMINAL, key=lambda p: p.value))
@pytest.mark.parametrize("target", list(Phase))
@pytest.mark.parametrize("actor", [CLIENT, SERVICE])
def test_terminal_phases_are_never_left(terminal: Phase, target: Phase, actor: str) -> None:
    with pytest.raises(TransitionError):
        transition(terminal, target, actor)


@pytest.mark.parametrize(
    ("current", "options"),
    [
        (P.OFFERED, [P.ACCEPTED, P.REJECTED, P.CANCELLED]),
        (P.ACCEPTED, [P.CANCELLED]),
        (P.AVAILABLE, [P.CANCELLED]),
        (P.RELEASING, []),
        (P.COMPLETED, []),
    ],
)
def test_client_options(current: Phase, options: list[Phase]) -> None:
    assert client_options(current) == options


def test_transition_error_says_what_is_allowed() -> None:
    with pytest.raises(TransitionError) as e:
        transition(P.ACCEPTED, P.REJECTED, CLIENT)
    assert "ACCEPTED" in str(e.value) and "CANCELLED" in str(e.value)
    with pytest.raises(TransitionError) as e:
        transition(P.EXPIRED, P.ACCEPTED, CLIENT)
    assert "terminal" in str(e.value)


@pytest.mark.parametrize(
    ("value", "phase"),
    [("ACCEPTED", P.ACCEPTED), ("accepted", P.ACCEPTED), (" CANCELLED ", P.CANCELLED),
     ("DANCING", None), (3, None), (None, None)],
)
def test_parse_phase(value: object, phase: Phase | None) -> None:
    assert parse_phase(value) is phase
