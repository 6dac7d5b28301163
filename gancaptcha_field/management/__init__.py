"""Internal. What the management commands share."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import CommandError
from django.db import connections, router


def require_tables() -> None:
    """Raise CommandError unless every GanCaptcha table exists (migrate has run).

    Checked up front so that an unmigrated database stops a command with the
    fix, not with "no such table" halfway through (or after training a judge).
    """
    missing: dict[str, list[str]] = {}
    present: dict[str, set[str]] = {}
    for model in apps.get_app_config("gancaptcha_field").get_models():
        alias = router.db_for_write(model)
        if alias not in present:
            present[alias] = set(connections[alias].introspection.table_names())
        if model._meta.db_table not in present[alias]:
            missing.setdefault(alias, []).append(model._meta.db_table)
    if missing:
        where = "; ".join(
            f"{', '.join(tables)} in database {alias!r}"
            for alias, tables in missing.items()
        )
        raise CommandError(
            f"The GanCaptcha tables are missing ({where}): "
            "run `python manage.py migrate` first."
        )
