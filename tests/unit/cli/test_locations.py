"""Where `tollway` finds its config and data: a checkout's own files, else the user's XDG
folders with the packaged default config; proven in process and by running the installed
command from an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tollway_cli import __version__
from tollway_cli.locations import (
    CHECKOUT_CONFIG,
    CHECKOUT_DATA_DIR,
    default_locations,
    ensure_config,
    packaged_config,
)
from tollway_common.config_file import load_config

ROOT = Path(__file__).parents[3]


def test_a_checkout_uses_its_config_folder_and_dot_tollway(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config/tollway.yaml").write_text("models: []\n")
    where = default_locations(tmp_path, {"XDG_CONFIG_HOME": "/elsewhere"})
    assert (where.config, where.data_dir, where.in_checkout) == (
        CHECKOUT_CONFIG,
        CHECKOUT_DATA_DIR,
        True,
    )


def test_elsewhere_the_xdg_folders_are_used(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": "/xdg/config", "XDG_DATA_HOME": "/xdg/data", "HOME": "/home/u"}
    where = default_locations(tmp_path, env)
    assert where.config == Path("/xdg/config/tollway/tollway.yaml")
    assert where.data_dir == Path("/xdg/data/tollway")
    assert not where.in_checkout


def test_without_xdg_variables_the_home_defaults_apply(tmp_path: Path) -> None:
    # A relative XDG value is invalid by the spec and ignored.
    where = default_locations(tmp_path, {"HOME": "/home/u", "XDG_DATA_HOME": "relative"})
    assert where.config == Path("/home/u/.config/tollway/tollway.yaml")
    assert where.data_dir == Path("/home/u/.local/share/tollway")


def test_the_packaged_default_is_the_repository_config_and_loads() -> None:
    assert packaged_config() == (ROOT / "config/tollway.yaml").read_text()


def test_ensure_config_writes_the_default_once(tmp_path: Path) -> None:
    path = tmp_path / "nested/tollway.yaml"
    assert ensure_config(path)
    assert [model.name for model in load_config(path).models] == ["tollway-demo"]
    path.write_text("models: []\n")
    assert not ensure_config(path)
    assert path.read_text() == "models: []\n"


def _tollway(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed `tollway` command, from a folder outside the repository."""
    command = Path(sys.executable).with_name("tollway")
    return subprocess.run(
        [str(command), *args],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_from_the_command_and_the_module(tmp_path: Path) -> None:
    command = _tollway("--version", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert command.stdout.strip() == f"tollway {__version__}"
    module = subprocess.run(
        [sys.executable, "-m", "tollway_cli", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert module.stdout.strip() == f"tollway {__version__}"


def test_paths_outside_a_checkout_name_the_user_folders(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    result = _tollway("paths", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    config = f"{tmp_path}/cfg/tollway/tollway.yaml"
    assert result.stdout.splitlines() == [
        f"config: {config}  (the packaged default, written on first run)",
        f"data:   {tmp_path}/home/.local/share/tollway",
    ]


def test_paths_in_a_checkout_name_its_files(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config/tollway.yaml").write_text("models: []\n")
    result = _tollway("paths", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert result.stdout.splitlines() == [
        f"config: {tmp_path}/config/tollway.yaml",
        f"data:   {tmp_path}/.tollway",
    ]


def test_run_with_a_missing_config_says_so(tmp_path: Path) -> None:
    result = _tollway("run", "--config", "absent.yaml", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "config file absent.yaml not found" in result.stderr
    assert not (tmp_path / ".local").exists()
