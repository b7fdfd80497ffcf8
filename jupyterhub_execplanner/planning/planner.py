"""The planner: which offers this hub can make for a request. Pure: it reads the request, the
profiles and the calendar, and returns offers and messages; it reserves nothing. Which profiles are
eligible, and the messages that explain a NO, are in :mod:`.eligibility` and :mod:`.refusals`; the
rules (how many offers, durations, prices, data settings) in :mod:`.policy`. The clock is ``now``:
every message is stamped with it, never with the wall clock.

Offers, per eligible profile: (a) the largest fit at the earliest start where the minimum fits,
over the span ``[start - prepare, start + duration + releasing)``; (b) when (a) is smaller than the
most the request can use on the profile (cores, memory or accelerators), the earliest start where
that full size fits. Offers are sorted by start, then fit (``sum((max - offered) / max)`` over
cores and memory, lower first), then the smaller profile, then slug; at most
``policy.max_offers``. Offer starts are whole seconds.

The manager reserves every offer it returns (an offer is held until it expires or a sibling is
accepted), so two offers of one request must not together oversubscribe a slot: each offer is
chosen against a tentative overlay on the calendar that holds the offers chosen before it (a
candidate that no longer fits is planned again). The overlay is undone before :func:`plan`
returns, even on error, so the calendar is left bit for bit as it was.

Data and costs (:mod:`~jupyterhub_execplanner.platform.datasets`, :mod:`.costs`): the request's data
resources are placed first (local, or staged; a resource the hub cannot get is a NO), and every
profile's preparation time grows by the estimated transfer time, so a hub far from the data offers a
later start. Each offer then gets its cost figures (from ``policy.prices``), the data-proximity
metrics, its data placements and a note per data resource. An offer that breaks a limit of the
request's ``costs`` or ``metrics`` is planned again at the request's minimum size; if it still
breaks one, it is not made, and when no candidate is left the NO says, per limit, the closest figure
any candidate reached. The sizes of remote data are measured before planning (``probes``: URL ->
HEAD answer).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..model import messages as msg
from ..model.messages import Message
from ..model.offer import OfferPlan
from ..model.request import ExecutionRequest
from ..model.timing import utc
from ..platform.calendar import Calendar
from ..platform.datasets import EMPTY, DataPlan, Probe, place
from ..platform.profiles import Profile
from .costs import Breach, breach_messages, breaches, check_limit_items, quote
from .eligibility import EPS, Fit, assess, ceil_second, check_request
from .holders import Holders
from .policy import PlannerPolicy
from .refusals import no_room, summaries

log = logging.getLogger(__name__)
# the platform scheduler's earliest start of a job: (profile, need, time limit) -> instant or None
StartFacts = Callable[[Profile, Mapping[str, float], timedelta], "datetime | None"]


@dataclass(frozen=True)
class PlanResult:
    """The offers (best first) and, for a NO, the messages saying why."""

    offers: tuple[OfferPlan, ...]
    messages: tuple[Message, ...] = ()

    @property
    def result(self) -> str:
        return "YES" if self.offers else "NO"


def plan(
    request: ExecutionRequest,
    profiles: Sequence[Profile],
    calendar: Calendar,
    *,
    now: datetime,
    policy: PlannerPolicy | None = None,
    probes: Mapping[str, Probe] = EMPTY,
    start_facts: StartFacts | None = None,
    holders: Holders | None = None,
) -> PlanResult:
    """Offers for ``request`` (see the module docstring). Never raises: an unexpected failure is a
    NO with a platform message, and the calendar is left as it was. Every message is stamped with
    ``now``. ``start_facts(profile, need, duration)``, when the platform has a scheduler of its own
    (Slurm's backfill), is the earliest its job of ``need`` for ``duration`` can start (None: no
    fact): no offer of the profile prepares before it. ``holders()``, asked only for a NO for lack
    of room, is what holds the room (:mod:`.holders`), which the NO then names."""
    try:
        return _plan(request, profiles, calendar, utc(now), policy or PlannerPolicy(), probes,
                     start_facts, holders)
    except Exception as e:  # the service must answer, whatever the request
        log.exception("Planning failed")
        return _no(
            msg.error(
                msg.PLATFORM,
                "The planner failed (${error}); please report this to the hub's administrator.",
                at=now if isinstance(now, datetime) else None,
                path="$",
                error=f"{type(e).__name__}: {e}",
            )
        )


def _plan(
    request: ExecutionRequest,
    profiles: Sequence[Profile],
    calendar: Calendar,
    now: datetime,
    policy: PlannerPolicy,
    probes: Mapping[str, Probe],
    start_facts: StartFacts | None = None,
    holders: Holders | None = None,
) -> PlanResult:
    def full() -> PlanResult:  # a NO for lack of room, saying what holds it
        return _no(*no_room(request, fits, calendar, policy, now=now,
                            holders=holders() if holders is not None else ()))

    if not profiles:
        return _no(msg.error(msg.PLATFORM, "This hub has no profiles to offer.", at=now, path="$"))
    problems = check_request(request, policy, now=now) + check_limit_items(request, now=now)
    data = place(request, policy.data, probes, now=now)
    if isinstance(data, list):
        problems += data
    if problems or isinstance(data, list):
        return _no(*problems)
    if data.seconds > 0:  # the download is part of the preparation: every start is later
        profiles = [replace(p, prepare=p.prepare + data.prepare_extra) for p in profiles]
    verdicts = [assess(request, p, calendar, now, policy) for p in profiles]
    fits = [v for v in verdicts if isinstance(v, Fit)]
    if start_facts is not None and fits:
        later = [_after_fact(f, start_facts, policy) for f in fits]
        if any(f is not None for f in later):
            fits = [f for f in later if f is not None]
        else:
            return full()
    if not fits:
        reasons = [v for v in verdicts if isinstance(v, Message)]
        return _no(*summaries(request, profiles, calendar, policy, now=now), *reasons)
    offers, broken = _choose(fits, request, calendar, policy, data)
    if not offers and broken:
        return _no(*breach_messages(broken, now=now))
    if not offers:
        return full()
    return PlanResult(tuple(offers))


def _after_fact(fit: Fit, start_facts: StartFacts, policy: PlannerPolicy) -> Fit | None:
    """``fit`` starting no earlier than the platform's scheduler says its smallest job can (its
    preparation begins with the job); None when that is after its latest start."""
    p = fit.profile
    fact = start_facts(p, fit.need(False), p.prepare + fit.duration + policy.releasing)
    if fact is None:
        return fit
    earliest = max(fit.earliest, ceil_second(utc(fact) + p.prepare))
    return replace(fit, earliest=earliest) if earliest <= fit.latest else None


def _no(*messages: Message) -> PlanResult:
    return PlanResult((), tuple(messages))


# -- offers ------------------------------------------------------------------------------------


def _offer(fit: Fit, calendar: Calendar, full: bool, policy: PlannerPolicy) -> OfferPlan | None:
    """The offer of ``fit`` at the earliest start where its minimum (or, ``full``, its maximum)
    fits, sized to what is free then; None if there is no such start in the window."""
    p = fit.profile
    need = fit.need(full)
    span = p.prepare + fit.duration + policy.releasing
    not_before, not_after = fit.earliest - p.prepare, fit.latest - p.prepare
    for _ in range(3):
        t = calendar.earliest(p.pool, need, not_before=not_before, not_after=not_after, span=span)
        if t is None:
            return None
        start = ceil_second(t + p.prepare)
        if start > fit.latest:
            return None
        free = calendar.free(p.pool, start - p.prepare, start - p.prepare + span)
        if all(free.get(k, 0.0) + EPS >= v for k, v in need.items()):
            break
        not_before = t + calendar.resolution  # rounding to the second crossed a bucket: later
    else:
        return None

    def most(name: str, top: int) -> int:
        return min(top, math.floor(free.get(name, 0.0) + EPS))

    accelerators = {k: most(k, hi) for k, (_, hi) in fit.accelerators.items()}
    return OfferPlan(
        profile=p.slug,
        profile_name=p.display_name,
        cores=most("cores", fit.cores[1]),
        memory=most("memory", fit.memory[1]),
        start=start,
        duration=fit.duration,
        preparing=p.prepare,
        releasing=policy.releasing,
        accelerators={k: v for k, v in accelerators.items() if v > 0},
        pool=p.pool,
        image=fit.image,
        options=dict(fit.options),
    )


def _fits(calendar: Calendar, offer: OfferPlan) -> bool:
    free = calendar.free(offer.pool, offer.prepare_start, offer.release_end)
    return all(free.get(k, 0.0) + EPS >= v for k, v in offer.amounts().items())


def _is_full(offer: OfferPlan, fit: Fit) -> bool:
    return all(offer.amounts().get(k, 0) >= v for k, v in fit.need(True).items())


def _sort_key(offer: OfferPlan, fit: Fit, request: ExecutionRequest) -> tuple[Any, ...]:
    score = 0.0
    for top, got in (
        (request.compute.cores.max, offer.cores),
        (request.compute.memory.max, offer.memory),
    ):
        if top > 0:
            score += (top - got) / top
    return (offer.start, round(score, 9), fit.size, offer.profile)


def _signature(offer: OfferPlan) -> tuple[Any, ...]:
    accelerators = tuple(sorted(offer.accelerators.items()))
    options = tuple(sorted(offer.options.items()))
    return (offer.profile, options, offer.start, offer.duration, offer.cores, offer.memory,
            accelerators)  # fmt: skip


def _finish(offer: OfferPlan, policy: PlannerPolicy, data: DataPlan) -> OfferPlan:
    """The offer with its costs, data-proximity metrics, data placements and notes."""
    price = policy.prices.for_profile(offer.profile)
    gpus = sum(dict(offer.accelerators).values())
    costs = quote(price, cores=offer.cores, memory=offer.memory, gpus=gpus, duration=offer.duration)
    return replace(offer, costs=costs, metrics=data.metrics, data=data.placements,
                   notes=(*offer.notes, *data.notes))


def _within_limits(
    offer: OfferPlan, fit: Fit, request: ExecutionRequest, policy: PlannerPolicy, data: DataPlan,
    broken: list[list[Breach]],
) -> OfferPlan | None:
    """The finished offer if it meets the request's limits, else the same offer at the request's
    minimum size if that meets them, else None (its breaches go into ``broken``)."""
    finished = _finish(offer, policy, data)
    found = breaches(request, [*finished.costs, *finished.metrics])
    if not found:
        return finished
    low = fit.need(False)
    small = replace(offer, cores=low["cores"], memory=low["memory"],
                    accelerators={k: low[k] for k in offer.accelerators if low.get(k, 0) > 0})
    if small.amounts() != offer.amounts():
        finished = _finish(small, policy, data)
        smaller = breaches(request, [*finished.costs, *finished.metrics])
        if not smaller:
            return finished
        found = smaller
    broken.append(found)
    return None


def _choose(
    fits: list[Fit], request: ExecutionRequest, calendar: Calendar, policy: PlannerPolicy,
    data: DataPlan,
) -> tuple[list[OfferPlan], list[list[Breach]]]:
    """Candidates (a) and (b) of every profile, best first; each one chosen is held tentatively so
    that the next is planned around it (one that no longer fits is planned again). Also the limits
    each candidate that was dropped broke."""
    heap: list[tuple[tuple[Any, ...], int, OfferPlan, Fit, bool]] = []
    order = itertools.count()
    broken: list[list[Breach]] = []

    def push(offer: OfferPlan | None, fit: Fit, full: bool) -> None:
        if offer is not None:
            offer = _within_limits(offer, fit, request, policy, data, broken)
        if offer is not None:
            key = _sort_key(offer, fit, request)
            heapq.heappush(heap, (key, next(order), offer, fit, full))

    for fit in fits:
        first = _offer(fit, calendar, False, policy)
        push(first, fit, False)
        if first is not None and not _is_full(first, fit):
            push(_offer(fit, calendar, True, policy), fit, True)
    chosen: list[OfferPlan] = []
    seen: set[tuple[Any, ...]] = set()
    with calendar.tentative() as overlay:
        while heap and len(chosen) < max(1, policy.max_offers):
            _, _, offer, fit, full = heapq.heappop(heap)
            if _signature(offer) in seen:
                continue
            if not _fits(calendar, offer):
                push(_offer(fit, calendar, full, policy), fit, full)
                continue
            chosen.append(offer)
            seen.add(_signature(offer))
            overlay.reserve(offer.pool, offer.prepare_start, offer.release_end, offer.amounts())
    return chosen, broken
