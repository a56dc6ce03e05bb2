"""The protocol study's readings: each changes what the classifier can fit."""

import numpy as np

from experiments import protocol_study


def _features(scale, seed=0, n=2_000):
    """Four classes, each raising one of four feature means: (train, eval) halves."""
    rng = np.random.default_rng(seed)
    y = rng.integers(4, size=n)
    x = rng.normal(size=(n, 4)) * 0.3 + np.eye(4)[y]
    x = (x * scale).astype(np.float32)
    return x[: n // 2], y[: n // 2], x[n // 2:], y[n // 2:]


def test_readings_cover_every_classifier_size_and_scaling():
    got = protocol_study.readings([100, 0], [500, 2000])
    assert len(got) == 3 * 2 * 2
    assert ("adagrad_100", 500, "unscaled") in got
    assert ("adagrad_converged", 2000, "standardised") in got
    assert ("sklearn", 500, "standardised") in got


def test_a_short_adagrad_fit_on_small_features_underfits_and_scaling_repairs_it():
    small = _features(1e-3)
    short = protocol_study.score(small, ("adagrad_100", 1000, "unscaled"), seed=0)
    scaled = protocol_study.score(small, ("adagrad_100", 1000, "standardised"), seed=0)
    reference = protocol_study.score(small, ("sklearn", 1000, "standardised"), seed=0)
    assert reference > 95.0
    assert scaled > 90.0
    assert short < 60.0  # weights move ~lr per step: 100 steps cannot reach the scale needed
    # Fewer training points use the first rows only, and still score.
    assert protocol_study.score(_features(1.0), ("sklearn", 100, "unscaled"), seed=0) > 90.0
