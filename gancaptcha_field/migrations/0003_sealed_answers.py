"""Answers sealed at rest (sealing.py): wider columns, existing rows sealed."""

from typing import Any

from django.db import migrations, models


def _convert(apps: Any, schema_editor: Any, forward: bool) -> None:
    from gancaptcha_field import sealing

    db = schema_editor.connection.alias
    for name in ("Challenge", "PooledChallenge"):
        model = apps.get_model("gancaptcha_field", name)
        for pk, answer in model.objects.using(db).values_list("pk", "answer"):
            new: str | None
            # Any sealed form (s1, or s2... with the trap's baits, which the
            # unsealed schema has no room for and drops).
            if forward and not sealing.looks_sealed(answer):
                new = sealing.seal(answer)
            elif not forward and sealing.looks_sealed(answer):
                new = sealing.unseal(answer)
                if new is None:  # sealed under another SECRET_KEY: unusable
                    model.objects.using(db).filter(pk=pk).delete()
                    continue
            else:
                continue
            model.objects.using(db).filter(pk=pk).update(answer=new)


def seal_answers(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, forward=True)


def unseal_answers(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ("gancaptcha_field", "0002_pool"),
    ]

    operations = [
        migrations.AlterField(
            model_name="challenge",
            name="answer",
            field=models.CharField(max_length=64, verbose_name="answer"),
        ),
        migrations.AlterField(
            model_name="pooledchallenge",
            name="answer",
            field=models.CharField(max_length=64, verbose_name="answer"),
        ),
        migrations.RunPython(seal_answers, unseal_answers, elidable=False),
    ]
