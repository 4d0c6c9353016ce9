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
#: Formats of the YAML files the CLI reads besides segments.yml: name -> module holding it.
FILE_FORMATS = {
    "HttpSpec": "martech.audit.targets",  # martech audit http --spec FILE
    "Placement": "martech.personalize.placements",  # one entry of a placements file
}


def schema(
    model: str = typer.Argument(
        ...,
        help=f"One of: {', '.join(MODELS)}; or a file format: {', '.join(FILE_FORMATS)}.",
    ),
) -> None:
    """Print the JSON Schema of a data-model class, or of a file format the CLI reads."""
    import importlib

    from .. import models

    if model in FILE_FORMATS:  # what you write: the validation schema
        cls = getattr(importlib.import_module(FILE_FORMATS[model]), model)
        print_json(cls.model_json_schema(mode="validation"))
        return
    if model not in MODELS:
        known = ", ".join([*MODELS, *FILE_FORMATS])
        raise ConfigError(f"model: unknown {model!r}; expected one of {known}")
    print_json(getattr(models, model).model_json_schema(mode="serialization"))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
