"""Shards of the shipments for ``poll --shard I/N``: a stable hash, not Python's ``hash()``.

A shipment belongs to shard ``blake2b(order_id, tracking number) mod N``: the same
answer in every process, on every machine and in every Python version (the
built-in ``hash()`` of a string is salted per process), and the same after the
database is rebuilt from the same orders (it does not use the database's
``shipment_id``). Shards ``0/N`` .. ``N-1/N`` are disjoint and together cover every
shipment::

    >>> shard_of("A-1001", "RB123456785GB", 4)
    1
    >>> parse_shard("2/4")
    (2, 4)
"""

from __future__ import annotations

import hashlib

__all__ = ["parse_shard", "shard_key", "shard_of"]

_SEPARATOR = "\x1f"  # the ASCII unit separator: in neither an order id nor a number


def shard_key(order_id: str, number: str) -> int:
    """The 64-bit stable hash of a shipment (order id and normalised tracking number)."""
    digest = hashlib.blake2b(
        f"{order_id}{_SEPARATOR}{number.upper()}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big")


def shard_of(order_id: str, number: str, count: int) -> int:
    """Which of ``count`` shards the shipment belongs to (0-based)."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    return shard_key(order_id, number) % count


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; ``ValueError`` otherwise.

    >>> parse_shard("3/2")
    Traceback (most recent call last):
    ...
    ValueError: shard must be I/N with 0 <= I < N, got '3/2'
    """
    index, sep, count = text.strip().partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or not 0 <= i < n:
        raise ValueError(f"shard must be I/N with 0 <= I < N, got {text!r}")
    return i, n
