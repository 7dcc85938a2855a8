"""PromQL checked by its parts, offline (no Prometheus runs here): the series a query reads
must be ones docs/metrics.md lists (histograms as `_bucket` with `le`, `_sum`, `_count`), its
label matchers and `by (...)` groups must use labels those series carry, and a legend or
alert template may only name labels the query keeps. Used for the operations dashboard and the
chart's alert rules."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tests.unit.deploy.support import ROOT

# Labels Prometheus adds to every series it scrapes.
SCRAPE_LABELS = frozenset({"job", "instance"})
# Prometheus' own series beside the services' ones.
BUILTIN: dict[str, frozenset[str]] = {"up": frozenset()}
_SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_TEMPLATE_LABEL = re.compile(r"\{\{\s*\$?(?:labels\.)?(\w+)\s*\}\}|\$labels\.(\w+)")
_TEMPLATE_WORDS = frozenset({"else", "end"})


def documented_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """docs/metrics.md's tables: name -> (type, labels)."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for line in (ROOT / "docs/metrics.md").read_text().splitlines():
        row = re.match(r"^\| `(tollway_[a-z_]+)` \| (\w+) \|([^|]*)\|", line)
        if row:
            labels = re.sub(r"\([^)]*\)", "", row.group(3))
            found[row.group(1)] = (row.group(2), frozenset(re.findall(r"`([a-z_]+)`", labels)))
    return found


def series() -> dict[str, frozenset[str]]:
    """Every series name a query may read, with its labels."""
    found = dict(BUILTIN)
    for name, (kind, labels) in documented_metrics().items():
        if kind == "histogram":
            found[f"{name}_bucket"] = labels | {"le"}
            found[f"{name}_sum"] = found[f"{name}_count"] = labels
        else:
            found[name] = labels
    return found


def _selectors(expr: str, jobs: set[str]) -> tuple[set[str], set[str], list[str]]:
    """The series `expr` reads, the labels they carry (and scrape labels), and what is wrong
    with its selectors."""
    known = series()
    read: set[str] = set()
    labels: set[str] = set(SCRAPE_LABELS)
    found: list[str] = []
    for name, matchers in _SELECTOR.findall(expr):
        if not (name.startswith("tollway_") or name in BUILTIN):
            continue  # a function, keyword or label name
        if name not in known:
            found.append(f"{name} is not in docs/metrics.md")
            continue
        read.add(name)
        labels |= known[name]
        for label, _, value in _MATCHER.findall(matchers):
            if label not in known[name] | SCRAPE_LABELS:
                found.append(f"{name} has no label {label}")
            if label == "job" and jobs and not set(value.split("|")) <= jobs:
                found.append(f"no scrape job {value}")
    return read, labels, found


def problems(expr: str, templates: Iterable[str] = (), jobs: Iterable[str] = ()) -> list[str]:
    """What is wrong with `expr` (empty: nothing found). `templates` are legends or alert
    texts naming labels; `jobs`, when given, the scrape jobs a `job` matcher may name."""
    read, labels, found = _selectors(expr, set(jobs))
    if expr.count("(") != expr.count(")"):
        found.append("unbalanced parentheses")
    if not read:
        found.append("reads no series")
    grouped: set[str] = set()
    for by in _BY.findall(expr):
        group = {label.strip() for label in by.split(",")}
        if not group <= labels:
            found.append(f"groups by {sorted(group - labels)}, which no series carries")
        grouped |= group
    kept = grouped or labels
    for text in templates:
        named = {a or b for a, b in _TEMPLATE_LABEL.findall(text)} - _TEMPLATE_WORDS
        if not named <= kept:
            found.append(f"{text!r} names {sorted(named - kept)}, which the query drops")
    return found
