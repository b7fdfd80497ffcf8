"""``python -m jupyterhub_execplanner.singleuser -- CMD...``: preload the session, then exec CMD.

Without ``$EXECPLANNER_PRELOAD`` this only runs CMD. When the preload fails it reports the reason to
the broker, prints it to stderr and exits with status 1 without starting CMD, so the spawn fails.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Sequence

from ..launch import PRELOAD_ENV
from .plan import PreloadPlan
from .preload import EXPECTED, describe, prepare
from .report import Reporter

DEFAULT_COMMAND = ("jupyterhub-singleuser",)


def command_of(argv: Sequence[str]) -> list[str]:
    args = list(argv)
    if "--" in args:
        args = args[args.index("--") + 1 :]
    return args or list(DEFAULT_COMMAND)


def main(argv: Sequence[str] | None = None) -> int:
    command = command_of(sys.argv[1:] if argv is None else argv)
    document = os.environ.pop(PRELOAD_ENV, None)
    if document:
        started = time.monotonic()
        reporter = Reporter("", "")
        try:
            plan = PreloadPlan.from_json(document)
            reporter = Reporter(plan.report_url, plan.report_token)
            prepare(plan, reporter)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then fails the spawn
            reason = describe(e)
            if not isinstance(e, EXPECTED + (OSError,)):
                traceback.print_exc()
            reporter.failed(reason)
            print(f"execplanner: the session's server was not started: {reason}", file=sys.stderr, flush=True)
            return 1
        reporter.info(f"starting server (preload took {time.monotonic() - started:.1f} s)")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(command[0], command)
    except OSError as e:
        print(f"execplanner: could not start {command[0]!r}: {e}", file=sys.stderr, flush=True)
        return 127
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
