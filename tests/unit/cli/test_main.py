"""`tollway` commands that refuse before they reach admin, `config validate`, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tollway_cli import exit_codes
from tollway_cli.__main__ import main
from tollway_cli.admin_client import AdminError


def test_apply_refuses_a_misspelt_provider_before_sending_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "tollway.yaml"
    document.write_text(
        "models: [{name: m, deployments: [{name: d, provider: anthropc, model: claude}]}]"
    )
    # Sockets are off in unit tests: reaching for admin would fail differently.
    argv = ["apply", "-f", str(document), "--admin-url", "http://127.0.0.1:9"]
    assert main([*argv, "--data-dir", str(tmp_path)]) == 1
    stderr = capsys.readouterr().err
    assert "models.0.deployments.0.provider" in stderr
    assert "Input should be 'openai', 'azure_openai', 'anthropic' or 'fake'" in stderr


def test_config_validate_accepts_a_document_the_loader_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "tollway.yaml"
    document.write_text("models: [{name: m, deployments: [{name: d, provider: fake, model: x}]}]")
    assert main(["config", "validate", str(document), "--output", "json"]) == exit_codes.OK
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] is True
    assert (verdict["counts"]["models"], verdict["counts"]["deployments"]) == (1, 1)


def test_config_validate_lists_every_problem_with_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "tollway.yaml"
    document.write_text(
        "models: [{name: m, deployments: [{name: d, provider: anthropc, model: claude}]}]\n"
        "teams: [{team_id: t, name: T}]\n"
    )
    assert main(["config", "validate", str(document), "--output", "json"]) == exit_codes.INVALID
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] is False
    assert {problem["field"] for problem in verdict["errors"]} == {
        "models.0.deployments.0.provider",
        "teams.0.org_id",
    }
    assert main(["config", "validate", str(document)]) == exit_codes.INVALID
    printed = capsys.readouterr().err.splitlines()
    assert printed[0] == f"{document}: invalid"
    assert "  teams.0.org_id: Field required" in printed[1:]


@pytest.mark.parametrize(
    "text", ["a: [unclosed", "teams: [{team_id: t, name: T}, {team_id: t, name: T}]"]
)
def test_config_validate_refuses_bad_yaml_and_duplicate_names(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "tollway.yaml"
    document.write_text(text)
    assert main(["config", "validate", str(document)]) == exit_codes.INVALID
    assert "invalid" in capsys.readouterr().err


def test_config_validate_of_a_missing_file_is_invalid(tmp_path: Path) -> None:
    assert main(["config", "validate", str(tmp_path / "absent.yaml")]) == exit_codes.INVALID


@pytest.mark.parametrize(
    "argv",
    [
        ["requests", "--since", "yesterday"],
        ["requests", "--limit", "0"],
        ["requests", "--output", "yaml"],
        ["request", "../keys"],
        ["usage", "--group-by", "colour"],
        ["no-such-command"],
    ],
)
def test_a_bad_command_line_exits_invalid_before_reaching_admin(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--admin-url", "http://127.0.0.1:9"])
    assert exited.value.code == exit_codes.INVALID
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (None, exit_codes.UNREACHABLE_OR_DENIED),
        (401, exit_codes.UNREACHABLE_OR_DENIED),
        (403, exit_codes.UNREACHABLE_OR_DENIED),
        (400, exit_codes.INVALID),
        (404, exit_codes.INVALID),
        (500, exit_codes.SERVER_ERROR),
        (503, exit_codes.SERVER_ERROR),
    ],
)
def test_admin_errors_map_to_exit_codes(status: int | None, code: int) -> None:
    assert exit_codes.of_admin_error(AdminError("x", status)) == code
