"""The preload's reports are cut to what the broker keeps, so a long reason still reaches the session."""

from __future__ import annotations

import pytest

from jupyterhub_execplanner.singleuser.report import MAX_MESSAGE, Reporter, cut
from jupyterhub_execplanner.worker.decide import MAX_REPORT_LENGTH


def test_the_limit_is_the_brokers() -> None:
    assert MAX_MESSAGE == MAX_REPORT_LENGTH


@pytest.mark.parametrize(("length", "expected"), [(0, 0), (10, 10), (MAX_MESSAGE, MAX_MESSAGE),
                                                  (MAX_MESSAGE + 1, MAX_MESSAGE), (1024 * 1024, MAX_MESSAGE)])
def test_cut(length: int, expected: int) -> None:
    text = "r" * length
    assert len(cut(text)) == expected
    assert cut(text) == text or (cut(text).endswith("…") and text.startswith(cut(text)[:-1]))


def test_the_log_gets_the_cut_message_too(capsys: pytest.CaptureFixture[str]) -> None:
    Reporter("", "").failed("why: " + "z" * (1024 * 1024))
    err = capsys.readouterr().err
    assert err.startswith("[execplanner] ERROR why: zzz") and len(err) < MAX_MESSAGE + 40
