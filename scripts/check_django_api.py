"""Does every Django name our code uses exist in a given Django release?

Django 6.x needs Python 3.12, so where only 3.11 runs, its sources stand in for
running it: this reads (never imports) a Django wheel and resolves, by AST,
every ``django.*`` module, imported name, attribute of an imported module and
dotted path in a string (settings: backends, middleware, validators) that the
package, the demo, the tests, the lab and the benchmarks use. It prints what
is missing and exits 1 if anything is.

    python scripts/check_django_api.py                     # 6.0.x and 6.1.x
    python scripts/check_django_api.py --django 6.0 --django 6.1 --django installed
    python scripts/check_django_api.py --wheel path/to/Django-6.0.1-py3-none-any.whl

Wheels are fetched with ``pip download`` into the cache directory; offline,
the script says so and exits 2 (CI runs it, so a missing wheel fails CI).
What it cannot see: a keyword or positional argument Django removed, and
methods of Django classes; the release notes' removals are grepped for those
(CHANGELOG, "Django 6").
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("gancaptcha_field", "gancaptcha_lab", "demo_site", "tests", "benchmarks")
# This check's own tests spell removed names on purpose.
NOT_OURS = ("tests/test_django_compat.py",)
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "gancaptcha"
    / "django-wheels"
)
DOTTED = re.compile(r"django(?:\.[A-Za-z_]\w*)+")
# Dotted strings that are not Python paths: Django's logger names and the
# translation catalogues' file names.
NOT_PATHS = re.compile(r"django\.(request|server|security(\.\w+)*|po|mo)")


class Source:
    """One Django release's files, from a wheel or an installed copy."""

    def __init__(self, label: str, files: dict[str, bytes]) -> None:
        self.label = label
        self._files = files

    @classmethod
    def from_wheel(cls, wheel: Path) -> Source:
        with zipfile.ZipFile(wheel) as archive:
            files = {
                name: archive.read(name)
                for name in archive.namelist()
                if name.startswith("django/") and name.endswith(".py")
            }
        return cls(wheel.name, files)

    @classmethod
    def installed(cls) -> Source:
        import django

        base = Path(django.__file__).resolve().parent
        files = {
            "django/" + p.relative_to(base).as_posix(): p.read_bytes()
            for p in base.rglob("*.py")
        }
        return cls(f"installed Django {django.get_version()}", files)

    def module_file(self, module: str) -> str | None:
        path = module.replace(".", "/")
        for name in (f"{path}.py", f"{path}/__init__.py"):
            if name in self._files:
                return name
        return None

    def is_module(self, module: str) -> bool:
        return self.module_file(module) is not None

    @cache  # noqa: B019 - one Source per release, alive for the whole run
    def names(self, module: str) -> frozenset[str] | None:
        """Names bound at the top level of ``module`` (None: any name resolves,
        as the module defines ``__getattr__``)."""
        name = self.module_file(module)
        if name is None:
            return frozenset()
        tree = ast.parse(self._files[name], filename=name)
        package = module if name.endswith("__init__.py") else module.rpartition(".")[0]
        found: set[str] = set()
        for node in _top_level(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name == "__getattr__":
                    return None
                found.add(node.name)
            elif isinstance(node, ast.ClassDef):
                found.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for target in targets:
                    found.update(_bound(target))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    found.add(alias.asname or alias.name.partition(".")[0])
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node, package)
                for alias in node.names:
                    if alias.name == "*":
                        found.update(self.exported(source))
                    else:
                        found.add(alias.asname or alias.name)
        return frozenset(found)

    def exported(self, module: str) -> frozenset[str]:
        """What ``from module import *`` binds (its public names: ``__all__`` is
        often computed, so every public name counts)."""
        names = self.names(module)
        return frozenset(n for n in names or () if not n.startswith("_"))

    def has(self, module: str, attribute: str) -> bool:
        names = self.names(module)
        return (
            names is None
            or attribute in names
            or self.is_module(f"{module}.{attribute}")
        )

    def resolve(self, dotted: str) -> bool:
        """A module, or a module's attribute (one level: ``pkg.mod.Name``)."""
        if self.is_module(dotted):
            return True
        module, _, attribute = dotted.rpartition(".")
        return bool(module) and self.is_module(module) and self.has(module, attribute)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that bind module names, inside if/try/with blocks too."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.With):
            yield from _top_level(node.body)
            yield from _top_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)


def _bound(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _bound(element)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


@dataclass(frozen=True)
class Use:
    """One Django name our code uses, and where."""

    path: str
    line: int
    name: str  # a dotted module, or "module:attribute"


def uses_in(path: Path, text: str) -> Iterator[Use]:
    """Every Django module, name, module attribute and dotted string in a file."""
    tree = ast.parse(text, filename=str(path))
    where = (
        path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    )
    # Local names bound to Django modules (import x.y as m; from x import mod);
    # a name bound to a non-module is checked at its import and not followed.
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "django":
                    yield Use(where, node.lineno, alias.name)
                    if alias.asname:
                        modules[alias.asname] = alias.name
                    else:
                        modules["django"] = "django"
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] != "django":
                continue
            yield Use(where, node.lineno, node.module)
            for alias in node.names:
                if alias.name == "*":
                    continue
                yield Use(where, node.lineno, f"{node.module}:{alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if DOTTED.fullmatch(node.value) and not NOT_PATHS.fullmatch(node.value):
                yield Use(where, node.lineno, node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = modules.get(node.value.id)
            # Dunders (__file__, __version__) are the module object's own.
            if module is not None and not node.attr.startswith("__"):
                yield Use(where, node.lineno, f"{module}:{node.attr}")


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def our_files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            for path in sorted(root.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                if _shown(path) not in NOT_OURS:
                    yield path


def missing(source: Source, files: Iterable[Path]) -> list[Use]:
    """The uses in ``files`` that ``source`` does not define."""
    absent = []
    for path in files:
        for use in uses_in(path, path.read_text(encoding="utf-8")):
            module, _, attribute = use.name.partition(":")
            if attribute:
                # A name bound to a non-module (a class, a function): its own
                # import was checked; its attributes are not followed.
                if not source.is_module(module):
                    continue
                ok = source.has(module, attribute)
            else:
                ok = source.resolve(module)
            if not ok:
                absent.append(use)
    return absent


def fetch_wheel(spec: str, cache_dir: Path) -> Path:
    """The newest Django ``spec``.x wheel, from the cache or pip download."""
    major, minor = spec.split(".")
    pattern = re.compile(rf"django-{major}\.{minor}(\.\d+)?-py3-none-any\.whl", re.I)

    def cached() -> list[Path]:
        return sorted(
            (p for p in cache_dir.glob("*.whl") if pattern.fullmatch(p.name)),
            key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)[:3]],
        )

    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary", ":all:", "--python-version", "3.12", "--pre",
        "--dest", str(cache_dir), f"django>={spec}a0,<{major}.{int(minor) + 1}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = cached()
    if not wheels:
        raise SystemExit(
            f"cannot get a Django {spec} wheel (offline?): {result.stderr.strip()}\n"
            f"Put one in {cache_dir} or pass --wheel."
        )
    return wheels[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--django",
        action="append",
        metavar="X.Y|installed",
        help="a Django series to check against (default: 6.0 and 6.1)",
    )
    parser.add_argument("--wheel", action="append", type=Path, default=[])
    parser.add_argument("--cache-dir", type=Path, default=CACHE)
    parser.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: ours)"
    )
    args = parser.parse_args(argv)
    series = args.django or ([] if args.wheel else ["6.0", "6.1"])
    for spec in series:
        if spec != "installed" and not re.fullmatch(r"\d+\.\d+", spec):
            parser.error(f"--django {spec!r}: expected X.Y (like 6.0) or 'installed'")
    sources = [
        Source.installed()
        if spec == "installed"
        else Source.from_wheel(fetch_wheel(spec, args.cache_dir))
        for spec in series
    ]
    for wheel in args.wheel:
        if not wheel.is_file():
            parser.error(f"--wheel {wheel}: no such file")
        sources.append(Source.from_wheel(wheel))
    files = list(our_files(args.paths or [ROOT / name for name in OURS]))
    failed = False
    for source in sources:
        absent = missing(source, files)
        uses = sum(1 for p in files for _ in uses_in(p, p.read_text(encoding="utf-8")))
        print(f"{source.label}: {uses} Django uses in {len(files)} files, "
              f"{len(absent)} missing")  # fmt: skip
        for use in absent:
            print(f"  {use.path}:{use.line}: {use.name.replace(':', '.')}")
        failed = failed or bool(absent)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
