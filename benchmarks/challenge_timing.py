"""Median in-process cost of one challenge (issue 2's figures).

    .venv/bin/python -m benchmarks.challenge_timing [--count 300]

Creates challenges drawn on the spot (GANCAPTCHA_SOURCE = "draw", the default
before 2026-11-29: digits come from the registry's buckets, refilled by
batched TensorFlow calls), then
fetches each image through Django's test client. Prints medians and PNG sizes.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks import bootstrap


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    # On the spot, no background refill; rate limits are off.
    with bootstrap.django_here(side="ours", name="challenge-timing", POOL_SIZE="0"):
        measure(args.count)


def measure(count: int) -> None:
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from gancaptcha_field import challenges
    from gancaptcha_field.supply import registry

    setup_test_environment()
    reg = registry.get_registry()
    assert reg.load().ok, reg.status().message
    challenges.create_challenge()  # warm-up: first bucket fill
    client = Client()
    create, serve, sizes, sizes_2x = [], [], [], []
    batches_before = reg.inference_batches
    for _ in range(count):
        t0 = time.perf_counter()
        issued = challenges.create_challenge()
        t1 = time.perf_counter()
        response = client.get(reverse("gancaptcha:image", args=[issued.key]))
        t2 = time.perf_counter()
        assert response.status_code == 200
        create.append((t1 - t0) * 1000)
        serve.append((t2 - t1) * 1000)
        sizes.append(len(response.content))
        sizes_2x.append(len(challenges.get_png(issued.key, hidpi=True) or b""))
    print(
        f"challenges: {count}, TensorFlow batches: "
        f"{reg.inference_batches - batches_before}"
    )
    print(
        f"create: median {statistics.median(create):.2f} ms, "
        f"mean {statistics.fmean(create):.2f} ms"
    )
    print(f"serve image: median {statistics.median(serve):.2f} ms")
    print(
        f"PNG bytes: 1x median {statistics.median(sizes):.0f}, "
        f"2x median {statistics.median(sizes_2x):.0f}"
    )


if __name__ == "__main__":
    main()
