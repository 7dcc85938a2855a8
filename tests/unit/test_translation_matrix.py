"""docs/translation-matrix.md says exactly what the tests' `proves` marks say."""

from __future__ import annotations

from tests.support.features import FEATURES
from tests.support.translation_matrix import PAGE, collect, render


def test_the_committed_matrix_is_what_the_tests_show() -> None:
    proofs, problems = collect()
    assert problems == []
    assert PAGE.read_text() == render(proofs), "run `make translation-matrix`"


def test_every_feature_of_the_issue_is_shown_for_some_provider() -> None:
    proofs, _ = collect()
    shown = {feature for feature, _ in proofs}
    assert [f.id for f in FEATURES if f.id not in shown] == []
