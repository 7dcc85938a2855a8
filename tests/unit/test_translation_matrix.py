"""docs/translation-matrix.md says exactly what the tests' `proves` marks say."""

from __future__ import annotations

import pytest
from tests.support.features import FEATURES
from tests.support.translation_matrix import PAGE, Proofs, collect, render


@pytest.fixture(scope="module")
def marks() -> tuple[Proofs, list[str]]:
    """Collected once: it is a pytest run of its own."""
    return collect()


def test_the_committed_matrix_is_what_the_tests_show(marks: tuple[Proofs, list[str]]) -> None:
    proofs, problems = marks
    assert problems == []
    assert PAGE.read_text() == render(proofs), "run `make translation-matrix`"


def test_every_feature_of_the_issue_is_shown_for_some_provider(
    marks: tuple[Proofs, list[str]],
) -> None:
    proofs, _ = marks
    shown = {feature for feature, _ in proofs}
    assert [f.id for f in FEATURES if f.id not in shown] == []
