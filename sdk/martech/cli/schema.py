"""``martech schema MODEL``: the JSON Schema of a data-model class."""

from __future__ import annotations

import typer

from ..errors import ConfigError
from .app import print_json

MODELS = (
    "AudienceSnapshot",
    "Capability",
    "Decision",
    "Event",
    "Profile",
    "RecommendationVariant",
    "RuleSegment",
    "StaticVariant",
    "SyncPlan",
    "SyncResult",
    "TemplateVariant",
)


def schema(model: str = typer.Argument(..., help=f"One of: {', '.join(MODELS)}.")) -> None:
    """Print the JSON Schema of a data-model class."""
    from .. import models

    if model not in MODELS:
        raise ConfigError(f"model: unknown {model!r}; expected one of {', '.join(MODELS)}")
    print_json(getattr(models, model).model_json_schema(mode="serialization"))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
