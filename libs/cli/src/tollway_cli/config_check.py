"""`tollway config validate FILE`: the checks admin's config loader makes at start and on every
change (YAML, the document's schema, unique names, known models), without a running gateway."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tollway_cli import exit_codes
from tollway_cli.output import as_json
from tollway_common.config_file import ConfigError, TollwayConfig, load_config


def problems(error: ConfigError) -> list[dict[str, str]]:
    """Each thing wrong, with the field it is in where the schema names one."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        return [
            {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
            for item in cause.errors()
        ]
    return [{"field": "", "message": str(error)}]


def counts(config: TollwayConfig) -> dict[str, int]:
    return {
        "orgs": len(config.orgs),
        "teams": len(config.teams),
        "users": len(config.users),
        "models": len(config.models),
        "deployments": sum(len(model.deployments) for model in config.models),
        "prices": len(config.prices),
        "budgets": len(config.budgets),
        "keys": len(config.keys),
    }


def validate(path: Path, output: str) -> int:
    """Print the verdict; `exit_codes.OK` when the document loads, INVALID when not."""
    result: dict[str, Any] = {"file": str(path)}
    try:
        config = load_config(path)
    except ConfigError as exc:
        result.update(valid=False, errors=problems(exc))
    except OSError as exc:
        result.update(valid=False, errors=[{"field": "", "message": f"cannot read it: {exc}"}])
    else:
        result.update(valid=True, counts=counts(config))
    if output == "json":
        print(as_json(result))
    elif result["valid"]:
        summary = ", ".join(f"{n} {kind}" for kind, n in result["counts"].items())
        print(f"{path}: valid ({summary})")
    else:
        print(f"{path}: invalid", file=sys.stderr)
        for problem in result["errors"]:
            where = f"{problem['field']}: " if problem["field"] else ""
            print(f"  {where}{problem['message']}", file=sys.stderr)
    return exit_codes.OK if result["valid"] else exit_codes.INVALID
