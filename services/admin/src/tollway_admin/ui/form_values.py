"""Posted form values to typed values, with every problem tied to the field that caused it, so
a page can show each message next to its field. Pure: the pages in `pages/` do the I/O."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

# A browser form has no reason to post more than this in one field, or to list more names.
MAX_FIELD_CHARS = 2048
MAX_LIST_ITEMS = 256


class FieldErrors(Exception):
    """What is wrong with a form, by field name ("" for the form as a whole)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(
            "; ".join(f"{name}: {message}" if name else message for name, message in errors.items())
        )
        self.errors = dict(errors)


def text(values: Mapping[str, str], name: str, max_chars: int = MAX_FIELD_CHARS) -> str:
    """A field's trimmed text ("" when absent); FieldErrors when it is too long."""
    value = values.get(name, "").strip()
    if len(value) > max_chars:
        raise FieldErrors({name: f"at most {max_chars} characters"})
    return value


def names(values: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated list field: its non-empty items, in order."""
    items = [item.strip() for item in text(values, name).split(",") if item.strip()]
    if len(items) > MAX_LIST_ITEMS:
        raise FieldErrors({name: f"at most {MAX_LIST_ITEMS} names"})
    return items


def tri_state(values: Mapping[str, str], name: str) -> bool | None:
    """A yes/no select with a third "default" choice (the empty value)."""
    value = text(values, name)
    if value not in ("", "yes", "no"):
        raise FieldErrors({name: "choose yes, no or the default"})
    return None if value == "" else value == "yes"


def field_errors(exc: ValidationError, fields: Mapping[str, str]) -> FieldErrors:
    """Pydantic's errors by form field: `fields` maps a record field (the first one or two
    parts of the error's location, `limits.rpm`) to the form field that carries it; the rest
    go to the form as a whole."""
    found: dict[str, str] = {}
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        field = fields.get(".".join(location[:2])) or (
            fields.get(location[0], "") if location else ""
        )
        if not field and location:
            message = f"{'.'.join(location)}: {message}"
        found.setdefault(field, message)
    return FieldErrors(found)


def collect(*parts: FieldErrors | None) -> None:
    """Raise every problem found in the parts of a form at once, so one submit shows them all."""
    found: dict[str, str] = {}
    for part in parts:
        if part is not None:
            for name, message in part.errors.items():
                found.setdefault(name, message)
    if found:
        raise FieldErrors(found)
