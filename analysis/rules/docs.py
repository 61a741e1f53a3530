"""The README's flag table and ``[rules]`` reference, generated from the catalogue.

``python -m analysis.rules.docs`` prints both; ``tests/flags/test_catalogue.py``
checks that the README holds exactly this text, so a rule added to the catalogue
without its documentation fails the tests.

    >>> flag_table().splitlines()[0]
    '| code | raised when | severity | setting = default | source of the default |'
"""

from __future__ import annotations

from analysis.rules.catalogue import RULES, Threshold, thresholds


def _default(t: Threshold) -> str:
    value = t.default
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def flag_table() -> str:
    """The README's flag table (markdown), one row per rule in catalogue order."""
    rows = [
        "| code | raised when | severity | setting = default | source of the default |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in RULES:
        settings = ", ".join(f"`{t.name} = {_default(t)}`" for t in r.thresholds) or "-"
        when = r.readme.when
        if r.yields_to:
            others = " or ".join(f"`{c}`" for c in r.yields_to)
            when += f"; not raised while {others} holds (one cause, one flag)"
        if r.awaiting:
            when += "; also on an order still awaiting its tracking number"
        rows.append(
            f"| `{r.code}` | {when} | {r.readme.severity} | {settings} | {r.readme.source} |"
        )
    return "\n".join(rows)


def rules_reference() -> str:
    """Every ``[rules]`` setting with its default, as a TOML block for the README."""
    lines = ["[rules]"]
    for t in thresholds():
        users = ", ".join(r.code for r in RULES if t in r.thresholds)
        unit = "" if t.unit == "bool" else f" {t.unit},"
        lines.append(f"{t.name} = {_default(t)}".ljust(34) + f"#{unit} {users}")
    return "```toml\n" + "\n".join(lines) + "\n```"


if __name__ == "__main__":
    print(flag_table())
    print()
    print(rules_reference())
