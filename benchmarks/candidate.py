"""Run a management command with a candidate layout in place of harden.LAYOUT.

How the candidate rows of docs/panel.md were made: the panels of layouts that
never shipped (`captcha_panel draw`) and their lab runs (`captcha_attack`),
drawn by the site's own pipeline with only the layout swapped. The layout is
a JSON object of `harden.Design` fields, or `mild` for `harden.MILD`. It runs
on the benchmarks' settings and a new SQLite file (benchmarks/bootstrap.py);
GANCAPTCHA_HARDEN=1 GANCAPTCHA_TRAP=1 in the environment turn those on, as
they do for the demo.

    GANCAPTCHA_HARDEN=1 GANCAPTCHA_TRAP=1 .venv/bin/python -m benchmarks.candidate \\
        '{"ink_gap": [-3, -1], "narrow_gap": [0, 1.5], "max_box_overlap": 0.5, \\
          "lines": 0}' captcha_attack --challenges 200 --calibration 50 \\
        --adaptive 25,250,2500 --self-labelled 600

The layouts of every panel are in its manifest.json ("layout"). Not part of
the tests.
"""

from __future__ import annotations

import json
import os
import sys

from benchmarks import bootstrap


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    knobs = {
        name: os.environ.get(f"GANCAPTCHA_{name}", "0") for name in ("HARDEN", "TRAP")
    }
    with bootstrap.django_here(side="ours", name="candidate", **knobs):
        run(argv)
    return 0


def run(argv: list[str]) -> None:
    """``argv[1:]`` as a management command, with the layout ``argv[0]``."""
    from django.core.management import call_command

    from gancaptcha_field.supply import harden

    if argv[0] == "mild":
        layout = harden.MILD
    else:
        fields = json.loads(argv[0])
        layout = harden.Design(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        )
    harden.LAYOUT = layout  # read at call time by harden.plan
    call_command(*argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
