"""The event contracts: one JSON Schema per event type and major version (docs/events/), and
the compatibility rule between a schema and its previous copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "events"
BASELINES = Path(__file__).resolve().parent / "baselines"


def load(directory: Path) -> dict[str, dict[str, Any]]:
    """{event type: schema} of every `<type>.v1.json` in `directory`."""
    return {
        path.name.removesuffix(".v1.json"): json.loads(path.read_text())
        for path in sorted(directory.glob("*.v1.json"))
    }


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()
    return {declared} if isinstance(declared, str) else set(declared)


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "data") -> list[str]:
    """What `new` breaks of `old` within a major version: a field removed, no longer
    required, retyped (a type taken away), or a value it allowed refused (enum, const,
    pattern). Adding fields, or types a field may take, is compatible only for fields no
    consumer could rely on the absence of; we allow neither loosening of types nor removal."""
    problems: list[str] = []
    if _types(old) - _types(new):
        problems.append(f"{path}: type {sorted(_types(old))} became {sorted(_types(new))}")
    if _types(new) - _types(old) and _types(old):
        problems.append(f"{path}: may now be {sorted(_types(new) - _types(old))}")
    for keyword in ("enum", "const", "pattern", "format"):
        if keyword in old and old.get(keyword) != new.get(keyword):
            if keyword == "enum" and set(old["enum"]) <= set(new.get("enum", [])):
                continue  # a value added to an enum: consumers were told to expect that
            problems.append(f"{path}: {keyword} {old[keyword]!r} became {new.get(keyword)!r}")
    for name in sorted(set(old.get("required", [])) - set(new.get("required", []))):
        problems.append(f"{path}.{name}: no longer required")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_field in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: removed")
        else:
            problems.extend(breaking_changes(old_field, new_props[name], f"{path}.{name}"))
    if "items" in old:
        problems.extend(breaking_changes(old["items"], new.get("items", {}), f"{path}[]"))
    return problems
