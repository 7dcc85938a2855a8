"""What Grafana and the ClickHouse data source (grafana-clickhouse-datasource) do to a panel's
SQL before ClickHouse sees it, so tests can run dashboard queries as Grafana would.

In order: the plugin's front end replaces `$__conditionalAll(condition, $var)` with `1=1` when
the variable is All (`CHDatasource.applyConditionalAll`), Grafana interpolates `$var` /
`${var}` / `[[var]]` with the plugin's format (a multi-value becomes `'a','b'`; All becomes
every option), then the plugin's back end expands its macros (`pkg/macros/macros.go`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

ALL = "$__all"
_CONDITIONAL_ALL = "$__conditionalAll("
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"
)
_VAR_IN_ARG = re.compile(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+")
# As sqlds matches a macro: `$__name`, then optionally `(args)` up to the first `)`.
_MACRO = re.compile(r"\$__(\w+)(?:\((.*?)\))?")


@dataclass(frozen=True)
class QueryContext:
    """A dashboard's time range, its interval, and each variable's value and options."""

    start: datetime
    end: datetime
    interval_s: int
    values: Mapping[str, Sequence[str]]
    options: Mapping[str, Sequence[str]]


def _macro_args(sql: str, open_paren: int) -> list[str]:
    """The plugin's `getMacroArgs`: top-level comma-separated arguments after `(`."""
    args: list[str] = []
    depth = 0
    last = open_paren + 1
    for index in range(open_paren, len(sql)):
        char = sql[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 1:
            args.append(sql[last:index])
            last = index + 1
        if depth == 0:
            args.append(sql[last:index])
            return args
    return []


def conditional_all(sql: str, ctx: QueryContext) -> str:
    index = sql.rfind(_CONDITIONAL_ALL)
    while index != -1:
        params = _macro_args(sql, index + len(_CONDITIONAL_ALL) - 1)
        if len(params) != 2:
            raise ValueError(f"$__conditionalAll needs 2 arguments: {sql[index : index + 80]}")
        phrase = params[0]
        found = _VAR_IN_ARG.search(params[1].strip())
        if found is not None:
            value = ",".join(ctx.values.get(found.group(0), ()))
            if value in ("", ALL):
                phrase = "1=1"
        sql = sql.replace(f"{_CONDITIONAL_ALL}{params[0]},{params[1]})", phrase, 1)
        index = sql.rfind(_CONDITIONAL_ALL)
    return sql


def _format(values: Sequence[str], fmt: str | None) -> str:
    if fmt in (None, "singlequote"):
        return "'" + "','".join(values) + "'"
    if fmt in ("raw", "csv"):
        return ",".join(values)
    raise ValueError(f"variable format {fmt!r} is not emulated here")


def template_variables(sql: str, ctx: QueryContext) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name not in ctx.values:
            return match.group(0)
        values = list(ctx.values[name])
        if values == [ALL]:
            values = list(ctx.options[name])
        return _format(values, fmt)

    return _VARIABLE.sub(replace, sql)


def _date_time(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _date_time_ms(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment:%Y-%m-%d}')"


def _between(column: str, low: str, high: str) -> str:
    return f"{column} >= {low} AND {column} <= {high}"


def _macros(ctx: QueryContext) -> dict[str, Callable[[list[str]], str]]:
    start, end, seconds = ctx.start, ctx.end, max(ctx.interval_s, 1)

    def one(build: Callable[[str], str]) -> Callable[[list[str]], str]:
        def apply(args: list[str]) -> str:
            if len(args) != 1:
                raise ValueError(f"expected 1 argument, received {len(args)}")
            return build(args[0])

        return apply

    def date_time_filter(args: list[str]) -> str:
        if len(args) != 2:
            raise ValueError(f"expected 2 arguments, received {len(args)}")
        dates = _between(args[0], _date(start), _date(end))
        times = _between(args[1], _date_time(start), _date_time(end))
        return f"({dates}) AND ({times})"

    return {
        "fromTime": lambda _: _date_time(start),
        "toTime": lambda _: _date_time(end),
        "fromTime_ms": lambda _: _date_time_ms(start),
        "toTime_ms": lambda _: _date_time_ms(end),
        "timeFilter": one(lambda c: _between(c, _date_time(start), _date_time(end))),
        "timeFilter_ms": one(lambda c: _between(c, _date_time_ms(start), _date_time_ms(end))),
        "dateFilter": one(lambda c: _between(c, _date(start), _date(end))),
        "dateTimeFilter": date_time_filter,
        "dt": date_time_filter,
        "timeInterval": one(
            lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {seconds} second)"
        ),
        "timeInterval_ms": one(
            lambda c: (
                f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {seconds * 1000} millisecond)"
            )
        ),
        "interval_s": lambda _: str(seconds),
    }


def macros(sql: str, ctx: QueryContext) -> str:
    known = _macros(ctx)

    def replace(match: re.Match[str]) -> str:
        name, raw_args = match.group(1), match.group(2)
        if name not in known:
            raise ValueError(f"unknown macro $__{name}")
        args = [arg.strip() for arg in raw_args.split(",")] if raw_args is not None else []
        return known[name](args)

    return _MACRO.sub(replace, sql)


def expand(sql: str, ctx: QueryContext) -> str:
    """`sql` as ClickHouse receives it from Grafana."""
    return macros(template_variables(conditional_all(sql, ctx), ctx), ctx)
