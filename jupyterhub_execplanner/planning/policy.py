"""The hub's planning rules (:class:`PlannerPolicy`) and what they hold: the price book and the data
settings (:class:`~jupyterhub_execplanner.platform.datasets.DataConfig`).

Prices are per profile (``ExecPlanner.prices``, keyed by profile slug, ``"*"`` for every other
profile): money per core-hour, GiB-hour and GPU-hour (every accelerator counts as a GPU) in one
``currency``; energy in kWh per core-hour, GiB-hour and GPU-hour; and the carbon intensity of that
energy in gCO2 per kWh. How an offer is quoted from them is in :mod:`.costs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..platform.datasets import DataConfig

MONEY_KEYS = ("core_hour", "gib_hour", "gpu_hour")
ENERGY_KEYS = ("kwh_per_core_hour", "kwh_per_gib_hour", "kwh_per_gpu_hour")
PRICE_KEYS = (*MONEY_KEYS, "currency", *ENERGY_KEYS, "carbon_per_kwh")


@dataclass(frozen=True)
class Price:
    """One profile's prices. Money figures are None when the profile has no money price (then no
    monetary cost is quoted); energy figures likewise."""

    core_hour: float | None = None
    gib_hour: float | None = None
    gpu_hour: float | None = None
    currency: str = "EUR"
    kwh_per_core_hour: float | None = None
    kwh_per_gib_hour: float | None = None
    kwh_per_gpu_hour: float | None = None
    carbon_per_kwh: float | None = None  # gCO2 per kWh

    @property
    def has_money(self) -> bool:
        return any(getattr(self, k) is not None for k in MONEY_KEYS)

    @property
    def has_energy(self) -> bool:
        return any(getattr(self, k) is not None for k in ENERGY_KEYS)


@dataclass(frozen=True)
class PriceBook:
    """Prices by profile slug; ``"*"`` is every profile without its own."""

    prices: Mapping[str, Price]

    def for_profile(self, slug: str) -> Price | None:
        return self.prices.get(slug) or self.prices.get("*")

    def __bool__(self) -> bool:
        return bool(self.prices)


NO_PRICES = PriceBook({})


@dataclass(frozen=True)
class PlannerPolicy:
    """The hub's planning rules: how many offers, default and longest durations, and the time a
    server takes to be released after a session ends; the prices and the data settings."""

    max_offers: int = 4
    default_duration: timedelta = timedelta(hours=1)
    max_duration: timedelta = timedelta(hours=24)  # hub-wide cap
    releasing: timedelta = timedelta(seconds=10)
    min_duration: timedelta = timedelta(minutes=1)
    prices: PriceBook = NO_PRICES
    data: DataConfig = field(default_factory=DataConfig)


def parse_prices(value: Mapping[str, Any], setting: str = "ExecPlanner.prices") -> PriceBook:
    """The price book in a setting's value; ValueError naming the key and the fix."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{setting} must be a dict of profile slug (or '*') to prices")
    prices: dict[str, Price] = {}
    for slug, entry in value.items():
        where = f"{setting}[{slug!r}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a dict like {{'core_hour': 0.05, 'currency': 'EUR'}}")
        unknown = sorted(set(entry) - set(PRICE_KEYS))
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {unknown}; the keys are {list(PRICE_KEYS)}")
        values: dict[str, Any] = {}
        for key, amount in entry.items():
            if key == "currency":
                if not isinstance(amount, str) or not amount.strip():
                    raise ValueError(f"{where}['currency'] must be a currency code such as 'EUR'")
                values[key] = amount.strip()
                continue
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0 \
                    or not math.isfinite(amount):
                raise ValueError(f"{where}[{key!r}] must be a number >= 0, not {amount!r}")
            values[key] = float(amount)
        prices[str(slug)] = Price(**values)
    return PriceBook(prices)
