"""Splitting an amount into shares by basis points, exactly (largest-remainder method)."""

from __future__ import annotations

from collections.abc import Sequence

TOTAL_BASIS_POINTS = 10_000


def allocate_shares(amount_minor: int, basis_points: Sequence[int]) -> list[int]:
    """Shares of ``amount_minor`` (may be negative) in proportion to ``basis_points``; they sum exactly to it.

    Each share starts at the floor of its exact value; the minor units left over go one each to the
    lines with the largest remainders (ties: the earlier line), so no unit is created or lost.
    """
    if sum(basis_points) != TOTAL_BASIS_POINTS or any(bp <= 0 for bp in basis_points):
        raise ValueError("basis points must be positive and sum to 10000")
    sign = -1 if amount_minor < 0 else 1
    magnitude = abs(amount_minor)
    floors = [magnitude * bp // TOTAL_BASIS_POINTS for bp in basis_points]
    remainders = [magnitude * bp % TOTAL_BASIS_POINTS for bp in basis_points]
    left = magnitude - sum(floors)
    for index in sorted(range(len(basis_points)), key=lambda i: (-remainders[i], i))[:left]:
        floors[index] += 1
    return [sign * share for share in floors]
