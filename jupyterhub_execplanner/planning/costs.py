"""What an offer costs, and whether its costs and metrics meet the request's limits. Pure.

An offer is quoted from its profile's :class:`~.policy.Price` over its available duration (preparing
and releasing are not charged) for the cores, memory and accelerators it holds; an offer is fixed, so
``min == max``. A profile without a price (and no ``"*"``) quotes no costs; a price without the
energy figures quotes money only; carbon needs energy and an intensity.

Limits: every item of a request's ``costs`` and ``metrics`` must hold (they combine with AND): the
offer must quote a figure of the item's ``type`` (an offer that does not cannot be shown to meet it),
its ``max`` must not be above the item's ``max`` and its ``min`` not below the item's ``min``.

The messages made here are stamped with the ``now`` the caller passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..model import messages as msg
from ..model.messages import Message
from ..model.offer import CARBON, DATA_TIME, ENERGY, MONETARY, Figure
from ..model.request import ExecutionRequest, LimitItem
from .policy import ENERGY_KEYS, MONEY_KEYS, Price


def _sum(rates: Sequence[float | None], amounts: Sequence[float]) -> float:
    return sum((r or 0.0) * a for r, a in zip(rates, amounts, strict=True))


def quote(
    price: Price | None,
    *,
    cores: int,
    memory: int,
    gpus: int,
    duration: timedelta,
) -> tuple[Figure, ...]:
    """The cost figures of holding ``cores``, ``memory`` GiB and ``gpus`` for ``duration``."""
    if price is None:
        return ()
    hours = duration.total_seconds() / 3600.0
    amounts = (cores * hours, memory * hours, gpus * hours)
    out: list[Figure] = []
    if price.has_money:
        money = round(_sum([getattr(price, k) for k in MONEY_KEYS], amounts), 6)
        held = [f"{cores} core{'s' if cores != 1 else ''}", f"{memory} GiB"]
        held += [f"{gpus} GPU{'s' if gpus != 1 else ''}"] if gpus else []
        out.append(Figure(MONETARY, money, money, price.currency,
                          f"price of {', '.join(held)} for {hours:g} h"))
    if price.has_energy:
        kwh = round(_sum([getattr(price, k) for k in ENERGY_KEYS], amounts), 6)
        out.append(Figure(ENERGY, kwh, kwh, "kWh", f"energy for {hours:g} h"))
        if price.carbon_per_kwh is not None:
            grams = round(kwh * price.carbon_per_kwh, 3)
            out.append(Figure(CARBON, grams, grams, "gCO2",
                              f"{kwh:g} kWh at {price.carbon_per_kwh:g} gCO2/kWh"))
    return tuple(out)


# -- limits ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """One limit an offer breaks: ``path`` (``costs[0].max``), the item, and the offer's figure
    (None when the offer does not quote the item's type)."""

    group: str  # costs | metrics
    index: int
    bound: str  # max | min | type
    item: LimitItem
    figure: Figure | None

    @property
    def path(self) -> str:
        return f"{self.group}[{self.index}].{self.bound}"


def _items(request: ExecutionRequest) -> list[tuple[str, int, LimitItem]]:
    return [("costs", i, c) for i, c in enumerate(request.costs)] + [
        ("metrics", i, m) for i, m in enumerate(request.metrics)
    ]


def check_limit_items(request: ExecutionRequest, *, now: datetime) -> list[Message]:
    """Limit items that cannot be checked at all (no ``type``): ERROR messages naming them."""
    out = []
    for group, i, item in _items(request):
        if not item.type and (item.min is not None or item.max is not None):
            out.append(msg.error(
                msg.COST_LIMIT if group == "costs" else msg.METRIC_LIMIT,
                "${path} is missing: say which ${group} item the limit is for, e.g. ${example}.",
                at=now, path=f"{group}[{i}].type", group=group,
                example=MONETARY if group == "costs" else DATA_TIME,
            ))  # fmt: skip
    return out


def breaches(request: ExecutionRequest, figures: Sequence[Figure]) -> list[Breach]:
    """The limits of ``request`` that an offer quoting ``figures`` breaks (empty: it meets all)."""
    by_type = {f.type: f for f in figures}
    out: list[Breach] = []
    for group, i, item in _items(request):
        if not item.type or (item.min is None and item.max is None):
            continue
        figure = by_type.get(item.type)
        if figure is None:
            out.append(Breach(group, i, "type", item, None))
            continue
        if item.max is not None and figure.max > item.max + 1e-9:
            out.append(Breach(group, i, "max", item, figure))
        if item.min is not None and figure.min < item.min - 1e-9:
            out.append(Breach(group, i, "min", item, figure))
    return out


def breach_messages(all_breaches: Sequence[Sequence[Breach]], *, now: datetime) -> list[Message]:
    """Why no candidate offer met the limits: per limit broken, the closest value any candidate
    reached, and the fix. ``all_breaches`` has the breaches of each candidate."""
    best: dict[tuple[str, int, str], Breach] = {}
    for found in all_breaches:
        for b in found:
            key = (b.group, b.index, b.bound)
            old = best.get(key)
            if old is None or _closer(b, old):
                best[key] = b
    out = []
    for b in sorted(best.values(), key=lambda b: (b.group, b.index, b.bound)):
        kind = msg.COST_LIMIT if b.group == "costs" else msg.METRIC_LIMIT
        if b.figure is None:
            out.append(msg.error(
                kind,
                "${path} is ${type}, which this hub does not quote, so no offer can be shown to "
                "meet the limit; remove the item or ask a hub that quotes it.",
                at=now, path=b.path, type=b.item.type,
            ))  # fmt: skip
        elif b.bound == "max":
            fix = ("a shorter duration, fewer cores or less memory" if b.group == "costs"
                   else "a hub closer to the data")  # fmt: skip
            out.append(msg.error(
                kind,
                "${path} is ${limit} ${unit}; the best offer this hub can make quotes ${value} "
                "${unit} (${type}). Raise ${path} to at least ${value}, or ask for ${fix}.",
                at=now, path=b.path, limit=_num(b.item.max), value=_num(b.figure.max),
                unit=b.figure.unit or "", type=b.item.type, fix=fix,
            ))  # fmt: skip
        else:
            out.append(msg.error(
                kind,
                "${path} is ${limit} ${unit}; the best offer this hub can make quotes ${value} "
                "${unit} (${type}). Lower ${path} to at most ${value}.",
                at=now, path=b.path, limit=_num(b.item.min), value=_num(b.figure.min),
                unit=b.figure.unit or "", type=b.item.type,
            ))  # fmt: skip
    return out


def _closer(new: Breach, old: Breach) -> bool:
    if old.figure is None:
        return False
    if new.figure is None:
        return False
    if new.bound == "max":
        return new.figure.max < old.figure.max
    return new.figure.min > old.figure.min


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
