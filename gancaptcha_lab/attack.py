"""The attacker lab: a battery of solvers against the PNG exactly as served.

Library code for ``manage.py captcha_attack``; measuring, never serving, so it
may import TensorFlow (lazily). Every test challenge is put in the site's store
under a fresh key, its PNG fetched from the real image view with Django's test
client, the attacker's answer submitted through a form with GanCaptchaField,
and the site's own verification decides. The attacker's CPU time
(``time.process_time``) covers decoding, cleaning, cutting and classifying.

Each attacker chooses its preprocessing and segmentation on labelled data it
could have (a small calibration set of the site's challenges, its own N
labelled challenges, or its own synthetic ones), never on the test set.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gancaptcha_field import artifacts, constants
from gancaptcha_lab import attackers, bank, errors_only, vision

RANDOM_GUESS_RATE = 10.0**-constants.ANSWER_LENGTH
SCHEMA_VERSION = 1
Log = Callable[[str], None]
Item = tuple[bytes, str]  # a challenge PNG as served, and its answer


class AttackError(Exception):
    """The battery could not run; the message says why."""


def wilson_interval(
    successes: int, trials: int, z: float = 1.96
) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    half /= denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class BatteryConfig:
    """How many challenges, which labels, where the cache is."""

    cache_dir: Path
    mnist_path: Path
    challenges: int = 500  # test challenges; every attacker answers each one
    calibration: int = 50  # labelled challenges for choosing combinations
    adaptive: tuple[int, ...] = (25, 250, 2500)  # labels the adaptive one buys
    self_labelled: int = 2500  # synthetic challenges the self-labeller makes
    seed: int = 1
    quick: bool = False  # tiny models (tests)
    bank_dir: Path | None = None  # default: cache_dir/bank-<models+renderer>
    json_path: Path | None = None
    markdown_path: Path | None = None


@dataclass
class Row:
    """One attacker's figures, end to end through the site."""

    name: str
    kind: str
    status: str = "ran"  # "ran", "not enabled", "not run"
    attempts: int = 0
    solved: int = 0
    digits_right: int = 0
    cpu_s: float = 0.0  # the attacker's CPU time over all attempts
    combination: str = ""
    labels: int = 0  # site challenges with known answers it used
    train_cpu_s: float = 0.0
    trapped: int = 0  # wrong answers that sprang the site's trap
    note: str = ""
    choice: dict[str, float] = field(default_factory=dict)  # combo -> calib rate

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, derived ones included."""
        low, high = wilson_interval(self.solved, self.attempts)
        return {
            **asdict(self),
            "solve_rate": self.solved / self.attempts if self.attempts else None,
            "interval_95": [low, high] if self.attempts else None,
            "digit_accuracy": (
                self.digits_right / (self.attempts * constants.ANSWER_LENGTH)
                if self.attempts
                else None
            ),
            "cpu_s_per_attempt": self.cpu_s / self.attempts if self.attempts else None,
            "trapped_of_failures": (
                self.trapped / (self.attempts - self.solved)
                if self.attempts > self.solved
                else None
            ),
            "cpu_s_per_success": self.cpu_s / self.solved if self.solved else None,
        }


class Solver(Protocol):
    """Anything that turns challenge PNGs into answers."""

    def solve(self, pngs: Sequence[bytes]) -> list[str]:
        """One answer per PNG."""
        ...


@dataclass
class ModelSolver:
    """A digit classifier behind one preprocessing + segmentation."""

    model: Any
    preprocessing: str
    segmentation: str

    def solve(self, pngs: Sequence[bytes]) -> list[str]:
        """Cut each PNG into four MNIST-style digits and classify them."""
        if not pngs:
            return []
        digits = np.concatenate(
            [vision.cut(p, self.preprocessing, self.segmentation) for p in pngs]
        )
        labels = attackers.predict(self.model, digits).reshape(len(pngs), -1)
        return ["".join(str(int(d)) for d in row) for row in labels]


class Site:
    """The site as a scraper meets it: keys, the image view, the form."""

    def __init__(self, baits: dict[bytes, tuple[str, ...]] | None = None) -> None:
        from django.test import Client

        self._client = Client()
        # What the site sealed beside each PNG when it drew it (its trap).
        self._baits = baits or {}

    def serve(self, png: bytes, answer: str) -> str:
        """Store a challenge under a fresh key, as issuing does; its key."""
        from django.utils import timezone

        from gancaptcha_field.conf import conf
        from gancaptcha_field.stores import Issued, Rendered, get_store
        from gancaptcha_field.supply.answers import new_key

        now = timezone.now()
        issued = Issued(
            key=new_key(),
            answer=answer,
            created_at=now,
            expires_at=now + timedelta(seconds=conf.TIMEOUT),
        )
        baits = self._baits.get(png, ())
        get_store().save(
            issued, Rendered(answer=answer, png=png, png_2x=b"", baits=baits)
        )
        return issued.key

    def fetch(self, key: str) -> bytes:
        """The PNG from the image view, as a browser gets it."""
        from django.urls import NoReverseMatch, reverse

        try:
            url = reverse("gancaptcha:image", args=[key])
        except NoReverseMatch as exc:
            raise AttackError(
                "the project does not mount gancaptcha_field.urls "
                "(namespace 'gancaptcha')"
            ) from exc
        response = self._client.get(url)
        if response.status_code != 200:
            raise AttackError(f"the image view answered {response.status_code}")
        return bytes(response.content)

    def submit(self, key: str, answer: str) -> tuple[bool, bool]:
        """Post the answer through a form with GanCaptchaField: (passed, whether
        it sprang the site's trap, as ``signals.trap_sprung`` told)."""
        from gancaptcha_field.signals import trap_sprung

        sprung: list[str] = []

        def note(key: str = "", **_: Any) -> None:
            sprung.append(key)

        trap_sprung.connect(note, weak=False)
        try:
            form = _attack_form()({"captcha_0": key, "captcha_1": answer})
            passed = bool(form.is_valid())
        finally:
            trap_sprung.disconnect(note)
        return passed, key in sprung


def _attack_form() -> type[Any]:
    from django import forms

    from gancaptcha_field.fields import GanCaptchaField

    class AttackForm(forms.Form):
        captcha = GanCaptchaField()

    return AttackForm


def end_to_end(
    site: Site, solver: Solver, items: Sequence[Item], row: Row, chunk: int = 100
) -> Row:
    """Serve, fetch, solve (timed), submit: fill ``row`` with the outcome."""
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        keys = [site.serve(png, answer) for png, answer in part]
        fetched = [site.fetch(key) for key in keys]
        began = time.process_time()
        guesses = solver.solve(fetched)
        row.cpu_s += time.process_time() - began
        if len(guesses) != len(part):
            raise AttackError(f"{row.name} gave {len(guesses)} answers for {len(part)}")
        for key, guess, (_, answer) in zip(keys, guesses, part, strict=True):
            row.attempts += 1
            passed, trapped = site.submit(key, guess)
            row.solved += passed
            row.trapped += trapped
            row.digits_right += sum(a == b for a, b in zip(guess, answer, strict=False))
    return row


def _cut_all(items: Sequence[Item], combo: tuple[str, str]) -> np.ndarray:
    return np.stack([vision.cut(png, *combo) for png, _ in items])


def _truth(items: Sequence[Item]) -> np.ndarray:
    return np.array([[int(c) for c in answer] for _, answer in items], np.int64)


def choose_combination(
    models: dict[str, Any], items: Sequence[Item]
) -> dict[str, tuple[tuple[str, str], dict[str, float]]]:
    """Each model's best (preprocessing, segmentation) on labelled ``items``.

    Ranked by challenges solved, then digits read; ties keep the earlier
    (simpler) combination. Returns name -> (best, {combo: solve rate}).
    """
    truth = _truth(items)
    scores: dict[str, dict[tuple[str, str], tuple[int, int]]] = {m: {} for m in models}
    for combo in vision.combinations():
        digits = _cut_all(items, combo).reshape(-1, 28, 28)
        for name, model in models.items():
            right = attackers.predict(model, digits).reshape(truth.shape) == truth
            scores[name][combo] = (int(right.all(axis=1).sum()), int(right.sum()))
    out = {}
    for name, by_combo in scores.items():
        best = max(by_combo, key=lambda c: by_combo[c])  # first max wins ties
        rates = {"+".join(c): s[0] / len(items) for c, s in by_combo.items()}
        out[name] = (best, rates)
    return out


def _stock_specs(config: BatteryConfig) -> list[attackers.Spec]:
    if config.quick:
        return [
            attackers.Spec(arch, config.seed + i, epochs=1, train_digits=2000)
            for i, arch in enumerate(("mlp", "lenet", "wide"))
        ]
    return [
        attackers.Spec("mlp", config.seed, epochs=3),
        attackers.Spec("lenet", config.seed + 1, epochs=2),
        attackers.Spec("wide", config.seed + 2, epochs=1),
    ]


def _robust_spec(config: BatteryConfig) -> attackers.Spec:
    if config.quick:
        return attackers.Spec(
            "lenet", config.seed + 3, 1, adversarial=True, train_digits=2000
        )
    return attackers.Spec(
        "lenet", config.seed + 3, 1, adversarial=True, train_digits=30000
    )


SHIPPED = "shipped reader (from the public repository)"


def _shipped_models() -> Any:
    """The site's own ModelSet, or None when its models cannot serve."""
    from gancaptcha_field.supply import registry

    try:
        return registry.get_registry().model_set()
    except registry.ModelsUnavailable:
        return None


@dataclass
class ShippedReader:
    """The shipped reader (ONNX Runtime), called as the attackers' models are."""

    models: Any

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return np.asarray(self.models.read(np.asarray(x)))


ARCH_NAMES = {
    "mlp": "MLP 256-128",
    "lenet": "LeNet-5 CNN",
    "wide": "wide CNN (BN, dropout)",
}


def default_bank_dir(cache_dir: Path) -> Path:
    """Per shipped models, serving rule, renderer and hardening: a new bank
    whenever what the site would serve changes."""
    from gancaptcha_field.conf import conf
    from gancaptcha_field.supply import harden, registry, render, trap

    model_dir = conf.MODEL_DIR
    meta = b""
    if model_dir is not None and (model_dir / constants.METADATA_FILE).is_file():
        meta = (model_dir / constants.METADATA_FILE).read_bytes()
    source = inspect.getsource(render).encode()
    if conf.HARDEN:
        source += b"hardened" + inspect.getsource(harden).encode()
        source += repr(harden.LAYOUT).encode()  # the layout in force
    if conf.TRAP:
        source += b"trapped" + inspect.getsource(trap).encode()
    # The rule the digits were drawn under, and the picture's scale.
    rule = repr((registry.get_registry().serving_rule(), conf.IMAGE_SCALE)).encode()
    return cache_dir / f"bank-{attackers.fingerprint(meta, source, rule)}"


def _pieces(
    items: Sequence[Item], combo: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    x = _cut_all(items, combo).reshape(-1, 28, 28, 1)
    return x, _truth(items).reshape(-1)


def synthetic_challenges(count: int, seed: int) -> list[Item]:
    """What anyone can make from the public repository: shipped generator draws,
    labelled by the shipped reader, laid out by the shipped renderer (and
    hardened by the shipped hardener when the site hardens)."""
    from gancaptcha_field import oracle
    from gancaptcha_field.conf import conf
    from gancaptcha_field.supply import registry, render

    try:
        models = registry.get_registry().model_set()  # loaded once per process
        threshold = registry.get_registry().serving_rule().reader_threshold
    except registry.ModelsUnavailable as exc:
        raise AttackError(f"the shipped models cannot serve: {exc}") from exc
    rng = np.random.default_rng(seed)
    need = count * constants.ANSWER_LENGTH
    digits: list[np.ndarray] = []
    labels: list[int] = []
    for _ in range(200):
        if len(labels) >= need:
            break
        z = rng.standard_normal((256, constants.LATENT_DIM)).astype(np.float32)
        images, _, probs = models.draw_and_read(z)
        sure = probs.max(axis=1) >= threshold
        digits.extend(oracle.to_uint8(images)[sure])
        labels.extend(int(v) for v in probs.argmax(axis=1)[sure])
    if len(labels) < need:
        raise AttackError("the shipped generator gave too few confident digits")
    made = []
    for i in range(count):
        block = slice(i * constants.ANSWER_LENGTH, (i + 1) * constants.ANSWER_LENGTH)
        group = np.stack(digits[block])
        if conf.HARDEN:  # the public hardener, as the site serves it
            png = render.hardened_pngs(group, conf.IMAGE_SCALE, rng)[0]
        else:
            png = render.compose_png(group, conf.IMAGE_SCALE)
        made.append((png, "".join(str(v) for v in labels[block])))
    return made


def pow_row() -> Row:
    """The proof-of-work slot: 'not enabled' unless GANCAPTCHA_POW["answers"] is on."""
    from gancaptcha_field.conf import conf
    from gancaptcha_lab import pow as pow_lab

    row = Row(name="proof-of-work (native solver)", kind="pow")
    if not conf.POW["answers"]:
        row.status = "not enabled"
        row.note = "GANCAPTCHA_POW['answers'] is off"
        return row
    cost = pow_lab.native_cost(conf.POW["max_tries"], attempts=10)
    row.attempts = row.solved = cost.attempts
    row.cpu_s = cost.mean * cost.attempts
    row.note = (
        f"puzzles at the under-attack difficulty ({cost.tries} expected tries); "
        "solve rate is the puzzle's, CPU is the price per attempt; Chromium's "
        "time: python -m benchmarks.pow"
    )
    return row


ExtraRow = Callable[[Site, Sequence[Item]], Row]


def run(
    config: BatteryConfig,
    log: Log,
    extra_rows: Sequence[ExtraRow] = (),
    solvers: dict[str, Solver] | None = None,
) -> dict[str, Any]:
    """Run every attacker on the same test images; the report (JSON-ready).

    ``solvers`` replaces the model attackers (tests: an oracle, a constant);
    ``extra_rows`` adds rows that bring their own attack (audio).
    """
    from django.conf import settings
    from django.test import override_settings

    if config.challenges < 1 or config.calibration < 1:
        raise AttackError("challenges and calibration must be at least 1")
    bank_dir = config.bank_dir or default_bank_dir(config.cache_dir)
    need = config.calibration + config.challenges + max(config.adaptive, default=0)
    base_need = config.calibration + config.challenges
    have = bank.size(bank_dir)
    if have < need:
        # The adaptive attacker's labelled challenges too: asked for, so drawn.
        log(f"bank {bank_dir}: {have} challenges, drawing up to {need}")
        began, wall = time.process_time(), time.monotonic()
        made = bank.fill(bank_dir, need, 50, log)
        log(
            f"drew {made} challenges with the site's pipeline: "
            f"{(time.process_time() - began) / max(made, 1):.3f} CPU-s and "
            f"{(time.monotonic() - wall) / max(made, 1):.3f} s each"
        )
    pngs, answers, baits = bank.load(bank_dir)
    items = list(zip(pngs, answers, strict=True))
    calibration = items[: config.calibration]
    test = items[config.calibration : base_need]
    training = items[base_need:]
    log(
        f"bank holds {len(items)}: {len(calibration)} calibration, {len(test)} test, "
        f"{len(training)} for the adaptive attacker (wanted {need - base_need})"
    )
    # The lab measures recognition: the site's rate limits would stop it long
    # before the figures mean anything, and test mode would let "PASS" in.
    overrides = override_settings(
        GANCAPTCHA_RATELIMIT_ENABLED=False,
        GANCAPTCHA_TEST_MODE=False,
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
    )
    rows: list[Row] = []
    curve: list[dict[str, Any]] = []
    # The table counts the trap's bot signals; one warning each would bury it.
    with overrides, errors_only("gancaptcha_field.trap"):
        site = Site(dict(zip(pngs, baits, strict=True)))
        if solvers is not None:
            for name, solver in solvers.items():
                rows.append(end_to_end(site, solver, test, Row(name, "given")))
        else:
            _model_rows(config, site, calibration, test, training, rows, curve, log)
        for extra in extra_rows:
            rows.append(extra(site, test))
    rows.append(pow_row())
    if not extra_rows:
        rows.append(
            Row("audio attacker", "audio", status="not run", note="see --audio")
        )
    half = next((p["labels"] for p in curve if p["solve_rate"] >= 0.5), None)
    row_dicts = [r.as_dict() for r in rows]
    report = {
        "schema": SCHEMA_VERSION,
        "test_challenges": len(test),
        "calibration_challenges": len(calibration),
        "random_guess_rate": RANDOM_GUESS_RATE,
        "seed": config.seed,
        "quick": config.quick,
        "bank": str(bank_dir),
        # GANCAPTCHA_TRAP: the share of test challenges the site baited, and
        # how often a two-digit slip (any two places, any wrong digits) springs
        # it; a one-digit slip never does (challenges.SPRING_DIGITS).
        "baited": sum(bool(baits[i]) for i in range(config.calibration, base_need))
        / max(1, len(test)),
        "slip_springs": slip_springs(
            answers[config.calibration : base_need],
            baits[config.calibration : base_need],
        ),
        "rows": row_dicts,
        # What one address gets per minute under the fail rate, trap or not.
        "per_client": per_client(row_dicts),
        "adaptive_curve": curve,
        "labels_for_half": half,
    }
    if config.json_path is not None:
        write_text(config.json_path, json.dumps(report, indent=2) + "\n")
    if config.markdown_path is not None:
        write_text(config.markdown_path, format_markdown(report))
    return report


def _model_rows(
    config: BatteryConfig,
    site: Site,
    calibration: Sequence[Item],
    test: Sequence[Item],
    training: Sequence[Item],
    rows: list[Row],
    curve: list[dict[str, Any]],
    log: Log,
) -> None:
    cache = config.cache_dir
    models: dict[str, Any] = {}
    train_cpu: dict[str, float] = {}
    for spec in [*_stock_specs(config), _robust_spec(config)]:
        name = (
            f"robust {ARCH_NAMES[spec.arch]} (FGSM-RS eps {spec.epsilon:g})"
            if spec.adversarial
            else f"stock {ARCH_NAMES[spec.arch]}"
        )
        model, cpu, cached = attackers.load_or_train(
            spec, cache, config.mnist_path, log
        )
        models[name], train_cpu[name] = model, cpu
        log(f"{name}: {'cached' if cached else f'trained in {cpu:.0f} CPU-s'}")
    shipped = _shipped_models()
    if shipped is not None:
        # What anyone who downloads the repository holds: our own reader.
        models[SHIPPED] = ShippedReader(shipped)
        train_cpu[SHIPPED] = 0.0
    log(f"choosing combinations on {len(calibration)} labelled challenges")
    choices = choose_combination(models, calibration)
    for name, model in models.items():
        (pre, seg), rates = choices[name]
        row = Row(
            name,
            name.split()[0] if name != SHIPPED else "shipped",
            combination=f"{pre}+{seg}",
            labels=len(calibration),
            train_cpu_s=train_cpu[name],
            choice=rates,
        )
        rows.append(end_to_end(site, ModelSolver(model, pre, seg), test, row))
        log(f"{name}: {row.solved}/{row.attempts} with {row.combination}")
    base_name = f"stock {ARCH_NAMES['wide']}"
    base = models[base_name]
    # No labels at all: the stock model the adaptive attacker starts from.
    (stock,) = (r for r in rows if r.name == base_name)
    curve.append({"labels": 0, "solve_rate": stock.solved / stock.attempts})
    for n in config.adaptive:
        if n > len(training):
            rows.append(
                Row(
                    f"adaptive, {n} labelled challenges",
                    "adaptive",
                    status="not run",
                    labels=n,
                    note=f"the bank holds only {len(training)} for training",
                )
            )
            continue
        own = training[:n]
        began = time.process_time()
        # The combination from at most 50 of them: cutting is the slow part.
        (combo, rates) = choose_combination({"base": base}, own[:50])["base"]
        x, y = _pieces(own, combo)
        tuned = attackers.fine_tune(base, x, y, config.seed + n)
        row = Row(
            f"adaptive, {n} labelled challenges",
            "adaptive",
            combination="+".join(combo),
            labels=n,
            train_cpu_s=time.process_time() - began,
            note=f"fine-tunes the {base_name} on its own {n} challenges",
            choice=rates,
        )
        rows.append(end_to_end(site, ModelSolver(tuned, *combo), test, row))
        curve.append({"labels": n, "solve_rate": row.solved / row.attempts})
        log(f"{row.name}: {row.solved}/{row.attempts} with {row.combination}")
    count = config.self_labelled
    began = time.process_time()
    made = synthetic_challenges(count, config.seed + 7)
    own_calibration = made[: min(50, max(1, count // 5))]
    (combo, rates) = choose_combination({"base": base}, own_calibration)["base"]
    x, y = _pieces(made, combo)
    tuned = attackers.fine_tune(base, x, y, config.seed + 7)
    row = Row(
        f"self-labelling, {count} own challenges",
        "self-labelling",
        combination="+".join(combo),
        labels=0,
        train_cpu_s=time.process_time() - began,
        note=(
            "shipped generator + shipped reader labels + shipped renderer; "
            f"fine-tunes the {base_name}"
        ),
        choice=rates,
    )
    rows.append(end_to_end(site, ModelSolver(tuned, *combo), test, row))
    log(f"{row.name}: {row.solved}/{row.attempts} with {row.combination}")


def write_text(path: Path, text: str) -> None:
    """Write atomically: no half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    artifacts.write_bytes(path, text.encode())


def _cells(row: dict[str, Any]) -> list[str]:
    if row["status"] != "ran":
        return [row["name"], row["status"], "", "", "", "", "", row["note"]]
    low, high = row["interval_95"]
    per_success = row["cpu_s_per_success"]
    failed = row["attempts"] - row["solved"]
    return [
        row["name"],
        f"{row['solve_rate']:.1%}",
        f"{low:.1%}-{high:.1%}",
        f"{row['solved']}/{row['attempts']}",
        f"{row['cpu_s_per_attempt']:.4f}",
        "-" if per_success is None else f"{per_success:.4f}",
        f"{row.get('trapped', 0)}/{failed}",
        row["combination"],
    ]


HEADER = [
    "attacker",
    "solved",
    "95% (Wilson)",
    "count",
    "CPU-s/attempt",
    "CPU-s/success",
    "trapped/failed",
    "best combination",
]
NAME_COLUMNS = (0, len(HEADER) - 1)  # left-aligned


def format_table(report: dict[str, Any]) -> str:
    """The report as one plain-text table, then the learning curve."""
    body = [HEADER, *(_cells(r) for r in report["rows"])]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER))]
    lines = [
        f"{report['test_challenges']} test challenges, PNG as served, answered "
        f"through GanCaptchaField; combinations chosen on "
        f"{report['calibration_challenges']} other labelled challenges"
    ]
    for line in body:
        lines.append(
            "  ".join(
                cell.ljust(w) if i in NAME_COLUMNS else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    lines.append(f"random guess: {report['random_guess_rate']:.2%}")
    lines.append(_trap_line(report))
    half = report["labels_for_half"]
    lines.append(
        "labels that buy half the challenges: "
        + (f"{half}" if half is not None else "not reached in the labels tried")
    )
    return "\n".join(lines)


def per_client(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """What one client address gets per minute under the site's ``fail`` rate:
    attempts until its failures (each trapped one costing 1 +
    GANCAPTCHA_TRAP_PENALTY) use the rate up, and the challenges it solves,
    with the trap and without it. None when failures are not limited."""
    from gancaptcha_field import ratelimit
    from gancaptcha_field.conf import conf

    try:
        rate = ratelimit.rate_for(ratelimit.FAIL)
    except ValueError:
        return None
    if rate is None or rate.count == 0:
        return None
    per_minute = rate.count * 60 / rate.period
    penalty = conf.TRAP_PENALTY
    out: dict[str, Any] = {"fail_per_minute": per_minute, "penalty": penalty}
    for row in rows:
        if row["status"] != "ran" or not row["attempts"]:
            continue
        n = row["attempts"]
        solved, trapped = row["solved"] / n, row["trapped"] / n
        failed = 1 - solved
        costs = {"trap": failed + penalty * trapped, "no_trap": failed}
        out[row["name"]] = {
            f"solves_{name}": (per_minute / cost * solved if cost else None)
            for name, cost in costs.items()
        }
    return out


def slip_springs(answers: Sequence[str], baits: Sequence[tuple[str, ...]]) -> float:
    """The share of two-digit slips that spring the trap: each answer with
    each two places typed as any wrong digits, equally likely (a person's
    typos, not a person who misreads as the classifiers did: the panel
    measures that). A one-digit slip never springs it."""
    from gancaptcha_field.challenges import springs

    sprung = total = 0
    for answer, found in zip(answers, baits, strict=True):
        for first, second in itertools.combinations(range(len(answer)), 2):
            for a, b in itertools.product("0123456789", repeat=2):
                if a == answer[first] or b == answer[second]:
                    continue
                slip = list(answer)
                slip[first], slip[second] = a, b
                sprung += springs("".join(slip), answer, found)
                total += 1
    return sprung / total if total else 0.0


def _trap_line(report: dict[str, Any]) -> str:
    baited = report.get("baited", 0.0)
    if not baited:
        return "trap: off (GANCAPTCHA_TRAP), or no challenge baited"
    return (
        f"trap: {baited:.0%} of the test challenges baited; trapped/failed "
        "counts wrong answers that repeated two misread digits of a bait; a "
        f"two-digit slip springs it {report.get('slip_springs', 0.0):.2%} of the time"
    )


def _per_client_lines(report: dict[str, Any]) -> list[str]:
    """Markdown: solves per client address per minute, with the trap and without."""
    limits = report.get("per_client")
    if not limits or not report.get("baited"):
        return []
    lines = [
        "",
        f"Per client address, at the fail rate of {limits['fail_per_minute']:g} a "
        f"minute, a trapped answer counting {1 + limits['penalty']}:",
        "",
        "| attacker | solved per minute, trap on | trap off |",
        "|---|---|---|",
    ]
    for row in report["rows"]:
        got = limits.get(row["name"])
        if got is None:
            continue
        cells = [
            "-" if got[k] is None else f"{got[k]:.1f}"
            for k in ("solves_trap", "solves_no_trap")
        ]
        lines.append(f"| {row['name']} | {cells[0]} | {cells[1]} |")
    return lines


def format_markdown(report: dict[str, Any]) -> str:
    """The same table in Markdown."""
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in report["rows"]]
    half = report["labels_for_half"]
    lines.append("")
    lines.append(_trap_line(report))
    lines += _per_client_lines(report)
    lines.append("")
    lines.append(
        f"{report['test_challenges']} test challenges; random guess "
        f"{report['random_guess_rate']:.2%}; labels that buy half the challenges: "
        + (f"{half}" if half is not None else "not reached in the labels tried")
    )
    return "\n".join(lines) + "\n"
