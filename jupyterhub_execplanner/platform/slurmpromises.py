"""The broker's promises on a Slurm cluster: the session manager's platform hooks (I/O).

* ``start_facts`` (for the planner): Slurm's backfill answer for a profile's job, from
  :meth:`~.slurmcapacity.SlurmCapacity.earliest_start`.
* ``annotate`` (each offer): an offer that starts later says whether the start is held (an advance
  reservation is made when it is accepted) or only the scheduler's estimate (reservations are off,
  or the broker may not make them).
* a phase listener: an accepted session that starts later gets an advance reservation of its cores
  over ``[preparing start, releasing end)`` (:func:`~.slurmcapacity.reservation_name`; the spawner
  runs the job in it), deleted when the session ends; if Slurm refuses, the session says so.
* :meth:`SlurmPromises.watch_jobs`: a session whose job Slurm ended (time limit, node failure, out
  of memory, ...) gets the failure with Slurm's reason, and the phase driver ends it FAILED.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..model import messages as msg
from ..model.offer import OfferPlan, SessionRecord
from ..model.phases import Phase
from ..owners import hub_name
from ..worker.decide import REPORT_FAILED
from .profiles import Profile
from .slurmcapacity import SlurmCapacity, SlurmError, reservation_name

if TYPE_CHECKING:
    from ..sessions.manager import SessionManager

log = logging.getLogger(__name__)

ESTIMATE = "urn:execplanner:slurm-estimate"
RESERVED = "urn:execplanner:slurm-reservation"
JOB_ENDED = "urn:execplanner:slurm-job-ended"
LATER = timedelta(seconds=30)  # a session preparing later than this from now is held by a reservation
MARGIN = timedelta(minutes=2)  # the reservation outlasts the session's releasing end by this much
_RUNNING = (Phase.PREPARING, Phase.AVAILABLE, Phase.RUNNING)


class SlurmPromises:
    def __init__(self, capacity: SlurmCapacity, manager: SessionManager, *, reservations: bool = True,
                 reservation_user: str = "{username}"):
        self.capacity, self.manager = capacity, manager
        self.reservations, self.reservation_user = reservations, reservation_user
        self.refusal = "" if reservations else "c.ExecPlanner.slurm_reservations is off"
        self._reported: set[str] = set()
        self._ended: set[str] = set()  # reservations of ended sessions not deleted yet

    def install(self) -> None:
        self.manager.start_facts = self.start_facts
        self.manager.annotate = self.annotate
        self.manager.listeners.append(self.on_phase)

    # -- planning ------------------------------------------------------------------------------------

    def start_facts(self, profile: Profile, need: Mapping[str, float], limit: timedelta
                    ) -> datetime | None:
        return self.capacity.earliest_start(profile.pool, need, limit)

    def annotate(self, offer: OfferPlan, now: datetime) -> OfferPlan:
        if offer.prepare_start <= now + LATER:
            return offer
        if self.refusal:
            note = msg.warn(
                ESTIMATE,
                "The start ${start} is Slurm's estimate, not a promise: the broker cannot hold it "
                "with an advance reservation (${why}).",
                at=now, start=offer.start, why=self.refusal,
            )
        else:
            note = msg.info(
                RESERVED,
                "Once accepted, this offer's cores are held by a Slurm advance reservation from "
                "${start}.", at=now, start=offer.prepare_start,
            )
        return _with_note(offer, note)

    # -- accepted and ended sessions ------------------------------------------------------------------

    def on_phase(self, record: SessionRecord, previous: Phase) -> None:
        now = self.manager.clock()
        if record.phase is Phase.ACCEPTED and previous is Phase.OFFERED:
            if record.offer.prepare_start > now + LATER and self.reservations:
                self._reserve(record, now)
        elif not record.phase.holds_capacity and previous not in (Phase.INITIAL, Phase.OFFERED):
            # Slurm keeps a reservation while a job runs in it: tried again after each read
            self._ended.add(reservation_name(record.uuid))
            self.delete_ended()

    def delete_ended(self) -> None:
        """Delete the reservations of ended sessions (those Slurm still keeps stay for next time)."""
        for name in sorted(self._ended):
            if self.capacity.unreserve(name, missing_ok=True):
                self._ended.discard(name)

    def _reserve(self, record: SessionRecord, now: datetime) -> None:
        offer = record.offer
        user = self.reservation_user.replace("{username}", hub_name(record.owner) or record.owner)
        try:
            self.capacity.reserve(
                reservation_name(record.uuid), offer.pool, offer.prepare_start,
                offer.release_end - offer.prepare_start + MARGIN, offer.cores, user,
            )
        except SlurmError as e:
            log.warning("No reservation for session %s: %s", record.uuid, e)
            self.refusal = str(e)
            self.manager.report(record.uuid, msg.warn(
                ESTIMATE,
                "Slurm did not make the advance reservation (${why}): the start ${start} is the "
                "scheduler's estimate, not a promise.", at=now, why=str(e), start=offer.start,
            ))
            return
        self.manager.report(record.uuid, msg.info(
            RESERVED, "Slurm holds ${cores} core(s) in partition ${pool} from ${start} for this "
            "session (reservation ${name}).", at=now, cores=offer.cores, pool=offer.pool,
            start=offer.prepare_start, name=reservation_name(record.uuid),
        ))

    def watch_jobs(self) -> int:
        """Report each running session whose job Slurm ended; how many were reported. Also deletes
        the reservations of ended sessions that Slurm kept."""
        self.delete_ended()
        reported = 0
        for uuid, job in self.capacity.killed_sessions().items():
            if uuid in self._reported:
                continue
            record = self.manager.record(uuid)
            if record is None or record.phase not in _RUNNING:
                continue
            self._reported.add(uuid)
            now = self.manager.clock()
            self.manager.report(uuid, msg.error(
                REPORT_FAILED,
                "Slurm ended the session's job ${job}: ${state} (${reason}).",
                at=now, job=job.job_id, state=job.state, reason=job.reason,
            ))
            reported += 1
        return reported


def _with_note(offer: OfferPlan, note: msg.Message) -> OfferPlan:
    return replace(offer, notes=(*offer.notes, note))
