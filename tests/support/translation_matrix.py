"""`docs/translation-matrix.md`, built from the `proves` marks of the tests that show each
feature (tests/support/features.py), so the page can never claim what no test shows.

`python -m tests.support.translation_matrix` (`make translation-matrix`, after the proof tests
pass) rewrites the page; `tests/unit/test_translation_matrix.py` fails when the committed page
differs from what the marks say. CI runs every marked test, so each claim is a passing test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.features import BY_ID, FEATURES, PROOF_PATHS, PROVIDERS, SUITE_LACKS

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "translation-matrix.md"
_OUT_ENV = "TOLLWAY_MATRIX_OUT"

Proofs = dict[tuple[str, str], list[str]]


class MarkCollector:
    """A pytest plugin: every collected test's `proves` marks as (feature, provider) -> node
    ids. In the shared suite the provider is the test's `adapter` parameter."""

    def __init__(self) -> None:
        self.proofs: Proofs = defaultdict(list)
        self.problems: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            for mark in item.iter_markers("proves"):
                feature, *providers = mark.args
                if feature not in BY_ID:
                    self.problems.append(f"{item.nodeid}: unknown feature {feature!r}")
                for provider in providers or [_suite_provider(item)]:
                    if provider not in PROVIDERS:
                        self.problems.append(f"{item.nodeid}: unknown provider {provider!r}")
                    self.proofs[(feature, provider)].append(item.nodeid)


def _suite_provider(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    adapter = callspec.params.get("adapter") if callspec is not None else None
    return str(getattr(adapter, "type", "")) or "?"


def pytest_configure(config: pytest.Config) -> None:
    """Loaded with `-p tests.support.translation_matrix`: collect, then write the marks."""
    out = os.environ.get(_OUT_ENV)
    if out:
        collector = MarkCollector()
        config.pluginmanager.register(collector, "translation-matrix")
        config.add_cleanup(lambda: _write(collector, Path(out)))


def _write(collector: MarkCollector, out: Path) -> None:
    proofs = {f"{f}|{p}": ids for (f, p), ids in collector.proofs.items()}
    out.write_text(json.dumps({"proofs": proofs, "problems": collector.problems}))


def collect() -> tuple[Proofs, list[str]]:
    """The marks of the proof tests, collected (not run) in a pytest of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "marks.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "tests.support.translation_matrix",
                *PROOF_PATHS,
            ],
            cwd=ROOT,
            env={**os.environ, _OUT_ENV: str(out)},
            check=True,
            capture_output=True,
        )
        found = json.loads(out.read_text())
    proofs: Proofs = {}
    for key, ids in found["proofs"].items():
        feature, provider = key.split("|", 1)
        proofs[(feature, provider)] = list(ids)
    return proofs, list(found["problems"])


def _cell(feature: str, provider: str, proofs: Proofs) -> str:
    tests = proofs.get((feature, provider), [])
    if tests:
        return f"yes ({len(tests)})"
    lacks = SUITE_LACKS.get(provider, {}).get(feature)
    if lacks:
        return f"lacks: {lacks}"
    if BY_ID[feature].translated and proofs.get(("passthrough", provider)):
        return "as sent"
    return "—"


def render(proofs: Proofs) -> str:
    lines = [
        "# Translation matrix",
        "",
        "Generated from the tests (`make translation-matrix`; `tests/support/features.py` lists",
        "the features): a cell says `yes (n)` only when n tests carry a `proves` mark for that",
        "feature and provider, and CI runs them all. `as sent`: an OpenAI-wire provider whose",
        "tests show it forwards the request unchanged, so there is nothing to translate.",
        "`—`: no test shows it.",
        "The tests behind each cell are listed at the end.",
    ]
    sections = dict.fromkeys(feature.section for feature in FEATURES)
    for section in sections:
        lines += ["", f"## {section}", "", "| feature | " + " | ".join(PROVIDERS) + " |"]
        lines.append("|---" * (len(PROVIDERS) + 1) + "|")
        for feature in (f for f in FEATURES if f.section == section):
            cells = [_cell(feature.id, provider, proofs) for provider in PROVIDERS]
            lines.append(f"| {feature.text} | " + " | ".join(cells) + " |")
    lines += ["", "## The tests behind each cell", ""]
    for feature in FEATURES:
        for provider in PROVIDERS:
            for nodeid in sorted(proofs.get((feature.id, provider), [])):
                lines.append(f"- `{feature.id}` / {provider}: `{nodeid}`")
    return "\n".join(lines) + "\n"


def main() -> int:
    proofs, problems = collect()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    PAGE.write_text(render(proofs))
    print(f"written: {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
