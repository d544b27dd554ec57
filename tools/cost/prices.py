"""The price table (prices.csv): one row per region, priced dimension and volume tier."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PRICES_CSV = Path(__file__).with_name("prices.csv")


class CostError(Exception):
    """The estimate cannot be made honestly: the CLI prints it and exits 1."""


@dataclass(frozen=True)
class Price:
    item: str
    unit: str
    per: float                                   # raw units (requests, GB) per priced unit
    tiers: tuple[tuple[float, float | None], ...]  # (USD per unit, upper bound in units)
    source: str
    read_on: str

    def cost(self, quantity: float) -> float:
        """USD for `quantity` raw units, each volume tier at its own price."""
        units, total, floor = quantity / self.per, 0.0, 0.0
        for price, upto in self.tiers:
            top = units if upto is None else min(units, upto)
            if top > floor:
                total += (top - floor) * price
            if upto is None or units <= upto:
                break
            floor = upto
        return total


class PriceTable:
    def __init__(self, prices: dict[tuple[str, str], Price]):
        self._prices = prices

    def get(self, region: str, dimension: str) -> Price:
        for key in ((region, dimension), ("global", dimension)):
            if key in self._prices:
                return self._prices[key]
        raise CostError(f"no price for {dimension} in {region} in {PRICES_CSV.name}")

    @classmethod
    def load(cls, path: Path = PRICES_CSV) -> PriceTable:
        rows: dict[tuple[str, str], list[dict[str, str]]] = {}
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows.setdefault((row["region"], row["dimension"]), []).append(row)
        prices = {}
        for key, tiers in rows.items():
            first = tiers[0]
            prices[key] = Price(
                first["item"], first["unit"], float(first["per"]),
                tuple((float(t["price_usd"]), float(t["tier_upto"]) if t["tier_upto"] else None)
                      for t in tiers), first["source"], first["read_on"])
        return cls(prices)


@cache
def default_table() -> PriceTable:
    return PriceTable.load()
