"""The JSON schemas of the CLI's ``--json`` documents, shipped with the package.

One schema per command (draft 2020-12): ``analyze`` (:meth:`atrous.Report.to_dict`, schema
version 2), ``model`` (the report plus a ``model`` section, version 2), ``shape``
(:meth:`atrous.shapes.ShapeResult.to_dict`, version 1), ``design`` (``kind`` design, repair
or pareto, version 1) and ``tile`` (:meth:`atrous.TilePlan.to_dict`, version 2). Every document
carries its ``schema_version``; a version is bumped whenever the document's shape changes
(an optional member may be added within a version: ``units``, the physical lengths of
``--sample-rate`` / ``--spacing``, in ``analyze`` and ``model``).

    >>> sorted(SCHEMAS)
    ['analyze', 'design', 'model', 'shape', 'tile']
    >>> load("analyze")["$defs"]["finding"]["required"]
    ['code', 'severity', 'node', 'label', 'message', 'data']
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..errors import AtrousError

__all__ = ["SCHEMAS", "load", "validate"]

SCHEMAS = ("analyze", "design", "model", "shape", "tile")


def load(name: str) -> dict[str, Any]:
    """The schema of ``atrous NAME --json`` as a dict."""
    if name not in SCHEMAS:
        raise AtrousError(f"no schema named {name!r}; the schemas are {', '.join(SCHEMAS)}")
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def validate(name: str, document: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` follows schema ``name``.

    Needs the ``jsonschema`` package (in the ``test`` extra).
    """
    import jsonschema

    jsonschema.Draft202012Validator(load(name)).validate(document)
