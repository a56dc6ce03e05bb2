"""Disentanglement metrics on dSprites.

Each is called as ``metric(representation_fn, data, *, seed, ...)`` and returns
a dict of floats. ``representation_fn`` maps float32 images (N, 64, 64, 1) to
codes (N, D) (for a VAE, the encoder mean); ``data`` is the ground-truth
simulator, :class:`vaejax.data.GroundTruth`. Sizes default to those of
disentanglement_lib (Locatello et al. 2019), so numbers compare with the
literature. The factors are those that vary (shape, scale, orientation,
posX, posY); wrap ``representation_fn`` in
:class:`vaejax.evaluation.codes.MemoizedRepresentation` to encode each grid
image once across metrics.
"""

from __future__ import annotations

import numpy as np
from sklearn import ensemble, linear_model, metrics as skmetrics, preprocessing, svm

from vaejax.evaluation.codes import encode


def _sample(representation_fn, data, num: int, rng: np.random.Generator):
    """Random factor classes of the varying factors (num, K) and their codes (num, D)."""
    classes = data.sample_factors(num, rng)
    return classes[:, list(data.varying_factors)], encode(representation_fn, data, classes)


# --- Higgins et al. 2017 -------------------------------------------------------

def higgins_features(representation_fn, data, num_points: int, rng: np.random.Generator, *,
                     batch_size: int = 64):
    """Training points of the beta-VAE metric.

    For each point: a factor k drawn uniformly among the varying ones, L
    pairs of factor vectors sharing factor k, the mean over pairs of
    |z1 - z2|. Returns features (num_points, D) and labels (num_points,)
    (indices into ``data.varying_factors``).
    """
    varying = np.asarray(data.varying_factors)
    labels = rng.integers(len(varying), size=num_points)
    first = data.sample_factors(num_points * batch_size, rng)
    second = data.sample_factors(num_points * batch_size, rng)
    fixed = np.repeat(varying[labels], batch_size)
    rows = np.arange(len(second))
    second[rows, fixed] = first[rows, fixed]
    z1 = encode(representation_fn, data, first)
    z2 = encode(representation_fn, data, second)
    features = np.abs(z1 - z2).reshape(num_points, batch_size, -1).mean(axis=1)
    return features, labels


def higgins_metric(representation_fn, data, *, seed: int, num_train: int = 10_000,
                   num_eval: int = 5_000, batch_size: int = 64,
                   standardize: bool = False) -> dict:
    """The beta-VAE disentanglement metric (Higgins et al. 2017).

    A logistic regression (L2, C = 1, lbfgs run to convergence: up to 2,000
    iterations, where disentanglement_lib stops at scikit-learn's 100)
    predicts the fixed factor from the mean absolute code difference, on
    unscaled features by default. ``standardize=True`` scales them to zero
    mean and unit variance first. Measured against the paper's column
    (README, "The Higgins metric's classifier"), the unscaled default came
    closer overall; standardising lifts the untrained encoder (55.8 % against
    the paper's 44.1 %).

    Returns:
      ``train_accuracy``, ``eval_accuracy``.
    """
    rng = np.random.default_rng(seed)
    x_train, y_train = higgins_features(representation_fn, data, num_train, rng,
                                        batch_size=batch_size)
    x_eval, y_eval = higgins_features(representation_fn, data, num_eval, rng,
                                      batch_size=batch_size)
    if standardize:
        scaler = preprocessing.StandardScaler().fit(x_train)
        x_train, x_eval = scaler.transform(x_train), scaler.transform(x_eval)
    model = linear_model.LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(x_train, y_train)
    return dict(train_accuracy=float(model.score(x_train, y_train)),
                eval_accuracy=float(model.score(x_eval, y_eval)))


# --- FactorVAE (Kim & Mnih 2018) ----------------------------------------------

def factor_vae_votes(representation_fn, data, num_votes: int, rng, *, scale: np.ndarray,
                     active: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Vote counts (D, K): how often the dimension of least normalised variance,
    among the active ones, coincided with each fixed factor."""
    varying = np.asarray(data.varying_factors)
    labels = rng.integers(len(varying), size=num_votes)
    classes = np.concatenate([data.sample_factors(batch_size, rng, fixed_factor=int(varying[k]))
                              for k in labels])
    codes = encode(representation_fn, data, classes).reshape(num_votes, batch_size, -1)
    variances = np.var(codes / scale, axis=1, ddof=1)[:, active]
    dims = np.nonzero(active)[0][np.argmin(variances, axis=1)]
    votes = np.zeros((codes.shape[2], len(varying)), np.int64)
    np.add.at(votes, (dims, labels), 1)
    return votes


def factor_vae_metric(representation_fn, data, *, seed: int, num_train: int = 10_000,
                      num_eval: int = 5_000, num_variance_estimate: int = 10_000,
                      batch_size: int = 64, prune_threshold: float = 0.05) -> dict:
    """The FactorVAE metric: a majority-vote classifier from a code dimension to a factor.

    Codes are divided by their standard deviation over
    ``num_variance_estimate`` random images; dimensions with a standard
    deviation below ``prune_threshold`` are dropped (as disentanglement_lib).

    Returns:
      ``train_accuracy``, ``eval_accuracy``, ``num_active_dims``.
    """
    rng = np.random.default_rng(seed)
    _, codes = _sample(representation_fn, data, num_variance_estimate, rng)
    scale = np.std(codes, axis=0, ddof=1)
    active = scale >= prune_threshold
    if not active.any():
        return dict(train_accuracy=0.0, eval_accuracy=0.0, num_active_dims=0.0)
    scale = np.where(active, scale, 1.0)
    train = factor_vae_votes(representation_fn, data, num_train, rng, scale=scale,
                             active=active, batch_size=batch_size)
    evals = factor_vae_votes(representation_fn, data, num_eval, rng, scale=scale,
                             active=active, batch_size=batch_size)
    classifier = np.argmax(train, axis=1)
    rows = np.arange(len(classifier))
    return dict(train_accuracy=float(train[rows, classifier].sum() / train.sum()),
                eval_accuracy=float(evals[rows, classifier].sum() / evals.sum()),
                num_active_dims=float(active.sum()))


# --- information-based -----------------------------------------------------------

def discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Each code column into ``num_bins`` equal-width bins over its range: (N, D) int."""
    out = np.zeros(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], num_bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def mutual_information(discrete_codes: np.ndarray, factor_classes: np.ndarray) -> np.ndarray:
    """MI in nats between each code column and each factor column: (D, K)."""
    return np.array([[skmetrics.mutual_info_score(factor_classes[:, k], discrete_codes[:, j])
                      for k in range(factor_classes.shape[1])]
                     for j in range(discrete_codes.shape[1])])


def discrete_entropy(factor_classes: np.ndarray) -> np.ndarray:
    """Entropy in nats of each column: (K,)."""
    return np.array([skmetrics.mutual_info_score(col, col) for col in factor_classes.T])


def normalized_mutual_information(codes: np.ndarray, factor_classes: np.ndarray, *,
                                  num_bins: int = 20) -> np.ndarray:
    """MI between each code column (binned as :func:`discretize`) and each factor,
    over the factor's entropy: (D, K), 1 where a latent determines a factor."""
    mi = mutual_information(discretize(codes, num_bins), factor_classes)
    return mi / discrete_entropy(factor_classes)[None]


def mig(representation_fn, data, *, seed: int, num_train: int = 10_000,
        num_bins: int = 20) -> dict:
    """Mutual Information Gap (Chen et al. 2018): per factor, the gap between
    the two code dimensions most informative about it, over its entropy;
    averaged over factors. Returns ``mig``."""
    rng = np.random.default_rng(seed)
    classes, codes = _sample(representation_fn, data, num_train, rng)
    nmi = normalized_mutual_information(codes, classes, num_bins=num_bins)
    return dict(mig=float(np.mean(_top_two_gap(nmi))))


def latent_factor_table(representation_fn, data, *, seed: int, num_points: int = 10_000,
                        num_bins: int = 20) -> dict:
    """Which factor each latent captures: normalised MI (see
    :func:`normalized_mutual_information`) of every latent with every varying
    factor on ``num_points`` random images.

    Returns ``factors`` (K names), ``nmi`` (D lists of K floats) and
    ``best_factor`` (per latent, the factor with the largest NMI).
    """
    rng = np.random.default_rng(seed)
    classes, codes = _sample(representation_fn, data, num_points, rng)
    nmi = normalized_mutual_information(codes, classes, num_bins=num_bins)
    names = [data.factor_names[k] for k in data.varying_factors]
    return dict(factors=names, nmi=nmi.round(4).tolist(),
                best_factor=[names[k] for k in np.argmax(nmi, axis=1)])


def _top_two_gap(scores: np.ndarray) -> np.ndarray:
    """Per column of (D, K) scores, the best minus the second best over rows: (K,)."""
    top = np.sort(scores, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    return top[0] - second


def modularity_explicitness(representation_fn, data, *, seed: int, num_train: int = 10_000,
                            num_test: int = 5_000, num_bins: int = 20) -> dict:
    """Modularity and explicitness (Ridgeway & Mozer 2018), as disentanglement_lib.

    Modularity: each code dimension should carry information (20-bin
    histogram MI) about one factor only. Explicitness: mean ROC AUC of a
    one-vs-rest logistic regression predicting each factor from the code.

    Returns ``modularity``, ``explicitness_train``, ``explicitness_test``.
    """
    rng = np.random.default_rng(seed)
    y_train, z_train = _sample(representation_fn, data, num_train, rng)
    y_test, z_test = _sample(representation_fn, data, num_test, rng)
    mi = mutual_information(discretize(z_train, num_bins), y_train)
    return dict(modularity=modularity(mi),
                **_explicitness(z_train, y_train, z_test, y_test, seed))


def modularity(mi: np.ndarray) -> float:
    """Modularity of a (D, K) MI matrix; dimensions with no information score 0."""
    squared = mi ** 2
    best = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (squared.sum(axis=1) - best) / (best * (mi.shape[1] - 1))
    score = np.where(best > 0, 1.0 - delta, 0.0)
    return float(score.mean())


def _explicitness(z_train, y_train, z_test, y_test, seed) -> dict:
    train, test = [], []
    for k in range(y_train.shape[1]):
        model = linear_model.LogisticRegression(max_iter=1000, random_state=seed)
        model.fit(z_train, y_train[:, k])
        for z, y, out in ((z_train, y_train, train), (z_test, y_test, test)):
            onehot = preprocessing.label_binarize(y[:, k], classes=model.classes_)
            if onehot.shape[1] == 1:  # two classes
                onehot = np.hstack([1 - onehot, onehot])
            proba = model.predict_proba(z)
            present = onehot.any(axis=0) & ~onehot.all(axis=0)
            out.append(skmetrics.roc_auc_score(onehot[:, present], proba[:, present],
                                               average="macro"))
    return dict(explicitness_train=float(np.mean(train)), explicitness_test=float(np.mean(test)))


# --- predictor-based ----------------------------------------------------------------

DCI_TREES = ("sklearn", "lightgbm")


def _fit_gbt(trees: str, seed: int, z_train, y_train, z_test, y_test):
    """(normalised feature importances (D,), train accuracy, test accuracy)."""
    if trees == "sklearn":
        model = ensemble.GradientBoostingClassifier(random_state=seed)
        model.fit(z_train, y_train)
        importance = model.feature_importances_
    else:
        import lightgbm  # pylint: disable=import-outside-toplevel

        # scikit-learn's tree shape and schedule: 100 stages, depth 3, rate 0.1.
        model = lightgbm.LGBMClassifier(n_estimators=100, learning_rate=0.1, max_depth=3,
                                        num_leaves=8, min_child_samples=1,
                                        importance_type="gain", random_state=seed,
                                        n_jobs=1, verbose=-1)
        model.fit(z_train, y_train)
        gain = model.booster_.feature_importance("gain")
        importance = gain / gain.sum() if gain.sum() > 0 else gain
    return importance, model.score(z_train, y_train), model.score(z_test, y_test)


def dci(representation_fn, data, *, seed: int, num_train: int = 10_000,
        num_test: int = 5_000, n_jobs: int | None = -1, trees: str = "sklearn") -> dict:
    """Disentanglement, completeness, informativeness (Eastwood & Williams 2018).

    Importance of code dimension i for factor k: the feature importance of a
    gradient-boosted tree classifier predicting factor k from the code.
    ``trees="sklearn"``: scikit-learn's ``GradientBoostingClassifier`` with
    its defaults, as disentanglement_lib (exact splits; 11,300 trees at the
    standard sizes, minutes on a 2-core CPU). ``"lightgbm"`` (``pip install
    lightgbm``): the same tree shape and schedule with histogram splits and
    each factor's total split gain normalised to sum to 1; tens of times
    faster, close to but not the same numbers as the reference.

    The per-factor fits run in ``n_jobs`` threads (-1: one per core; the
    tree builders release the GIL).

    Returns ``disentanglement``, ``completeness``, ``informativeness_train``,
    ``informativeness_test``.
    """
    if trees not in DCI_TREES:
        raise ValueError(f"trees must be one of {DCI_TREES}, got {trees!r}")
    rng = np.random.default_rng(seed)
    y_train, z_train = _sample(representation_fn, data, num_train, rng)
    y_test, z_test = _sample(representation_fn, data, num_test, rng)
    from joblib import Parallel, delayed  # pylint: disable=import-outside-toplevel

    def fit(k):
        return _fit_gbt(trees, seed, z_train, y_train[:, k], z_test, y_test[:, k])

    # Largest first (orientation: 40 classes, 40 trees a stage) balances the threads.
    order = np.argsort([-len(np.unique(y_train[:, k])) for k in range(y_train.shape[1])])
    fitted = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(fit)(k) for k in order)
    results = [fitted[i] for i in np.argsort(order)]
    importance = np.stack([r[0] for r in results], axis=1)  # (D, K)
    return dict(disentanglement=dci_disentanglement(importance),
                completeness=dci_completeness(importance),
                informativeness_train=float(np.mean([r[1] for r in results])),
                informativeness_test=float(np.mean([r[2] for r in results])))


def _normalized_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of non-negative weights, in log-base ``base``."""
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def dci_disentanglement(importance: np.ndarray) -> float:
    """Weighted mean over code dimensions of 1 - entropy of their factor importances."""
    per_code = 1.0 - _normalized_entropy(importance, importance.shape[1])
    total = importance.sum()
    if total == 0:
        return 0.0
    return float(np.sum(per_code * importance.sum(axis=1) / total))


def dci_completeness(importance: np.ndarray) -> float:
    """Weighted mean over factors of 1 - entropy of their code importances
    (the disentanglement of the transposed matrix)."""
    return dci_disentanglement(importance.T)


def sap(representation_fn, data, *, seed: int, num_train: int = 10_000,
        num_test: int = 5_000, svm_c: float = 0.01) -> dict:
    """Separated Attribute Predictability (Kumar et al. 2018), as disentanglement_lib:
    score (i, k) is the test accuracy of a linear SVM (C = 0.01) predicting
    factor k from code dimension i; SAP is the mean over factors of the gap
    between the two best dimensions. Returns ``sap``."""
    rng = np.random.default_rng(seed)
    y_train, z_train = _sample(representation_fn, data, num_train, rng)
    y_test, z_test = _sample(representation_fn, data, num_test, rng)
    scores = sap_scores(z_train, y_train, z_test, y_test, svm_c=svm_c, seed=seed)
    return dict(sap=sap_from_scores(scores))


def sap_scores(z_train, y_train, z_test, y_test, *, svm_c: float = 0.01,
               seed: int = 0) -> np.ndarray:
    """(D, K) test accuracies of a linear SVM predicting each factor from each
    single code dimension. z: (N, D) codes, y: (N, K) integer factors."""
    scores = np.zeros((z_train.shape[1], y_train.shape[1]))
    for i in range(z_train.shape[1]):
        for k in range(y_train.shape[1]):
            if np.ptp(z_train[:, i]) == 0:
                continue  # a constant dimension predicts nothing
            model = svm.LinearSVC(C=svm_c, random_state=seed)
            model.fit(z_train[:, i:i + 1], y_train[:, k])
            scores[i, k] = model.score(z_test[:, i:i + 1], y_test[:, k])
    return scores


def sap_from_scores(scores: np.ndarray) -> float:
    """Mean over factors of (best - second best) score over code dimensions; (D, K) -> float."""
    return float(np.mean(_top_two_gap(scores)))


ALL_METRICS = dict(higgins=higgins_metric, factor_vae=factor_vae_metric, mig=mig, dci=dci,
                   sap=sap, modularity_explicitness=modularity_explicitness)
