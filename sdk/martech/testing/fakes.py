"""Stand-ins for time and the network, for tests of connectors and of the HTTP engine.

``RecordedSleeps`` replaces ``HttpClient``'s sleep so a test checks every retry wait without
waiting; ``LostAnswers`` wraps a transport (an emulator's) so a create reaches the vendor but its
answer is lost, the case a connector's creates must survive without making a second one.
"""

from __future__ import annotations

import httpx


class RecordedSleeps:
    """An async ``sleep`` that records the seconds asked for (``waits``) and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def no_sleep(_: float) -> None:
    """An async ``sleep`` that returns at once."""
    return None


class LostAnswers(httpx.AsyncBaseTransport):
    """Passes requests to ``inner``; the first ``lose`` ``method`` requests to a path ending in
    ``suffix`` reach it (unless ``drop``: they never arrive) and are answered with a 504, as a
    proxy does when the vendor's answer is lost. ``creates`` counts the matching requests."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        suffix: str,
        *,
        lose: int,
        drop: bool = False,
        method: str = "POST",
    ) -> None:
        self.inner, self.suffix, self.lose, self.drop, self.method = (
            inner,
            suffix,
            lose,
            drop,
            method,
        )
        self.creates = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self.method and request.url.path.endswith(self.suffix):
            self.creates += 1
            if self.lose > 0:
                self.lose -= 1
                if not self.drop:
                    await self.inner.handle_async_request(request)  # applied by the vendor
                return httpx.Response(504, text="<html>Gateway Time-out</html>")
        return await self.inner.handle_async_request(request)


__all__ = ["LostAnswers", "RecordedSleeps", "no_sleep"]
