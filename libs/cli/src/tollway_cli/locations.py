"""Where `tollway` finds its config file and keeps its data, in a checkout and elsewhere.

In a checkout of the repository (a `config/tollway.yaml` beside you) `tollway run` uses that
file and `./.tollway`, as `make run` always has. Anywhere else (an installed CLI run from any
folder) it uses `$XDG_CONFIG_HOME/tollway/tollway.yaml` (written from the packaged default on
the first run, then yours to edit) and `$XDG_DATA_HOME/tollway`. Explicit `--config` and
`--data-dir` win over both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CHECKOUT_CONFIG = Path("config/tollway.yaml")
CHECKOUT_DATA_DIR = Path(".tollway")
_APP = "tollway"
_DEFAULT_CONFIG = "tollway.yaml"


@dataclass(frozen=True)
class Locations:
    config: Path
    data_dir: Path
    in_checkout: bool


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    """An XDG base directory: the variable when it holds an absolute path, else the spec's
    default under the home folder."""
    value = env.get(variable, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / fallback


def default_locations(cwd: Path, env: Mapping[str, str]) -> Locations:
    """The config file and data folder `tollway` uses when no flag names them."""
    if (cwd / CHECKOUT_CONFIG).is_file():
        return Locations(CHECKOUT_CONFIG, CHECKOUT_DATA_DIR, in_checkout=True)
    config_home = _xdg_dir(env, "XDG_CONFIG_HOME", ".config")
    data_home = _xdg_dir(env, "XDG_DATA_HOME", ".local/share")
    return Locations(config_home / _APP / _DEFAULT_CONFIG, data_home / _APP, in_checkout=False)


def current_locations() -> Locations:
    return default_locations(Path.cwd(), os.environ)


def packaged_config() -> str:
    """The default configuration shipped inside the package (the demo model and a dev key)."""
    return (resources.files("tollway_cli") / "defaults" / _DEFAULT_CONFIG).read_text()


def ensure_config(path: Path) -> bool:
    """Write the packaged default to `path` unless a file is there; True when it wrote one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(packaged_config())
    return True
