"""Disentanglement metrics on any ground-truth dataset.

Each is called as ``metric(representation_fn, data, *, seed, ...)`` and returns
a dict of floats. ``representation_fn`` maps float32 images (N, H, W, C) to
codes (N, D) (for a VAE, the encoder mean); ``data`` is a ground-truth
dataset (:class:`vaejax.data.ground_truth.GroundTruthData`, e.g. dSprites'
:class:`vaejax.data.GroundTruth`). Sizes default to those of
disentanglement_lib (Locatello et al. 2019), so numbers compare with the
literature. The factors are the dataset's scored ones, ``data.varying_factors``
(dSprites: shape, scale, orientation, posX, posY); wrap ``representation_fn`` in
:class:`vaejax.evaluation.codes.MemoizedRepresentation` to encode each grid
image once across metrics.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn import ensemble, linear_model, metrics as skmetrics, preprocessing, svm

from vaejax.evaluation.codes import encode


def sample_codes(representation_fn, data, num: int, rng: np.random.Generator):
    """Random factor classes of the varying factors (num, K) and their codes (num, D)."""
    classes = data.sample_factors(num, rng)
    return classes[:, list(data.varying_factors)], encode(representation_fn, data, classes)



# --- Higgins et al. 2017 -------------------------------------------------------

HIGGINS_PROTOCOLS = ("paper", "dlib")
_ENCODE_BATCH = 2048  # images per representation call (codes.encode's default)
# The classes of each protocol (names of vaejax.data.factors.FACTOR_NAMES): the
# paper's caption lists four independent factors; disentanglement_lib's
# dsprites_full adds shape.
HIGGINS_CLASSES = dict(paper=("scale", "orientation", "posX", "posY"),
                       dlib=("shape", "scale", "orientation", "posX", "posY"))


def higgins_features(representation_fn, data, num_points: int, rng: np.random.Generator, *,
                     batch_size: int = 64, factors=None):
    """Training points of the beta-VAE metric.

    For each point: a factor k drawn uniformly among ``factors`` (column
    indices of the factor classes; default the varying ones), L =
    ``batch_size`` pairs of factor vectors sharing factor k (its value
    drawn per pair), the mean over pairs of |z1 - z2|. Returns features
    (num_points, D) and labels (num_points,) (indices into ``factors``).
    """
    candidates = np.asarray(data.varying_factors if factors is None else factors)
    labels = rng.integers(len(candidates), size=num_points)
    first = data.sample_factors(num_points * batch_size, rng)
    second = data.sample_factors(num_points * batch_size, rng)
    fixed = np.repeat(candidates[labels], batch_size)
    rows = np.arange(len(second))
    second[rows, fixed] = first[rows, fixed]
    if hasattr(representation_fn, "codes_for"):  # memoised: a table look-up
        z1 = encode(representation_fn, data, first)
        z2 = encode(representation_fn, data, second)
        return np.abs(z1 - z2).reshape(num_points, batch_size, -1).mean(axis=1), labels
    # Otherwise a chunk of points at a time, whole encode() batches each (the same
    # calls of representation_fn as for all points at once): wide codes such as raw
    # pixels (4,096-d) would need two (num_points * L, D) arrays, 2 GB each at 2,000 points.
    chunk = int(np.lcm(_ENCODE_BATCH, batch_size))
    features = []
    for start in range(0, len(first), chunk):
        part = slice(start, start + chunk)
        z1 = encode(representation_fn, data, first[part], batch_size=_ENCODE_BATCH)
        z2 = encode(representation_fn, data, second[part], batch_size=_ENCODE_BATCH)
        features.append(np.abs(z1 - z2).reshape(-1, batch_size, z1.shape[1]).mean(axis=1))
    return np.concatenate(features), labels


def fit_softmax_classifier(x, y, num_classes: int, *, seed: int = 0,
                           learning_rate: float = 1e-2, batch_size: int = 256,
                           max_steps: int = 20_000, check_every: int = 500,
                           tolerance: float = 1e-4):
    """A linear softmax classifier fitted with Adagrad, as the paper's metric (JAX, jitted).

    x: (N, D) float features, y: (N,) int labels in [0, num_classes).
    Mini-batch Adagrad (``optax.adagrad``; ``batch_size`` points drawn with
    replacement per step, all N when N is smaller) on the mean
    cross-entropy, no penalty, from small random weights; ``seed`` draws
    the weights and the batches. Stopping rule: every ``check_every`` steps
    the loss on all N points is compared with its value at the previous
    check; training stops when it fell by less than ``tolerance``
    (relative), or after ``max_steps`` steps. A step costs the same for any
    N (raw pixels, D = 4,096, at 2,000 points: ~1 ms against ~9 ms for a
    full batch on a 2-core CPU).

    Adagrad moves a weight by at most ~2 * learning_rate * sqrt(steps) (~2.8
    at 20,000 steps): where an unpenalised fit needs larger weights (nearly
    separable classes, small feature scales) this classifier stops short of
    it, an implicit penalty of the paper's recipe.

    Returns ``(weights (D, C), bias (C,), steps run)``; predict with
    :func:`softmax_predict`.
    """
    import jax  # pylint: disable=import-outside-toplevel

    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int32)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"expected features (N, D) and labels (N,), got {x.shape} and {y.shape}")
    fit = _make_fit_softmax()
    weights, bias, steps = fit(jax.numpy.asarray(x), jax.numpy.asarray(y), jax.random.key(seed),
                               num_classes=num_classes, learning_rate=learning_rate,
                               batch_size=min(batch_size, len(x)), max_steps=max_steps,
                               check_every=check_every, tolerance=tolerance)
    return np.asarray(weights), np.asarray(bias), int(steps)


def softmax_predict(weights, bias, x) -> np.ndarray:
    """Predicted classes (N,) of a :func:`fit_softmax_classifier` model."""
    return np.argmax(np.asarray(x, np.float32) @ weights + bias, axis=1)


@functools.cache
def _make_fit_softmax():
    """The jitted fit, built (and JAX imported) when the paper's classifier is first used."""
    import jax  # pylint: disable=import-outside-toplevel
    import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
    import optax  # pylint: disable=import-outside-toplevel

    @functools.partial(jax.jit, static_argnames=("num_classes", "learning_rate", "batch_size",
                                                 "max_steps", "check_every", "tolerance"))
    def fit(x, y, key, *, num_classes, learning_rate, batch_size, max_steps, check_every,
            tolerance):
        init_key, batch_key = jax.random.split(key)
        params = dict(w=0.01 * jax.random.normal(init_key, (x.shape[1], num_classes)),
                      b=jnp.zeros(num_classes))
        tx = optax.adagrad(learning_rate)
        full = batch_size == x.shape[0]

        def loss(p, xs=x, ys=y):
            logits = xs @ p["w"] + p["b"]
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, ys))

        def step(i, carry):
            p, opt = carry
            if full:
                grads = jax.grad(loss)(p)
            else:
                rows = jax.random.randint(jax.random.fold_in(batch_key, i), (batch_size,), 0,
                                          x.shape[0])
                grads = jax.grad(loss)(p, x[rows], y[rows])
            updates, opt = tx.update(grads, opt, p)
            return optax.apply_updates(p, updates), opt

        def block(carry):
            p, opt, steps, _, current = carry
            p, opt = jax.lax.fori_loop(steps, steps + check_every, step, (p, opt))
            return p, opt, steps + check_every, current, loss(p)

        def keep_going(carry):
            _, _, steps, previous, current = carry
            improving = previous - current > tolerance * jnp.abs(previous)
            return (steps < max_steps) & ((steps == 0) | improving)

        start = loss(params)
        p, _, steps, _, _ = jax.lax.while_loop(
            keep_going, block, (params, tx.init(params), jnp.int32(0), start, start))
        return p["w"], p["b"], steps

    return fit


def higgins_metric(representation_fn, data, *, seed: int, protocol: str = "paper",
                   num_train: int = 10_000, num_eval: int = 5_000, batch_size: int = 64,
                   standardize: bool = False) -> dict:
    """The beta-VAE disentanglement metric (Higgins et al. 2017), under one of two protocols.

    Both draw, per point, the fixed factor uniformly among the protocol's
    classes and L = ``batch_size`` pairs sharing its value (drawn per pair),
    and classify the mean |z1 - z2| of the codes (for a VAE, the posterior
    mean); the score is the held-out accuracy on ``num_eval`` points.

    * ``"paper"`` (default: the metric as the paper that defines it
      describes it, and the protocol of the table this project reproduces):
      classes scale, orientation, posX, posY (chance 25 %; shape varies in
      the images but is never a class), a linear softmax classifier trained
      with Adagrad 1e-2 (:func:`fit_softmax_classifier`: batches of 256,
      until the training loss improves by less than 1e-4 relative over 500
      steps, at most 20,000 steps).
      On a dataset other than dSprites, the classes are all its scored factors.
    * ``"dlib"``: disentanglement_lib's ``dsprites_full`` version: classes
      shape, scale, orientation, posX, posY (chance 20 %), scikit-learn's
      logistic regression (L2, C = 1, lbfgs run to convergence: up to
      2,000 iterations, where disentanglement_lib stops at scikit-learn's
      100).

    ``standardize=True`` scales the features to zero mean and unit variance
    (from the training points) first; unscaled by default (measured against
    the paper's column, the unscaled features came closer overall;
    standardising lifts the untrained encoder).

    Returns:
      ``train_accuracy``, ``eval_accuracy``.
    """
    if protocol not in HIGGINS_PROTOCOLS:
        raise ValueError(f"protocol must be one of {HIGGINS_PROTOCOLS}, got {protocol!r}")
    classes = higgins_classes(data, protocol)
    rng = np.random.default_rng(seed)
    x_train, y_train = higgins_features(representation_fn, data, num_train, rng,
                                        batch_size=batch_size, factors=classes)
    x_eval, y_eval = higgins_features(representation_fn, data, num_eval, rng,
                                      batch_size=batch_size, factors=classes)
    if standardize:
        scaler = preprocessing.StandardScaler().fit(x_train)
        x_train, x_eval = scaler.transform(x_train), scaler.transform(x_eval)
    if protocol == "paper":
        weights, bias, _ = fit_softmax_classifier(x_train, y_train, len(classes), seed=seed)
        return dict(train_accuracy=float(np.mean(softmax_predict(weights, bias, x_train) == y_train)),
                    eval_accuracy=float(np.mean(softmax_predict(weights, bias, x_eval) == y_eval)))
    model = linear_model.LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(x_train, y_train)
    return dict(train_accuracy=float(model.score(x_train, y_train)),
                eval_accuracy=float(model.score(x_eval, y_eval)))


def higgins_classes(data, protocol: str) -> list[int]:
    """The factor columns a protocol classifies: :data:`HIGGINS_CLASSES` on dSprites
    and its variants; every scored factor on other datasets (both protocols)."""
    names = HIGGINS_CLASSES[protocol]
    if set(names) <= set(data.factor_names):
        return [data.factor_names.index(name) for name in names]
    return list(data.varying_factors)


def higgins_metric_dlib(representation_fn, data, **kwargs) -> dict:
    """:func:`higgins_metric` under disentanglement_lib's protocol (``protocol="dlib"``)."""
    return higgins_metric(representation_fn, data, protocol="dlib", **kwargs)


def paper_score(scores) -> dict:
    """The paper's summary of a model's metric scores: the bottom half dropped.

    scores: any array of scores (e.g. replicas x classifier seeds); the
    lower ``floor(n / 2)`` are discarded and the rest summarised. Returns
    ``mean``, ``std`` (population std of the kept scores) and ``n`` (how
    many were kept).
    """
    values = np.sort(np.asarray(scores, np.float64).ravel())
    if values.size == 0:
        raise ValueError("paper_score needs at least one score")
    kept = values[values.size // 2:]
    return dict(mean=float(kept.mean()), std=float(kept.std()), n=int(kept.size))


# --- FactorVAE (Kim & Mnih 2018) ----------------------------------------------

def factor_vae_votes(representation_fn, data, num_votes: int, rng, *, scale: np.ndarray,
                     active: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Vote counts (D, K): how often the dimension of least normalised variance,
    among the active ones, coincided with each fixed factor."""
    varying = np.asarray(data.varying_factors)
    labels = rng.integers(len(varying), size=num_votes)
    classes = np.concatenate([data.sample_factors(batch_size, rng, fixed_factor=int(varying[k]))
                              for k in labels])
    # A chunk of votes at a time, whole encode() batches each (the same calls of
    # representation_fn as all at once): raw pixels' 640,000 x 4,096 codes at
    # once would take 10 GB. Memoised codes are a table look-up: all at once.
    chunk = len(classes) if hasattr(representation_fn, "codes_for") else int(
        np.lcm(_ENCODE_BATCH, batch_size))
    dims = []
    for start in range(0, len(classes), chunk):
        codes = encode(representation_fn, data, classes[start:start + chunk],
                       batch_size=_ENCODE_BATCH).reshape(-1, batch_size, len(scale))
        variances = np.var(codes / scale, axis=1, ddof=1)[:, active]
        dims.append(np.nonzero(active)[0][np.argmin(variances, axis=1)])
    votes = np.zeros((len(scale), len(varying)), np.int64)
    np.add.at(votes, (np.concatenate(dims), labels), 1)
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
    _, codes = sample_codes(representation_fn, data, num_variance_estimate, rng)
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
    classes, codes = sample_codes(representation_fn, data, num_train, rng)
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
    classes, codes = sample_codes(representation_fn, data, num_points, rng)
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
    one-vs-rest logistic regression predicting each factor from the code,
    standardised with the training codes' mean and std (:func:`standardize`).

    Returns ``modularity``, ``explicitness_train``, ``explicitness_test``.
    """
    rng = np.random.default_rng(seed)
    y_train, z_train = sample_codes(representation_fn, data, num_train, rng)
    y_test, z_test = sample_codes(representation_fn, data, num_test, rng)
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


def standardize(z_train, z_test):
    """Both (N, D) code sets z-scored with the training set's mean and std, as
    disentanglement_lib's ``normalize_data``; a constant dimension (std 0,
    where disentanglement_lib divides by zero) keeps std 1."""
    mean, std = z_train.mean(axis=0), z_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (z_train - mean) / std, (z_test - mean) / std


def _explicitness(z_train, y_train, z_test, y_test, seed) -> dict:
    z_train, z_test = standardize(z_train, z_test)
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
    y_train, z_train = sample_codes(representation_fn, data, num_train, rng)
    y_test, z_test = sample_codes(representation_fn, data, num_test, rng)
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
    score (i, k) is the test accuracy of a linear SVM (C = 0.01, classes
    weighted inversely to their frequency) predicting
    factor k from code dimension i; SAP is the mean over factors of the gap
    between the two best dimensions. Returns ``sap``."""
    rng = np.random.default_rng(seed)
    y_train, z_train = sample_codes(representation_fn, data, num_train, rng)
    y_test, z_test = sample_codes(representation_fn, data, num_test, rng)
    scores = sap_scores(z_train, y_train, z_test, y_test, svm_c=svm_c, seed=seed)
    return dict(sap=sap_from_scores(scores))


def sap_scores(z_train, y_train, z_test, y_test, *, svm_c: float = 0.01,
               seed: int = 0) -> np.ndarray:
    """(D, K) test accuracies of a linear SVM predicting each factor from each
    single code dimension, with ``class_weight="balanced"`` as disentanglement_lib.
    z: (N, D) codes, y: (N, K) integer factors."""
    scores = np.zeros((z_train.shape[1], y_train.shape[1]))
    for i in range(z_train.shape[1]):
        for k in range(y_train.shape[1]):
            if np.ptp(z_train[:, i]) == 0:
                continue  # a constant dimension predicts nothing
            model = svm.LinearSVC(C=svm_c, class_weight="balanced", random_state=seed)
            model.fit(z_train[:, i:i + 1], y_train[:, k])
            scores[i, k] = model.score(z_test[:, i:i + 1], y_test[:, k])
    return scores


def sap_from_scores(scores: np.ndarray) -> float:
    """Mean over factors of (best - second best) score over code dimensions; (D, K) -> float."""
    return float(np.mean(_top_two_gap(scores)))


ALL_METRICS = dict(higgins=higgins_metric, higgins_dlib=higgins_metric_dlib,
                   factor_vae=factor_vae_metric, mig=mig, dci=dci, sap=sap,
                   modularity_explicitness=modularity_explicitness)
