from __future__ import annotations

import pytest

from tollway_admin.exports import csv_line


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_are_quoted(cell: str) -> None:
    line = csv_line(["key", cell]).decode()
    assert line.split(",", 1)[1].strip().strip('"').startswith("'"), line


def test_numbers_and_plain_text_are_written_as_they_are() -> None:
    assert csv_line(["gpt-4o", -0.5, 3, None]) == b"gpt-4o,-0.5,3,\n"
