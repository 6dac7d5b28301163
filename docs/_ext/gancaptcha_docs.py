"""Sphinx directives that render references from the code, so they cannot drift.

``{gancaptcha-checks}``: every system check id with its level, message, hint
and what fires it, from ``gancaptcha_field.checks`` (``Messages``, ``Hints``,
``When``). ``{gancaptcha-settings}``: every declared setting and every
deprecated name, from ``gancaptcha_field.conf.declared()`` and
``gancaptcha_field.conf.DEPRECATED``.

The rows are built by plain functions (``check_entries``, ``setting_rows``),
which tests/test_docs.py calls without running Sphinx; docutils is imported
only where nodes are made, so those tests run with the dev install alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docutils import nodes

CHECK_ID = re.compile(r"^[EW]\d{3}$")
PREFIX = "gancaptcha_field."
SETTING_PREFIX = "GANCAPTCHA_"
_LEVELS = {"E": "Error", "W": "Warning"}


@dataclass(frozen=True)
class CheckEntry:
    """One system check as the reference shows it."""

    id: str
    level: str
    message: str
    hint: str
    when: str


def check_entries() -> list[CheckEntry]:
    """Every check id ``gancaptcha_field.checks.Messages`` holds, by id.

    A message without its hint or its ``When`` sentence is an error here, so
    the docs build (and tests/test_docs.py) fails rather than print a gap.
    """
    from gancaptcha_field import checks

    entries = []
    for code in sorted(name for name in vars(checks.Messages) if CHECK_ID.match(name)):
        missing = [
            part.__name__
            for part in (checks.Hints, checks.When)
            if not hasattr(part, code)
        ]
        if missing:
            raise ValueError(f"check {code} has no entry in {', '.join(missing)}")
        entries.append(
            CheckEntry(
                id=PREFIX + code,
                level=_LEVELS[code[0]],
                message=getattr(checks.Messages, code),
                hint=getattr(checks.Hints, code),
                when=getattr(checks.When, code),
            )
        )
    return entries


@dataclass(frozen=True)
class SettingRow:
    """One setting as the reference shows it."""

    name: str
    kind: str
    default: str
    help: str


def _kind_text(kind: object) -> str:
    return kind.__name__ if isinstance(kind, type) else str(kind)


def _setting_name(name: str) -> str:
    return name if name.startswith(SETTING_PREFIX) else SETTING_PREFIX + name


def setting_rows(declared: Iterable[Any]) -> list[SettingRow]:
    """One row per declared setting (objects with ``.name``, ``.default_text``
    (the default as a reader should see it), ``.kind`` and ``.help``), in
    declaration order."""
    rows = []
    for setting in declared:
        help_text = str(setting.help).strip()
        if not help_text:
            raise ValueError(f"setting {setting.name} has no help text")
        rows.append(
            SettingRow(
                name=_setting_name(str(setting.name)),
                kind=_kind_text(setting.kind),
                default=str(setting.default_text),
                help=help_text,
            )
        )
    return rows


def deprecated_rows(deprecated: Mapping[str, str]) -> list[tuple[str, str]]:
    """(old name, what replaces it), by old name."""
    return [(_setting_name(old), str(new)) for old, new in sorted(deprecated.items())]


_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> list[nodes.Node]:
    """Text with its `code spans` as literals."""
    from docutils import nodes

    parts: list[nodes.Node] = []
    for number, piece in enumerate(_CODE.split(text)):
        if piece:
            parts.append(
                nodes.literal(piece, piece) if number % 2 else nodes.Text(piece)
            )
    return parts


def _paragraph(label: str, text: str) -> nodes.paragraph:
    from docutils import nodes

    return nodes.paragraph(
        "", "", nodes.strong(label, label), nodes.Text(" "), *inline(text)
    )


def checks_nodes(entries: Iterable[CheckEntry]) -> list[nodes.Node]:
    """A definition list: one item per check, anchored at its id."""
    from docutils import nodes

    listing = nodes.definition_list(classes=["gancaptcha-checks"])
    for entry in entries:
        term = nodes.term(
            "", "", nodes.literal(entry.id, entry.id), nodes.Text(f" ({entry.level})")
        )
        definition = nodes.definition(
            "",
            _paragraph("When:", entry.when),
            _paragraph("Message:", entry.message),
            _paragraph("Hint:", entry.hint),
        )
        item = nodes.definition_list_item("", term, definition)
        item["ids"].append(nodes.make_id(entry.id))
        listing += item
    return [listing]


def _table(
    header: tuple[str, ...], rows: Iterable[tuple[str, ...]], code_columns: set[int]
) -> nodes.table:
    """A table whose columns numbered in ``code_columns`` are literals."""
    from docutils import nodes

    group = nodes.tgroup(cols=len(header))
    for _ in header:
        group += nodes.colspec(colwidth=1)

    def row(cells: tuple[str, ...], *, head: bool = False) -> nodes.row:
        line = nodes.row()
        for number, cell in enumerate(cells):
            if head:
                content: list[nodes.Node] = [nodes.Text(cell)]
            elif number in code_columns:
                content = [nodes.literal(cell, cell)]
            else:
                content = inline(cell)
            line += nodes.entry("", nodes.paragraph("", "", *content))
        return line

    group += nodes.thead("", row(header, head=True))
    body = nodes.tbody()
    for cells in rows:
        body += row(cells)
    group += body
    return nodes.table("", group)


def settings_nodes(
    rows: Iterable[SettingRow], deprecated: Iterable[tuple[str, str]]
) -> list[nodes.Node]:
    """The settings table, then the deprecated names, if any."""
    from docutils import nodes

    found: list[nodes.Node] = [
        _table(
            ("Setting", "Type", "Default", "Meaning"),
            ((r.name, r.kind, r.default, r.help) for r in rows),
            code_columns={0, 2},  # the name, and the default (a repr)
        )
    ]
    old = list(deprecated)
    if old:
        found.append(nodes.paragraph("", "Deprecated names, still read for now:"))
        found.append(_table(("Old name", "Use instead"), old, code_columns={0}))
    return found


def setup(app: Any) -> dict[str, Any]:
    """Register both directives."""
    from docutils.parsers.rst import Directive

    class ChecksDirective(Directive):  # type: ignore[misc]  # docutils: untyped
        """``{gancaptcha-checks}``: the system check reference."""

        has_content = False

        def run(self) -> list[nodes.Node]:
            return checks_nodes(check_entries())

    class SettingsDirective(Directive):  # type: ignore[misc]
        """``{gancaptcha-settings}``: the settings reference."""

        has_content = False

        def run(self) -> list[nodes.Node]:
            from gancaptcha_field import conf

            return settings_nodes(
                setting_rows(conf.declared()),
                deprecated_rows(conf.DEPRECATED),
            )

    app.add_directive("gancaptcha-checks", ChecksDirective)
    app.add_directive("gancaptcha-settings", SettingsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
