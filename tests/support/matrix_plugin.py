"""A pytest plugin that reads `proves` marks and builds docs/translation-matrix.md from them.

Always on (tests/conftest.py): a mark naming an unknown feature or provider is a collection
error. With `--translation-matrix=write` the page is rewritten from the tests that passed in
this run (`make translation-matrix`); with `--translation-matrix=check` (used with
`--collect-only`) the session fails when the committed page differs from what the collected
tests show.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from pathlib import Path
from typing import cast

import pytest

from tests.support.features import BY_ID, FEATURES, PROVIDERS, SUITE_LACKS

DOC = Path(__file__).parents[2] / "docs" / "translation-matrix.md"
Proofs = dict[tuple[str, str], set[str]]
_CLAIMS = "proves"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--translation-matrix",
        choices=("write", "check"),
        default=None,
        help="write docs/translation-matrix.md from the passing tests, or check it",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Matrix(config.getoption("--translation-matrix")))


def _claims(item: pytest.Item) -> list[tuple[str, str]]:
    claims = []
    for mark in item.iter_markers("proves"):
        feature, *providers = mark.args
        if not providers:
            callspec = getattr(item, "callspec", None)
            adapter = callspec.params.get("adapter") if callspec is not None else None
            providers = [getattr(adapter, "type", "")]
        if feature not in BY_ID:
            raise pytest.UsageError(f"{item.nodeid}: proves an unknown feature {feature!r}")
        for provider in providers:
            if provider not in PROVIDERS:
                raise pytest.UsageError(f"{item.nodeid}: proves for unknown provider {provider!r}")
            claims.append((feature, str(provider)))
    return claims


class Matrix:
    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self.proofs: dict[str, list[tuple[str, str]]] = {}
        self.passed: set[str] = set()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            claims = _claims(item)
            if claims:
                self.proofs[item.nodeid] = claims
                # Under pytest-xdist only the workers collect; the claims reach the controller
                # with each test's report.
                item.user_properties.append((_CLAIMS, claims))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.passed.add(report.nodeid)
            for name, value in report.user_properties:
                if name == _CLAIMS:
                    claims = cast(list[tuple[str, str]], value)
                    self.proofs[report.nodeid] = [
                        (feature, provider) for feature, provider in claims
                    ]

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.mode is None:
            return
        writer = session.config.get_terminal_writer()
        if self.mode == "write":
            if exitstatus != 0:
                writer.line("translation matrix not written: some tests failed")
                return
            shown = {node: c for node, c in self.proofs.items() if node in self.passed}
            DOC.write_text(render(_by_feature(shown)))
            writer.line(f"wrote {DOC}")
            return
        current = DOC.read_text() if DOC.exists() else ""
        expected = render(_by_feature(self.proofs))
        if current != expected:
            diff = difflib.unified_diff(
                current.splitlines(), expected.splitlines(), "committed", "tests", lineterm=""
            )
            writer.line("\n".join(diff))
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _by_feature(proofs: dict[str, list[tuple[str, str]]]) -> Proofs:
    by: Proofs = defaultdict(set)
    for node, claims in proofs.items():
        test = node.split("[")[0]
        for claim in claims:
            by[claim].add(test)
    return by


def _cell(feature_id: str, provider: str, proofs: Proofs) -> str:
    tests = proofs.get((feature_id, provider))
    if tests:
        return f"yes ({len(tests)})"
    lacks = SUITE_LACKS.get(provider, {}).get(feature_id)
    if lacks is not None:
        return f"lacks: {lacks}"
    if BY_ID[feature_id].translated and proofs.get(("passthrough", provider)):
        return "passthrough"
    return "-"


def render(proofs: Proofs) -> str:
    lines = [
        "# Translation matrix",
        "",
        "Generated from the test suite by `make translation-matrix`; "
        "`tests/unit/test_translation_matrix.py` fails when this page differs from what the "
        "tests show. Do not edit it by hand.",
        "",
        "`yes (n)`: n tests show it (listed below). `passthrough`: the provider speaks OpenAI's "
        "wire and the body goes upstream as sent, so there is nothing to translate. `lacks`: "
        "the provider declares it cannot. `-`: no test shows it.",
        "",
    ]
    section = ""
    for feature in FEATURES:
        if feature.section != section:
            section = feature.section
            lines += ["", f"## {section}", "", "| feature | " + " | ".join(PROVIDERS) + " |"]
            lines.append("|---" * (len(PROVIDERS) + 1) + "|")
        cells = [_cell(feature.id, provider, proofs) for provider in PROVIDERS]
        lines.append(f"| {feature.text} | " + " | ".join(cells) + " |")
    lines += ["", "## The tests behind each claim", ""]
    for feature in FEATURES:
        for provider in PROVIDERS:
            tests = sorted(proofs.get((feature.id, provider), ()))
            if tests:
                lines.append(
                    f"- `{feature.id}` / {provider}: " + ", ".join(f"`{t}`" for t in tests)
                )
    return "\n".join(lines) + "\n"
