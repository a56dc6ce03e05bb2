"""Unsupervised Disentanglement Ranking (UDR; Duan et al., ICLR 2020).

Ranks models of one setting (seeds) with no labels: disentangled models are
alike up to a permutation and sign flips of their latents ("happy families
are all alike"), entangled ones each differ in their own way. For every
ordered pair of models (i, j), on the same images:

* ``R[a, b]``: how strongly latent ``a`` of model i goes with latent ``b`` of
  model j: the absolute Spearman rank correlation of their posterior means
  (``"spearman"``), or the absolute weight of ``a`` in a Lasso regression
  (alpha 0.1) of ``b`` on model i's standardised means (``"lasso"``), as
  disentanglement_lib's ``evaluation/udr/metrics/udr.py`` computes them.
* Only informative latents count (mean KL from the prior over the images
  > 0.01 nats); with ``d_i``, ``d_j`` informative latents,

      UDR_ij = (sum_b r_b^2 / sum_a R[a, b] + sum_a r_a^2 / sum_b R[a, b]) / (d_i + d_j)

  over informative a and b, ``r_b = max_a R[a, b]``, ``r_a = max_b R[a, b]``
  (the paper's Eq. 3); a column or row of zeros adds 0. A latent that goes
  with one latent of the other model alone, with strength r, adds r, so two
  codes that are the same factors permuted and sign-flipped score ~1 under
  Spearman (less the chance correlations, ~1 / sqrt(N) each) and 1 - alpha
  = 0.9 under the Lasso (its shrinkage of a unit weight), and a pair with
  different numbers of informative latents scores less: 3 latents of i
  matched one-to-one by 3 of j's 5, j's other 2 unrelated, give 6 / 8 of that.
* Model i's score is the median of ``UDR_ji`` over the other models j.

disentanglement_lib averages the two sums' means ((mean_b + mean_a) / 2)
instead of dividing both by ``d_i + d_j``: the same when ``d_i == d_j``, a
little kinder to a mismatch otherwise (0.8 for the 3-against-5 case above).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import linear_model, preprocessing

METHODS = ("lasso", "spearman")
KL_THRESHOLD = 0.01  # nats: a latent with less mean KL is uninformative
LASSO_ALPHA = 0.1


def spearman_similarity(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    """|Spearman correlation| of each latent of ``codes_a`` (N, Da) with each of
    ``codes_b`` (N, Db): (Da, Db). A constant latent correlates 0 with all."""
    _check_pair(codes_a, codes_b)
    ranks_a = stats.rankdata(codes_a, axis=0)
    ranks_b = stats.rankdata(codes_b, axis=0)
    ranks_a = ranks_a - ranks_a.mean(0)
    ranks_b = ranks_b - ranks_b.mean(0)
    norm_a = np.linalg.norm(ranks_a, axis=0)
    norm_b = np.linalg.norm(ranks_b, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (ranks_a.T @ ranks_b) / np.outer(norm_a, norm_b)
    return np.nan_to_num(np.abs(corr), nan=0.0, posinf=0.0)


def lasso_similarity(codes_a: np.ndarray, codes_b: np.ndarray, *,
                     alpha: float = LASSO_ALPHA, seed: int = 0) -> np.ndarray:
    """|weights| of a Lasso regression of ``codes_b`` (N, Db) on ``codes_a``
    (N, Da), both standardised: (Da, Db), entry [a, b] the weight of latent a
    in predicting latent b."""
    _check_pair(codes_a, codes_b)
    x = preprocessing.StandardScaler().fit_transform(codes_a)
    y = preprocessing.StandardScaler().fit_transform(codes_b)
    model = linear_model.Lasso(alpha=alpha, random_state=seed).fit(x, y)
    return np.abs(np.atleast_2d(model.coef_)).T


def pair_score(similarity: np.ndarray, informative_a: np.ndarray,
               informative_b: np.ndarray) -> float:
    """UDR_ij (the paper's Eq. 3) of a (Da, Db) similarity matrix, counting only
    the informative latents (boolean masks (Da,), (Db,)). 0 when either model
    has no informative latent."""
    r = np.asarray(similarity, np.float64)[np.asarray(informative_a)][:, np.asarray(informative_b)]
    d_a, d_b = r.shape
    if d_a == 0 or d_b == 0:
        return 0.0

    def strengths(m):  # r_max^2 / sum per row; a row of zeros gives 0
        total = m.sum(axis=1)
        return np.divide(m.max(axis=1) ** 2, total, out=np.zeros_like(total), where=total > 0)

    return float((strengths(r.T).sum() + strengths(r).sum()) / (d_a + d_b))


def udr(codes: list[np.ndarray], kl: list[np.ndarray], *, method: str = "lasso",
        kl_threshold: float = KL_THRESHOLD, seed: int = 0) -> dict:
    """UDR of M >= 2 models of one setting.

    ``codes``: per model its posterior means on the same N images, (N, D_m);
    ``kl``: per model the mean KL of each latent from the prior over those
    images, (D_m,) nats.

    Returns ``scores`` (M,): model i's UDR, the median of ``pairwise[j, i]``
    over j != i; ``pairwise`` (M, M): ``UDR_ij`` with model i's latents as
    the similarity's rows (the Lasso regresses j's latents on i's), the
    diagonal NaN; ``informative`` (M,): informative latents per model;
    ``best``: the index of the highest score; ``method``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(codes) < 2 or len(codes) != len(kl):
        raise ValueError(f"UDR needs codes and KL of at least 2 models, got {len(codes)} "
                         f"codes and {len(kl)} KL vectors")
    codes = [np.asarray(c, np.float64) for c in codes]
    masks = [np.asarray(k) > kl_threshold for k in kl]
    for c, m in zip(codes, masks):
        if c.ndim != 2 or c.shape[1] != len(m):
            raise ValueError(f"codes of shape {c.shape} do not match {len(m)} KL values")
    m = len(codes)
    pairwise = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(m):
            if i == j:
                continue
            if method == "lasso":
                # uninformative latents neither predict nor are predicted
                sim = lasso_similarity(codes[i] * masks[i], codes[j] * masks[j], seed=seed)
            else:
                sim = spearman_similarity(codes[i], codes[j])
            pairwise[i, j] = pair_score(sim, masks[i], masks[j])
    scores = np.array([np.median(np.delete(pairwise[:, i], i)) for i in range(m)])
    return dict(method=method, scores=scores.tolist(), pairwise=pairwise.tolist(),
                informative=[int(k.sum()) for k in masks], best=int(np.argmax(scores)))


# supervised scores UDR is compared with: name -> (metric, field) of metrics.json
SUPERVISED = {"factor_vae": ("factor_vae", "eval_accuracy"), "mig": ("mig", "mig"),
              "dci": ("dci", "disentanglement")}


def compare(scores: dict, chosen: int, reports: list[dict]) -> dict | None:
    """How a UDR ranking agrees with supervised metrics, over the same M models.

    ``scores``: method -> M UDR scores; ``chosen``: the picked model; ``reports``:
    per model its metrics (``metrics.json``'s ``metrics``). Per supervised
    metric every model has: its ``values``, the Spearman rank correlation with
    each method's scores (``spearman_<method>``), the chosen model's score,
    the models' ``mean`` (what a pick at random scores on average) and
    ``gain`` = chosen - mean. None when no metric is there for every model."""
    out = {}
    for name, (metric, field) in SUPERVISED.items():
        if not all(field in r.get(metric, {}) for r in reports):
            continue
        values = np.array([r[metric][field] for r in reports], np.float64)
        entry = dict(values=values.tolist())
        for method, method_scores in scores.items():
            rho = stats.spearmanr(method_scores, values).statistic
            entry[f"spearman_{method}"] = float(rho) if np.isfinite(rho) else 0.0
        entry.update(chosen=float(values[chosen]), mean=float(values.mean()))
        entry["gain"] = entry["chosen"] - entry["mean"]
        out[name] = entry
    return out or None


def compare_settings(settings: list[tuple[dict, list[dict]]]) -> dict | None:
    """UDR computed within each setting (the paper's UDR: each seed compared with
    the seeds of its own hyperparameters), judged over all settings' models.

    ``settings``: per setting its ``(scores, reports)`` as :func:`compare` takes
    them. Returns ``pooled``: :func:`compare` over every model of every setting
    (the Spearman correlations across all of them; ``chosen`` the model of
    highest Lasso UDR overall), and ``within``: per supervised metric each
    setting's gain from keeping its top-UDR seed rather than one at random
    (``gains``) and their ``mean_gain``. None when a model lacks the metrics."""
    scores = {method: [v for s, _ in settings for v in s[method]] for method in METHODS}
    reports = [r for _, rs in settings for r in rs]
    pooled = compare(scores, int(np.argmax(scores["lasso"])), reports)
    per_setting = [compare(s, int(np.argmax(s["lasso"])), rs) for s, rs in settings]
    if pooled is None or any(c is None for c in per_setting):
        return None
    within = {}
    for name in pooled:
        gains = [c[name]["gain"] for c in per_setting]
        within[name] = dict(gains=gains, mean_gain=float(np.mean(gains)))
    return dict(pooled=pooled, within=within)


def _check_pair(codes_a: np.ndarray, codes_b: np.ndarray) -> None:
    if codes_a.ndim != 2 or codes_b.ndim != 2 or len(codes_a) != len(codes_b):
        raise ValueError(f"codes must be (N, D) on the same N images, got shapes "
                         f"{codes_a.shape} and {codes_b.shape}")
