"""Signals a site can act on.

``trap_sprung``: a wrong answer repeated a stock solver's misreading of the
challenge (GANCAPTCHA_TRAP), a sign that a program, not a person, answered.
Sent once per such answer, after the answer is refused and before the
penalty is counted, with ``request`` (None outside a request) and ``key``
(the challenge key). Receivers run robustly: one that raises is logged, never a 500.
Flag the account, ask for more, or ban: the site decides.
"""

from __future__ import annotations

from django.dispatch import Signal

trap_sprung = Signal()
