"""Cut a stream of items into request-sized batches, by count and by serialized bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import orjson

from ..errors import ValidationError

T = TypeVar("T")


def json_size(item: object) -> int:
    """Bytes the item takes in a JSON body (plus one for the separating comma)."""
    return len(orjson.dumps(item)) + 1


def batches(
    items: Iterable[T],
    max_count: int,
    max_bytes: int | None = None,
    *,
    size: Callable[[T], int] = json_size,
    overhead: int = 64,
) -> Iterator[list[T]]:
    """Yield lists of at most ``max_count`` items whose ``size`` sums to at most ``max_bytes``.

    ``overhead`` reserves room for the request envelope around the items. An item that alone
    exceeds ``max_bytes`` raises :class:`~martech.errors.ValidationError` naming its position,
    since no request could carry it.
    """
    if max_count < 1:
        raise ValidationError(f"max_count: expected >= 1, got {max_count}", field="max_count")
    budget = None if max_bytes is None else max_bytes - overhead
    if budget is not None and budget < 1:
        raise ValidationError(
            f"max_bytes: expected > {overhead} (the envelope), got {max_bytes}", field="max_bytes"
        )
    batch: list[T] = []
    used = 0
    for index, item in enumerate(items):
        n = size(item) if budget is not None else 0
        if budget is not None and n > budget:
            raise ValidationError(
                f"items[{index}]: {n} bytes alone exceeds max_bytes={max_bytes}", field="items"
            )
        if batch and (len(batch) >= max_count or (budget is not None and used + n > budget)):
            yield batch
            batch, used = [], 0
        batch.append(item)
        used += n
    if batch:
        yield batch


__all__ = ["batches", "json_size"]
