"""docs/errors.md and the tree in errors.py are checked against the error classes and the codes
raised with them: neither can miss an error a client may get, nor name one nothing sends."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from tollway_common import errors
from tollway_common.errors import TollwayError, UpstreamBadRequest

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "errors.md"
TAXONOMY = ROOT / "libs/common/src/tollway_common/errors.py"
SOURCES = (ROOT / "libs", ROOT / "services")
# The row for a refused request that carries the provider's own code (the ladder passes it on).
PROVIDERS_CODE = "the provider's code"
# What the official OpenAI SDKs retry when `x-should-retry` does not say.
SDK_RETRIED = {408, 409, 429}


@dataclass(frozen=True, order=True)
class Row:
    status: int
    type: str
    code: str
    sdk_retries: bool

    def markdown(self) -> str:
        code = self.code if self.code == PROVIDERS_CODE else f"`{self.code}`"
        retries = "yes" if self.sdk_retries else "no"
        return f"| {self.status} | {self.type} | {code} | ... | {retries} |"


def _classes(root: type[TollwayError] = TollwayError) -> list[type[TollwayError]]:
    found: list[type[TollwayError]] = []
    for sub in root.__subclasses__():
        found += [sub, *_classes(sub)]
    return found


# The taxonomy: what errors.py defines (a subclass elsewhere only names a case, see below).
CLASSES = {cls.__name__: cls for cls in _classes() if cls.__module__ == errors.__name__}
WIRE_FIELDS = {"status", "type", "code", "should_retry_header"}


@functools.cache
def _trees() -> list[tuple[Path, ast.Module]]:
    paths = sorted(p for root in SOURCES for p in root.rglob("src/**/*.py"))
    return [(path, ast.parse(path.read_text())) for path in paths]


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


@functools.cache
def _subclasses_elsewhere() -> dict[str, tuple[Path, ast.ClassDef, str]]:
    """Classes outside errors.py built on one of its classes: name -> (file, class, base)."""
    found = {}
    for path, tree in _trees():
        if path == TAXONOMY:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [_name(base) for base in node.bases if _name(base) in CLASSES]
            if bases:
                found[node.name] = (path, node, bases[0])
    return found


def _error_class(name: str) -> type[TollwayError] | None:
    if name in CLASSES:
        return CLASSES[name]
    elsewhere = _subclasses_elsewhere().get(name)
    return CLASSES[elsewhere[2]] if elsewhere else None


def _row(cls: type[TollwayError], code: str) -> Row:
    header = cls.should_retry_header
    retries = header if header is not None else cls.status in SDK_RETRIED or cls.status >= 500
    return Row(cls.status, cls.type, code, retries)


def _raised_with_a_code() -> set[tuple[str, str]]:
    """(class in errors.py, code) for every `SomeError(..., code="literal")` in the services
    and libs."""
    raised: set[tuple[str, str]] = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            cls = _error_class(_name(node.func))
            if cls is None:
                continue
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "code" and isinstance(value, ast.Constant):
                    raised.add((cls.__name__, str(value.value)))
    return raised


def _expected() -> set[Row]:
    rows = {_row(cls, cls.code) for cls in CLASSES.values()}
    rows |= {_row(CLASSES[name], code) for name, code in _raised_with_a_code()}
    return rows | {_row(UpstreamBadRequest, PROVIDERS_CODE)}


def _documented() -> list[Row]:
    rows = []
    for line in PAGE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].isdigit():
            continue
        status, kind, code, _, retries = cells
        assert retries in ("yes", "no"), line
        rows.append(Row(int(status), kind, code.strip("`"), retries == "yes"))
    return rows


def test_the_check_sees_the_codes_raised_with_a_class() -> None:
    assert ("InvalidRequest", "unsupported_endpoint") in _raised_with_a_code()
    assert "UnknownKey" in _subclasses_elsewhere()


def test_a_subclass_outside_errors_py_keeps_its_bases_wire_form() -> None:
    rewired = [
        f"{path.relative_to(ROOT)}: {node.name}"
        for path, node, _ in _subclasses_elsewhere().values()
        for statement in node.body
        for target in _assigned(statement)
        if target in WIRE_FIELDS
    ]
    assert rewired == [], "a new status, type or code is a new class in errors.py"


def _assigned(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.Assign):
        return [_name(target) for target in statement.targets]
    if isinstance(statement, ast.AnnAssign):
        return [_name(statement.target)]
    return []


def test_every_error_a_client_can_get_has_its_row() -> None:
    missing = sorted(_expected() - set(_documented()))
    assert missing == [], "add to docs/errors.md:\n" + "\n".join(r.markdown() for r in missing)


def test_the_page_names_no_error_nothing_sends() -> None:
    assert sorted(set(_documented()) - _expected()) == []


def test_each_error_has_one_row() -> None:
    rows = _documented()
    assert len(rows) == len(set(rows))


def test_the_tree_in_errors_py_draws_every_class_with_its_status_and_code() -> None:
    assert errors.__doc__ is not None
    drawn = {
        match["name"]: (int(match["status"]), match["code"])
        for match in re.finditer(
            r"^[│├└─ ]+(?P<name>\w+)\s+(?P<status>\d{3}) (?P<code>\w+)",
            errors.__doc__,
            flags=re.MULTILINE,
        )
    }
    assert drawn == {name: (cls.status, cls.code) for name, cls in CLASSES.items()}
