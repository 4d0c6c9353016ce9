"""The SmartContent emulator: what its "AI" really does, in twenty lines.

The decide endpoint reads the whole visitor (attributes and history) and then picks one of
twelve experiences by two coarse attributes: the region of ``attributes.country`` and a
lifecycle stage counted from the history (no shopping events / browsed only / bought once /
bought twice or more). The first name is merged into the headline. The answer carries an
``ai`` block with a model name and a confidence, as the vendor's does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from martech.sandbox import Emulator, json_response

REGIONS = {"US": "na", "CA": "na", "MX": "na", "AU": "apac", "NZ": "apac", "JP": "apac"}
OFFERS = {
    "na": "Free 2-day shipping on orders over $50.",
    "eu": "Free returns across Europe.",
    "apac": "Express delivery to your door.",
}
STAGES = {
    "new": "Welcome! Take 10% off your first order.",
    "browser": "Still deciding? Our bestsellers are back.",
    "customer": "Thanks for your order: here is what goes with it.",
    "loyal": "You're one of our best customers: early access is yours.",
}
SHOPPING = ("view", "add_to_cart", "purchase")


def lifecycle(history: list[dict[str, Any]]) -> str:
    purchases = sum(1 for h in history if h.get("type") == "purchase")
    if purchases >= 2:
        return "loyal"
    if purchases == 1:
        return "customer"
    if any(h.get("type") in SHOPPING for h in history):
        return "browser"
    return "new"


class SmartContentEmulator(Emulator):
    name = "smartcontent"

    def __init__(self, **kwargs: Any) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.decisions = 0
        super().__init__(**kwargs)

    def connection(self, base_url: str) -> dict[str, str]:
        return {"base_url": base_url, "api_token": "sc-sandbox-token"}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v2/experiences/{placement}/decide", self._decide, methods=["POST"]),
            Route("/v2/content", self._content, methods=["POST"]),
        ]

    def error(self, status: int, message: str) -> Response:
        return json_response({"error": {"code": status, "message": message}}, status)

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "").startswith("Bearer ")

    async def _decide(self, request: Request) -> Response:
        if not self._authorized(request):
            return self.error(401, "missing or invalid API token")
        body = await self.read_json(request)
        visitor = body.get("visitor") if isinstance(body, dict) else None
        if not isinstance(visitor, dict) or not visitor.get("id"):
            return self.error(400, "visitor.id is required")
        attributes = visitor.get("attributes") or {}
        history = visitor.get("history") or []
        region = REGIONS.get(str(attributes.get("country", "")), "eu")
        stage = lifecycle(history)
        name = attributes.get("first_name") or "there"
        with self.lock:
            self.decisions += 1
        key = f"{request.path_params['placement']}:{region}:{stage}"
        return json_response(
            {
                "experience": {
                    "id": "exp_" + hashlib.sha256(key.encode()).hexdigest()[:10],
                    "headline": f"Hi {name}! {STAGES[stage]}",
                    "body": OFFERS[region],
                    "ai": {"model": "smartcontent-neural-v3", "confidence": 0.97},
                }
            }
        )

    async def _content(self, request: Request) -> Response:
        if not self._authorized(request):
            return self.error(401, "missing or invalid API token")
        body = await self.read_json(request)
        entry = body.get("entry") if isinstance(body, dict) else None
        if not isinstance(entry, dict) or not entry.get("key"):
            return self.error(422, "entry.key is required")
        entry_id = "ent_" + hashlib.sha256(str(entry["key"]).encode()).hexdigest()[:10]
        with self.lock:
            self.entries[entry_id] = entry
        return json_response({"entry": {"id": entry_id, **entry}}, 201)
