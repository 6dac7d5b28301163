"""The documentation site's generated references (docs/_ext/gancaptcha_docs.py).

No Sphinx build here (`make docs` does that, in CI): these import the
extension and the code it reads, so a check id or a setting without its
entry fails the suite. The entries need only the dev install; the tests of
the rendered nodes need docutils (requirements-docs.txt) and skip without it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from gancaptcha_field import checks, conf

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gancaptcha_docs", DOCS / "_ext" / "gancaptcha_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ext = _load_extension()


def emitted_check_ids() -> set[str]:
    """Every id checks.py passes to _issue(), read from its source."""
    tree = ast.parse((ROOT / "gancaptcha_field" / "checks.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_issue"
        ):
            first = node.args[0]
            assert isinstance(first, ast.Constant), "_issue() takes a literal id"
            found.add(str(first.value))
    return found


def _text(found: list[Any]) -> str:
    return "\n".join(node.astext() for node in found)


def _docutils() -> Any:
    """docutils.nodes, or a skip: `make docs` installs it, `make test` does not."""
    return pytest.importorskip("docutils.nodes")


def test_every_check_the_code_emits_has_its_entry() -> None:
    emitted = emitted_check_ids()
    assert {"E001", "W001", "E020", "W013"} <= emitted  # the parse found them
    entries = {entry.id: entry for entry in ext.check_entries()}
    for code in sorted(emitted):
        entry = entries.get(f"gancaptcha_field.{code}")
        assert entry, f"check {code} is emitted but has no entry in the reference"
        assert entry.message and entry.hint and entry.when, code
        assert entry.level == ("Error" if code.startswith("E") else "Warning")


def test_the_reference_shows_each_check_with_its_texts() -> None:
    _docutils()
    text = _text(ext.checks_nodes(ext.check_entries()))
    for code in emitted_check_ids():
        assert f"gancaptcha_field.{code} (" in text
        # Backticks become literals; the words stay.
        assert getattr(checks.When, code).replace("`", "") in text
        assert getattr(checks.Hints, code).replace("`", "") in text


def test_a_check_without_its_sentence_stops_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks.Messages, "W999", "A new check.", raising=False)
    monkeypatch.setattr(checks.Hints, "W999", "Fix it.", raising=False)
    with pytest.raises(ValueError, match="W999 has no entry in When"):
        ext.check_entries()


def test_check_ids_named_in_the_docs_exist() -> None:
    known = {name for name in vars(checks.Messages) if ext.CHECK_ID.match(name)}
    retired = {"W011"}  # replaced by E012; the pages say so
    pages = [*DOCS.glob("*.md"), ROOT / "README.md", ROOT / "SECURITY.md"]
    for page in pages:
        for code in set(
            re.findall(r"`(?:gancaptcha_field\.)?([EW]\d{3})`", page.read_text())
        ):
            assert code in known | retired, (
                f"{page.name} names check {code}, which does not exist"
            )


def test_settings_rows_render_every_declared_setting() -> None:
    declared = [
        SimpleNamespace(
            name="GANCAPTCHA_TIMEOUT",
            default_text="300",
            kind=int,
            help="Seconds a `key` lives.",
        ),
        SimpleNamespace(
            name="POW", default_text="False", kind="bool", help="Opt-in proof-of-work."
        ),
    ]
    rows = ext.setting_rows(declared)
    assert [(r.name, r.kind, r.default) for r in rows] == [
        ("GANCAPTCHA_TIMEOUT", "int", "300"),
        ("GANCAPTCHA_POW", "bool", "False"),
    ]
    nodes = _docutils()
    old = ext.deprecated_rows({"GANCAPTCHA_OLD": "GANCAPTCHA_POW"})
    found = ext.settings_nodes(rows, old)
    text = _text(found)
    assert "Seconds a key lives." in text
    assert "GANCAPTCHA_OLD" in text and "Deprecated names" in text
    literals = [
        node.astext() for table in found for node in table.findall(nodes.literal)
    ]
    assert {"GANCAPTCHA_TIMEOUT", "300", "key", "GANCAPTCHA_OLD"} <= set(literals)
    # No deprecated names: no second table.
    assert len(ext.settings_nodes(rows, [])) == 1


def test_a_setting_without_help_stops_the_build() -> None:
    bare = SimpleNamespace(name="GANCAPTCHA_X", default_text="None", kind=str, help=" ")
    with pytest.raises(ValueError, match="GANCAPTCHA_X has no help"):
        ext.setting_rows([bare])


def test_every_declared_setting_has_its_entry_and_the_page_uses_it() -> None:
    declared = list(conf.declared())
    assert declared
    names = {row.name for row in ext.setting_rows(declared)}
    assert len(names) == len(declared)
    _docutils()
    text = _text(
        ext.settings_nodes(
            ext.setting_rows(declared),
            ext.deprecated_rows(conf.DEPRECATED),
        )
    )
    for setting in declared:
        assert ext._setting_name(setting.name) in text
    page = re.sub(r"<!--.*?-->", "", (DOCS / "settings.md").read_text(), flags=re.S)
    assert "{gancaptcha-settings}" in page, "settings.md does not use the directive yet"


def test_readme_links_into_pages_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    targets = re.findall(r"\]\((docs/[^)#\s]+)", readme)
    assert "docs/index.md" in targets
    for target in targets:
        assert (ROOT / target).exists(), f"README links to missing {target}"
