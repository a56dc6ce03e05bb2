"""UDR (vaejax.evaluation.udr) on codes with known answers."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from experiments.base import load as load_config
from vaejax import train
from vaejax.evaluation import udr

ROOT = Path(__file__).resolve().parents[1]

N = 20_000


def _factors(rng, k):
    return rng.uniform(-1.5, 1.5, size=(N, k))


def _permuted(rng, factors, extra_off=0):
    """The factors permuted and sign-flipped, scaled, with ``extra_off``
    uninformative latents of tiny noise appended."""
    k = factors.shape[1]
    perm = rng.permutation(k)
    signs = rng.choice([-1.0, 1.0], size=k)
    code = factors[:, perm] * signs * rng.uniform(0.5, 3.0, size=k)
    code = code + 0.01 * rng.normal(size=code.shape)
    off = 0.001 * rng.normal(size=(N, extra_off))
    kl = np.concatenate([np.full(k, 2.0), np.full(extra_off, 0.001)])
    return np.concatenate([code, off], axis=1), kl


def test_spearman_similarity_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 3))
    b[:, 0] = np.exp(a[:, 2]) + 0.1 * b[:, 0]
    expected = np.abs(stats.spearmanr(a, b).statistic[:4, 4:])
    np.testing.assert_allclose(udr.spearman_similarity(a, b), expected, atol=1e-12)


def test_pair_score_closed_forms():
    on = np.ones(3, bool)
    assert udr.pair_score(np.eye(3)[[2, 0, 1]], on, on) == pytest.approx(1.0)
    # every latent equally tied to every other: each term 1/3
    assert udr.pair_score(np.ones((3, 3)), on, on) == pytest.approx(1 / 3)
    # 3 of 5 matched one-to-one, the other 2 unrelated: (3 + 3) / (3 + 5)
    sim = np.zeros((3, 5))
    sim[[0, 1, 2], [4, 0, 2]] = 1.0
    assert udr.pair_score(sim, on, np.ones(5, bool)) == pytest.approx(6 / 8)
    # a one-to-one match of strength r scores r (the relative strength r^2 / r)
    assert udr.pair_score(0.9 * np.eye(3), on, on) == pytest.approx(0.9)
    # uninformative latents do not count, whatever their similarity
    sim = np.eye(4)
    sim[3] = 1.0
    # (B's latent 3 then matches nothing: 0 of a possible 1)
    assert udr.pair_score(sim, np.array([1, 1, 1, 0], bool), np.ones(4, bool)) \
        == pytest.approx((3 + 3) / (3 + 4))
    assert udr.pair_score(np.eye(3), np.zeros(3, bool), on) == 0.0


# A perfect match scores 1 - alpha under the Lasso (its shrinkage of a unit
# correlation on standardised codes), and 1 less the chance correlations
# (~1 / sqrt(N) each) under Spearman.
PERFECT = dict(lasso=(1 - udr.LASSO_ALPHA, 0.01), spearman=(0.98, 0.02))


@pytest.mark.parametrize("method", udr.METHODS)
def test_permuted_and_flipped_codes_score_one(method):
    rng = np.random.default_rng(1)
    factors = _factors(rng, 5)
    models = [_permuted(rng, factors, extra_off=5) for _ in range(4)]
    out = udr.udr([c for c, _ in models], [k for _, k in models], method=method)
    assert out["informative"] == [5, 5, 5, 5]
    np.testing.assert_allclose(out["scores"], PERFECT[method][0], atol=PERFECT[method][1])


@pytest.mark.parametrize("method", udr.METHODS)
def test_rotated_codes_score_low(method):
    rng = np.random.default_rng(2)
    factors = _factors(rng, 5)
    aligned = _permuted(rng, factors)
    codes, kls = [aligned[0]], [aligned[1]]
    for _ in range(3):
        q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        codes.append(factors @ q)
        kls.append(np.full(5, 2.0))
    out = udr.udr(codes, kls, method=method)
    assert max(out["scores"]) < 0.5
    # the same models, all aligned, score far higher
    models = [_permuted(rng, factors) for _ in range(4)]
    aligned_out = udr.udr([c for c, _ in models], [k for _, k in models], method=method)
    assert min(aligned_out["scores"]) > max(out["scores"]) + 0.3


@pytest.mark.parametrize("method", udr.METHODS)
def test_different_numbers_of_informative_latents(method):
    """3 shared factors; model B also encodes 2 factors A does not: the paper's
    normalisation gives (3 + 3) / (3 + 5) for the pair."""
    rng = np.random.default_rng(3)
    shared, other = _factors(rng, 3), _factors(rng, 2)
    code_a, kl_a = _permuted(rng, shared, extra_off=2)
    code_b, kl_b = _permuted(rng, np.concatenate([shared, other], axis=1))
    out = udr.udr([code_a, code_b], [kl_a, kl_b], method=method)
    assert out["informative"] == [3, 5]
    pairwise = np.array(out["pairwise"])
    perfect, tol = PERFECT[method]
    np.testing.assert_allclose(pairwise[0, 1], perfect * 6 / 8, atol=tol)
    np.testing.assert_allclose(pairwise[1, 0], perfect * 6 / 8, atol=tol)


def test_udr_ranks_the_aligned_models_first():
    rng = np.random.default_rng(4)
    factors = _factors(rng, 4)
    codes, kls = [], []
    for i in range(5):
        code, kl = _permuted(rng, factors)
        if i == 3:  # one entangled seed
            q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
            code = factors @ q
        codes.append(code)
        kls.append(kl)
    out = udr.udr(codes, kls, method="spearman")
    assert int(np.argmin(out["scores"])) == 3
    assert out["best"] != 3
    assert np.isnan(np.diag(np.array(out["pairwise"]))).all()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 models"):
        udr.udr([np.zeros((10, 2))], [np.ones(2)])
    with pytest.raises(ValueError, match="method must be one of"):
        udr.udr([np.zeros((10, 2))] * 2, [np.ones(2)] * 2, method="pearson")
    with pytest.raises(ValueError, match="do not match 3 KL values"):
        udr.udr([np.zeros((10, 2))] * 2, [np.ones(3)] * 2)
    with pytest.raises(ValueError, match="same N images"):
        udr.spearman_similarity(np.zeros((10, 2)), np.zeros((9, 2)))


def test_udr_command_ranks_workdirs(tmp_path):
    for seed in (0, 1, 2):
        config = load_config("beta_vae:smoke", seed=seed, num_steps=20)
        train.train_and_evaluate(config, tmp_path / f"s{seed}", progress=False)
    out = tmp_path / "udr.json"
    cmd = [sys.executable, "-m", "experiments.udr", "--images", "200", "--output", str(out)]
    proc = subprocess.run(cmd + ["--workdirs", f"{tmp_path / 's0'},{tmp_path / 's1'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranking = json.loads(out.read_text())
    assert ranking["models"] == [str(tmp_path / "s0"), str(tmp_path / "s1")]
    assert ranking["chosen"] == int(np.argmax(ranking["scores"]["lasso"]))
    assert all(0.0 <= v <= 1.0 for v in ranking["scores"]["spearman"])
    assert "<- chosen" in proc.stdout
    proc = subprocess.run(cmd + ["--workdirs", str(tmp_path / "s0")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: UDR needs at least 2 models of a setting: give several workdirs, or a run "
        f"of several replicas (got {tmp_path / 's0'})")

    # two settings, each ranked on its own; with metrics, compared pooled
    for seed, mig in ((0, 0.1), (1, 0.3), (2, 0.2)):
        (tmp_path / f"s{seed}" / "eval").mkdir(exist_ok=True)
        (tmp_path / f"s{seed}" / "eval" / "metrics.json").write_text(
            json.dumps(dict(metrics=dict(mig=dict(mig=mig)))))
    settings = [f"{tmp_path / 's0'},{tmp_path / 's1'}", f"{tmp_path / 's1'},{tmp_path / 's2'}"]
    proc = subprocess.run(cmd + ["--settings", settings[0], "--settings", settings[1]],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["models"] for r in result["settings"]] == [s.split(",") for s in settings]
    chosen = [int(np.argmax(r["scores"]["lasso"])) for r in result["settings"]]
    assert [r["chosen"] for r in result["settings"]] == chosen
    assert result["comparison"]["pooled"]["mig"]["values"] == [0.1, 0.3, 0.3, 0.2]
    assert result["comparison"]["within"]["mig"]["gains"] == pytest.approx(
        [[0.1, 0.3][chosen[0]] - 0.2, [0.3, 0.2][chosen[1]] - 0.25])
    assert "keeping each setting's top-UDR seed gains" in proc.stdout


def test_ranking_compared_with_supervised_metrics():
    reports = [dict(factor_vae=dict(eval_accuracy=fvae), mig=dict(mig=mig))
               for fvae, mig in ((0.5, 0.1), (0.9, 0.3), (0.7, 0.35))]
    scores = dict(lasso=[0.1, 0.8, 0.5], spearman=[0.8, 0.1, 0.5])
    out = udr.compare(scores, 1, reports)
    assert set(out) == {"factor_vae", "mig"}  # no DCI in these reports
    assert out["factor_vae"]["spearman_lasso"] == pytest.approx(1.0)
    assert out["factor_vae"]["spearman_spearman"] == pytest.approx(-1.0)
    assert out["mig"]["spearman_lasso"] == pytest.approx(0.5)
    assert out["factor_vae"]["chosen"] == 0.9
    assert out["factor_vae"]["gain"] == pytest.approx(0.9 - 0.7)
    assert udr.compare(scores, 1, [{}, {}, {}]) is None


def test_settings_ranked_apart_and_judged_together():
    mig = lambda v: dict(mig=dict(mig=v))  # noqa: E731
    first = (dict(lasso=[0.2, 0.9], spearman=[0.3, 0.8]), [mig(0.1), mig(0.4)])
    second = (dict(lasso=[0.6, 0.5, 0.4], spearman=[0.6, 0.5, 0.4]),
              [mig(0.2), mig(0.5), mig(0.3)])
    out = udr.compare_settings([first, second])
    pooled = out["pooled"]["mig"]
    assert pooled["values"] == [0.1, 0.4, 0.2, 0.5, 0.3]
    # lasso ranks 0.2 0.9 0.6 0.5 0.4 against mig's 0.1 0.4 0.2 0.5 0.3
    assert pooled["spearman_lasso"] == pytest.approx(
        stats.spearmanr([0.2, 0.9, 0.6, 0.5, 0.4], pooled["values"]).statistic)
    assert pooled["chosen"] == 0.4  # the highest Lasso UDR overall
    assert pooled["mean"] == pytest.approx(0.3)
    # the first setting keeps its seed 1 (+0.15), the second its seed 0 (0.2 - 1/3)
    assert out["within"]["mig"]["gains"] == pytest.approx([0.15, 0.2 - 1.0 / 3.0])
    assert out["within"]["mig"]["mean_gain"] == pytest.approx((0.15 + 0.2 - 1.0 / 3.0) / 2)
    assert udr.compare_settings([first, (second[0], [{}, {}, {}])]) is None
