"""Creating something at a vendor exactly once.

A create (a WordPress post, a Mailchimp segment or merge field, a HubSpot list) is not idempotent:
after a 5xx or a timeout the vendor may have made it all the same and only the answer was lost,
and sending the request again makes a second one (or fails because the first exists). So the
create is sent with ``idempotent=False`` (the client retries only what certainly did not arrive:
a 429, a connection never made), and after any other transient failure the caller's ``find``
looks for what the create would have made before the next attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import RetriableVendorError

T = TypeVar("T")


async def create_once(
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    *,
    attempts: int,
) -> T:
    """``create()`` at most ``attempts`` times, calling ``find()`` after each transient failure
    and returning what it finds; the last failure is raised when every attempt failed."""
    failed: RetriableVendorError | None = None
    for _ in range(max(1, attempts)):
        try:
            return await create()
        except RetriableVendorError as exc:
            failed = exc
        found = await find()
        if found is not None:
            return found
    assert failed is not None
    raise failed


__all__ = ["create_once"]
