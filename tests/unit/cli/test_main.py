"""`tollway` commands that refuse before they reach admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollway_cli.__main__ import main


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
