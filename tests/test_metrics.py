import tracemalloc

import numpy as np
import pytest
from sklearn import metrics as skmetrics

from vaejax import architectures, data
from vaejax.data import factors
from vaejax.evaluation import baselines, codes, metrics

GT = data.GroundTruth()
SMALL = dict(num_train=600)


class FactorCode:
    """A code computed from the factor classes (no images needed)."""

    def __init__(self, fn):
        self.fn = fn

    def codes_for(self, classes):
        v = factors.classes_to_values(classes)
        return self.fn(v, np.asarray(classes)).astype(np.float32)


truth = baselines.GroundTruthFactors()
# Same information, columns permuted and rescaled (positive and negative).
permuted = FactorCode(lambda v, c: v[:, [5, 3, 1, 4, 2]] * np.array([3.0, -0.5, 10.0, 2.0, -7.0]))
# posX and posY mixed by a rotation: the same information, entangled.
mixed = FactorCode(lambda v, c: np.stack(
    [v[:, 1], v[:, 2], v[:, 3], v[:, 4] + v[:, 5], v[:, 4] - v[:, 5]], 1))
# Noise that ignores the image.
random_code = FactorCode(lambda v, c: np.random.default_rng(int(c.sum())).normal(size=(len(c), 5)))


def higgins(rep, seed=0, protocol="dlib"):
    return metrics.higgins_metric(rep, GT, seed=seed, num_train=400, num_eval=300,
                                  protocol=protocol)["eval_accuracy"]


def factor_vae(rep, seed=0):
    return metrics.factor_vae_metric(rep, GT, seed=seed, num_train=500, num_eval=300,
                                     num_variance_estimate=1000)["eval_accuracy"]


def mig(rep, seed=0):
    return metrics.mig(rep, GT, seed=seed, num_train=3000)["mig"]


def dci(rep, seed=0):
    return metrics.dci(rep, GT, seed=seed, num_train=600, num_test=300)


def test_ground_truth_scores_at_the_top():
    assert higgins(truth) == 1.0
    assert factor_vae(truth) == 1.0
    assert mig(truth) > 0.8
    d = dci(truth)
    assert d["disentanglement"] > 0.9 and d["completeness"] > 0.9
    s = metrics.sap(truth, GT, seed=0, num_train=1000, num_test=500)["sap"]
    assert s > 0.1  # single-dimension linear SVMs (C = 0.01) separate 40 classes poorly
    m = metrics.modularity_explicitness(truth, GT, seed=0, num_train=2000, num_test=500)
    assert m["modularity"] > 0.95 and m["explicitness_test"] > 0.8


def test_random_code_scores_near_chance():
    assert abs(higgins(random_code) - 0.2) < 0.1  # 5 factors
    assert abs(factor_vae(random_code) - 0.2) < 0.1
    assert mig(random_code) < 0.05
    assert dci(random_code)["disentanglement"] < 0.25
    assert metrics.sap(random_code, GT, seed=0, num_train=1000, num_test=500)["sap"] < 0.03
    m = metrics.modularity_explicitness(random_code, GT, seed=0, num_train=2000, num_test=500)
    assert abs(m["explicitness_test"] - 0.5) < 0.05


def test_permuted_rescaled_code_scores_like_the_truth():
    assert higgins(permuted) == pytest.approx(higgins(truth), abs=1e-9)
    assert factor_vae(permuted) == pytest.approx(factor_vae(truth), abs=1e-9)
    assert mig(permuted) == pytest.approx(mig(truth), abs=1e-9)
    assert dci(permuted)["disentanglement"] == pytest.approx(dci(truth)["disentanglement"], abs=0.02)


def test_mixing_two_factors_scores_lower():
    assert higgins(mixed) < higgins(truth) - 0.1
    assert mig(mixed) < mig(truth) - 0.2
    assert dci(mixed)["disentanglement"] < dci(truth)["disentanglement"] - 0.1


# posX and posY rotated by 45 degrees: holding either fixed shrinks both codes alike.
rotated = FactorCode(lambda v, c: np.stack(
    [v[:, 1], v[:, 2], v[:, 3], (v[:, 4] + v[:, 5]) / np.sqrt(2),
     (v[:, 4] - v[:, 5]) / np.sqrt(2)], 1))


def test_higgins_protocols_on_known_answers():
    for protocol in ("paper", "dlib"):
        assert higgins(truth, protocol=protocol) == 1.0
    assert abs(higgins(random_code, protocol="paper") - 0.25) < 0.07  # 4 classes
    assert abs(higgins(random_code, protocol="dlib") - 0.20) < 0.07  # 5 classes
    # x and y indistinguishable: at best half of their points right, (1 + 1 + .5 + .5) / 4.
    assert higgins(rotated, protocol="paper") <= 0.80
    assert higgins(rotated, protocol="dlib") <= 0.84  # (3 + .5 + .5) / 5
    with pytest.raises(ValueError, match="protocol must be one of"):
        metrics.higgins_metric(truth, GT, seed=0, protocol="iclr")


def _fixed_columns(protocol):
    """Per metric point (L = 4 pairs), which factor columns all its pairs share: (points, 6)."""
    seen = []

    class Recording:
        def codes_for(self, classes):
            seen.append(np.asarray(classes))
            return truth.codes_for(classes)

    metrics.higgins_metric(Recording(), GT, seed=0, num_train=300, num_eval=100, batch_size=4,
                           protocol=protocol)
    first, second = np.concatenate(seen[0::2]), np.concatenate(seen[1::2])
    return (first == second).reshape(-1, 4, 6).all(axis=1)


def test_paper_protocol_never_holds_shape_fixed():
    paper, dlib = _fixed_columns("paper"), _fixed_columns("dlib")
    assert paper[:, 2:].any(axis=1).all()  # every point holds scale, orientation, x or y
    # Shape is shared by all 4 pairs only by chance, (1/3)^4, under paper; a fifth of
    # the points hold it under dlib.
    assert paper[:, 1].mean() < 0.05
    assert 0.12 < dlib[:, 1].mean() < 0.3


def test_softmax_classifier_agrees_with_unpenalised_logistic_regression():
    from sklearn import linear_model, preprocessing

    # Standardised features of a noisy code: the unpenalised optimum lies
    # within the weights Adagrad 1e-2 reaches.
    noisy = FactorCode(lambda v, c: np.concatenate(
        [v[:, 1:] + np.random.default_rng(int(c.sum())).normal(scale=0.3, size=(len(c), 5)),
         np.random.default_rng(int(c.sum()) + 1).normal(size=(len(c), 3))], 1))
    rng = np.random.default_rng(0)
    classes = [2, 3, 4, 5]
    x_train, y_train = metrics.higgins_features(noisy, GT, 2000, rng, factors=classes)
    x_eval, y_eval = metrics.higgins_features(noisy, GT, 1000, rng, factors=classes)
    scaler = preprocessing.StandardScaler().fit(x_train)
    x_train, x_eval = scaler.transform(x_train), scaler.transform(x_eval)
    weights, bias, steps = metrics.fit_softmax_classifier(x_train, y_train, 4, seed=0)
    ours = np.mean(metrics.softmax_predict(weights, bias, x_eval) == y_eval)
    reference = linear_model.LogisticRegression(penalty=None, max_iter=5000).fit(
        x_train, y_train).score(x_eval, y_eval)
    assert 0.5 < reference < 0.999  # neither trivial nor separable
    assert abs(ours - reference) <= 0.01
    assert 0 < steps <= 20_000 and steps % 500 == 0


def test_softmax_classifier_stops_when_the_loss_stops_falling():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = rng.integers(3, size=300)  # labels unrelated to x: the loss flattens at once
    _, _, steps = metrics.fit_softmax_classifier(x, y, 3, seed=0, tolerance=1e-3)
    assert steps < 20_000
    _, _, capped = metrics.fit_softmax_classifier(x, y, 3, seed=0, tolerance=0.0,
                                                  max_steps=1000)
    assert capped == 1000
    with pytest.raises(ValueError, match=r"features \(N, D\) and labels \(N,\)"):
        metrics.fit_softmax_classifier(x, y[:10], 3)


def test_paper_score_drops_the_bottom_half():
    scores = np.array([[90.0, 10.0, 80.0], [70.0, 20.0, 60.0]])  # replicas x seeds
    out = metrics.paper_score(scores)
    kept = np.array([70.0, 80.0, 90.0])
    assert out == dict(mean=80.0, std=pytest.approx(kept.std()), n=3)
    assert metrics.paper_score([5.0]) == dict(mean=5.0, std=0.0, n=1)
    assert metrics.paper_score([1.0, 2.0, 3.0])["n"] == 2  # an odd count keeps the upper half
    with pytest.raises(ValueError, match="at least one score"):
        metrics.paper_score([])


def test_higgins_features_vanish_on_the_fixed_factor():
    feats, labels = metrics.higgins_features(truth, GT, 50, np.random.default_rng(0), batch_size=8)
    assert feats.shape == (50, 5) and labels.shape == (50,)
    np.testing.assert_array_equal(feats[np.arange(50), labels], 0.0)
    # Second computation: one point by hand.
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    f, l = metrics.higgins_features(truth, GT, 1, rng_a, batch_size=4)
    k = rng_b.integers(5, size=1)[0]
    first, second = GT.sample_factors(4, rng_b), GT.sample_factors(4, rng_b)
    second[:, k + 1] = first[:, k + 1]
    manual = np.abs(truth.codes_for(first) - truth.codes_for(second)).mean(0)
    assert l[0] == k
    np.testing.assert_allclose(f[0], manual, rtol=1e-6)


class AllAtOnce:
    """An image representation behind ``codes_for``: higgins_features encodes every
    point's images in one pass, as it did before encoding in chunks."""

    def __init__(self, fn):
        self.fn = fn

    def codes_for(self, classes):
        return codes.encode(self.fn, GT, classes)


@pytest.mark.parametrize("num_points,pairs", [(40, 64), (9, 24)])
def test_higgins_features_of_images_in_chunks_match_one_pass(num_points, pairs):
    # Raw pixels (4,096-d) are encoded a chunk of points at a time: lcm(2048, L) images,
    # 32 points at L = 64 (40 points: a chunk and a part), 256 at L = 24 (one part).
    chunked = metrics.higgins_features(baselines.raw_pixels, GT, num_points,
                                       np.random.default_rng(3), batch_size=pairs)
    whole = metrics.higgins_features(AllAtOnce(baselines.raw_pixels), GT, num_points,
                                     np.random.default_rng(3), batch_size=pairs)
    assert chunked[0].shape == (num_points, 4096)
    np.testing.assert_array_equal(chunked[1], whole[1])
    np.testing.assert_array_equal(chunked[0], whole[0])
    assert chunked[0].any(axis=1).all()  # every point's pairs differ somewhere


@pytest.mark.parametrize("num_votes,batch", [(70, 64), (9, 24)])
def test_factor_vae_votes_of_images_in_chunks_match_one_pass(num_votes, batch):
    # Raw pixels are encoded lcm(2048, batch) images at a time (70 x 64: two whole
    # chunks and a part), not 640,000 x 4,096 codes at once (10 GB, standard sizes).
    calls = []

    def pixels(images):
        calls.append(len(images))
        return baselines.raw_pixels(images)

    _, wide = metrics.sample_codes(pixels, GT, 500, np.random.default_rng(1))
    scale = np.std(wide, axis=0, ddof=1)
    active = scale >= 0.05
    scale = np.where(active, scale, 1.0)
    calls.clear()
    chunked = metrics.factor_vae_votes(pixels, GT, num_votes, np.random.default_rng(3),
                                       scale=scale, active=active, batch_size=batch)
    assert max(calls) <= 2048 and sum(calls) == num_votes * batch
    whole = metrics.factor_vae_votes(AllAtOnce(baselines.raw_pixels), GT, num_votes,
                                     np.random.default_rng(3), scale=scale, active=active,
                                     batch_size=batch)
    assert chunked.shape == (4096, 5) and chunked.sum() == num_votes
    np.testing.assert_array_equal(chunked, whole)


def test_factor_vae_votes_of_wide_codes_keep_memory_bounded():
    # 320 votes x 64 images of 4,096-d codes: 335 MB at once (and as much again
    # divided by the scale); a chunk of 2,048 images at a time stays near 100 MB.
    scale, active = np.ones(4096), np.ones(4096, bool)
    tracemalloc.start()
    try:
        votes = metrics.factor_vae_votes(baselines.raw_pixels, GT, 320,
                                         np.random.default_rng(0), scale=scale, active=active)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert votes.sum() == 320
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"


def test_factor_vae_votes_are_diagonal_for_the_truth():
    scale = np.ones(5)
    votes = metrics.factor_vae_votes(truth, GT, 200, np.random.default_rng(0), scale=scale,
                                     active=np.ones(5, bool))
    assert votes.sum() == 200
    assert np.count_nonzero(votes - np.diag(np.diag(votes))) == 0


def test_mutual_information_against_direct_counts():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=(2000, 2))
    z = np.stack([y[:, 0] + rng.normal(0, 0.3, 2000), rng.normal(size=2000)], 1)
    dz = metrics.discretize(z, 20)
    assert dz.min() >= 1 and dz.max() <= 20
    mi = metrics.mutual_information(dz, y)

    def direct(a, b):
        joint = np.zeros((a.max() + 1, b.max() + 1))
        np.add.at(joint, (a, b), 1)
        joint /= joint.sum()
        pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
        nz = joint > 0
        return np.sum(joint[nz] * np.log(joint[nz] / (pa @ pb)[nz]))

    for j in range(2):
        for k in range(2):
            assert mi[j, k] == pytest.approx(direct(dz[:, j], y[:, k]), rel=1e-9)
    ent = metrics.discrete_entropy(y)
    p = np.bincount(y[:, 0]) / 2000
    assert ent[0] == pytest.approx(-np.sum(p * np.log(p)))


def test_dci_scores_on_known_importance_matrices():
    assert metrics.dci_disentanglement(np.eye(4)) == pytest.approx(1.0)
    assert metrics.dci_completeness(np.eye(4)) == pytest.approx(1.0)
    assert metrics.dci_disentanglement(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-12)
    # One code dimension carrying two factors equally: its row has entropy
    # log 2 / log 3 (3 factors); the other row is pure.
    imp = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    expected = 0.5 * (1 - np.log(2) / np.log(3)) + 0.5 * 1.0
    assert metrics.dci_disentanglement(imp) == pytest.approx(expected)


def test_dci_with_lightgbm_trees_tracks_the_reference():
    # Same codes, both tree learners: the approximate learner must order the
    # codes as the reference does and land close to its scores.
    results = {}
    for name, rep in (("truth", truth), ("mixed", mixed), ("random", random_code)):
        for trees in metrics.DCI_TREES:
            results[name, trees] = metrics.dci(rep, GT, seed=0, num_train=600, num_test=300,
                                               trees=trees)
    for name in ("truth", "mixed", "random"):
        ref, fast = results[name, "sklearn"], results[name, "lightgbm"]
        assert fast["disentanglement"] == pytest.approx(ref["disentanglement"], abs=0.05), name
        assert fast["completeness"] == pytest.approx(ref["completeness"], abs=0.05), name
    d = {k[0]: v["disentanglement"] for k, v in results.items() if k[1] == "lightgbm"}
    assert d["truth"] > d["mixed"] > d["random"]
    with pytest.raises(ValueError, match="trees"):
        metrics.dci(truth, GT, seed=0, num_train=60, num_test=30, trees="xgboost")


def test_sap_and_modularity_on_known_matrices():
    scores = np.array([[0.9, 0.1], [0.5, 0.6], [0.2, 0.2]])
    assert metrics.sap_from_scores(scores) == pytest.approx(((0.9 - 0.5) + (0.6 - 0.2)) / 2)
    assert metrics.modularity(np.array([[2.0, 0, 0], [0, 1.0, 0]])) == pytest.approx(1.0)
    # A row with mi (1, 1, 0): delta = 1 / (1 * 2), modularity 0.5; a zero row scores 0.
    assert metrics.modularity(np.array([[1.0, 1.0, 0.0], [0, 0, 0]])) == pytest.approx(0.25)


def _svm_accuracy_by_scipy(x_train, y_train, x_test, y_test, c, balanced=True):
    """One-feature one-vs-rest linear SVM (squared hinge, L2 on weight and
    intercept, as liblinear), each class's problem solved with scipy's L-BFGS.
    Balanced: class k's points cost c * n / (K n_k) as liblinear weights them
    (both classes of a binary problem; the positive class of each one-vs-rest
    problem, the rest at c)."""
    from scipy.optimize import minimize

    classes, counts = np.unique(y_train, return_counts=True)
    weight = dict(zip(classes, len(y_train) / (len(classes) * counts) if balanced
                      else np.ones(len(classes))))

    def fit(sign, cost):
        def objective(p):
            margin = np.maximum(0.0, 1.0 - sign * (p[0] * x_train + p[1]))
            grad_m = -2 * cost * margin * sign
            return (0.5 * (p @ p) + np.sum(cost * margin ** 2),
                    p + np.array([grad_m @ x_train, grad_m.sum()]))
        return minimize(objective, np.zeros(2), jac=True, method="L-BFGS-B",
                        options=dict(gtol=1e-12, ftol=1e-15, maxiter=10_000)).x

    if len(classes) == 2:
        cost = c * np.vectorize(weight.get)(y_train)
        w, b = fit(np.where(y_train == classes[1], 1.0, -1.0), cost)
        pred = classes[(w * x_test + b > 0).astype(int)]
    else:
        params = np.array([fit(np.where(y_train == k, 1.0, -1.0),
                               np.where(y_train == k, c * weight[k], c)) for k in classes])
        pred = classes[np.argmax(params[:, :1] * x_test[None] + params[:, 1:], axis=0)]
    return np.mean(pred == y_test)


def test_sap_scores_against_a_second_svm_solver():
    """Unbalanced classes, where disentanglement_lib's class_weight="balanced"
    changes the scores (an unweighted SVM at C = 0.01 predicts the majority)."""
    rng = np.random.default_rng(0)
    y = np.stack([rng.choice(2, 600, p=[0.85, 0.15]),
                  rng.choice(4, 600, p=[0.55, 0.25, 0.15, 0.05])], axis=1)
    z = np.stack([y[:, 0] + 0.6 * rng.normal(size=600), 0.5 * y[:, 1] + 0.3 * rng.normal(size=600),
                  rng.normal(size=600)], axis=1)
    scores = metrics.sap_scores(z[:400], y[:400], z[400:], y[400:], svm_c=0.01)

    def reference(balanced):
        return np.array([[_svm_accuracy_by_scipy(z[:400, i], y[:400, k], z[400:, i], y[400:, k],
                                                 0.01, balanced) for k in range(2)]
                         for i in range(3)])

    # liblinear stops at tol 1e-4: allow one test point of difference per cell.
    np.testing.assert_allclose(scores, reference(True), atol=1 / 200 + 1e-9)
    assert np.abs(scores - reference(False)).max() > 0.05  # the weighting matters here
    assert scores[0, 0] > 0.75 and scores[1, 1] > 0.5  # informative cells are learnt


def test_memoized_representation_encodes_each_image_once():
    calls = []

    def fn(images):
        calls.append(len(images))
        return images.reshape(len(images), -1)[:, :3] + images.reshape(len(images), -1).sum(1, keepdims=True)

    memo = codes.MemoizedRepresentation(fn, GT, batch_size=64)
    classes = GT.sample_factors(100, np.random.default_rng(0))
    direct = codes.encode(fn, GT, classes)
    calls.clear()
    np.testing.assert_array_equal(memo.codes_for(classes), direct)
    first = sum(calls)
    assert first == len(np.unique(factors.classes_to_index(classes)))
    np.testing.assert_array_equal(memo.codes_for(classes[::-1]), direct[::-1])
    assert sum(calls) == first  # nothing encoded again


def test_memoized_representation_encodes_the_rest_of_the_grid_in_order():
    class ClassesAsImages:  # "images" are the factor classes themselves: cheap
        num_combinations = factors.NUM_IMAGES
        classes_to_index = staticmethod(factors.classes_to_index)
        index_to_classes = staticmethod(factors.index_to_classes)

        def images(self, classes):
            return np.asarray(classes, np.float32)

    seen = []

    def fn(images):
        seen.append(factors.classes_to_index(images.astype(np.int64)))
        return images * 2.0

    memo = codes.MemoizedRepresentation(fn, ClassesAsImages(), batch_size=50_000)
    rng = np.random.default_rng(0)
    few = factors.index_to_classes(rng.choice(factors.NUM_IMAGES, 1000, replace=False))
    np.testing.assert_array_equal(memo.codes_for(few), few * 2.0)
    assert sum(map(len, seen)) == 1000  # a small request encodes only what it needs
    many = factors.index_to_classes(rng.integers(factors.NUM_IMAGES, size=600_000))
    np.testing.assert_array_equal(memo.codes_for(many), many * 2.0)
    encoded = np.concatenate(seen[1:])
    # The rest of the grid, each image once, in grid order.
    assert len(encoded) == factors.NUM_IMAGES - 1000
    assert np.all(np.diff(encoded) > 0)
    everything = factors.index_to_classes(np.arange(factors.NUM_IMAGES))
    np.testing.assert_array_equal(memo.codes_for(everything), everything * 2.0)


def test_pixel_and_pca_baselines():
    imgs = GT.images(GT.sample_factors(5, np.random.default_rng(0)))
    assert baselines.raw_pixels(imgs).shape == (5, 4096)
    rep = baselines.pca(GT, num_components=4, num_fit=300)
    assert rep(imgs).shape == (5, 4)


def test_encoder_representation_matches_the_encoder_across_batch_padding():
    import jax
    from vaejax import models
    model = architectures.build("deep_fc", latents=3, variational=True)
    params = models.init_params(model, jax.random.key(0))
    imgs = GT.images(GT.sample_factors(10, np.random.default_rng(1)))
    rep = baselines.encoder_representation(model, params, batch_size=4)  # 4 + 4 + 2 (padded)
    direct = model.apply({"params": params}, imgs, method=models.Autoencoder.encode)
    np.testing.assert_allclose(rep(imgs), direct, rtol=1e-5, atol=1e-6)


def test_ica_baseline_gives_unit_variance_sources_on_its_fit_images():
    rep = baselines.ica(GT, num_components=4, num_fit=400, seed=3)
    fit_images = GT.images(GT.sample_factors(400, np.random.default_rng(3)))
    sources = rep(fit_images)
    assert sources.shape == (400, 4)
    np.testing.assert_allclose(sources.std(axis=0), 1.0, rtol=0.05)
    np.testing.assert_allclose(np.corrcoef(sources.T), np.eye(4), atol=0.05)


def test_explicitness_against_rank_auc():
    """Second computation: one-vs-rest ROC AUC from ranks (Mann-Whitney U), on
    codes standardised by hand."""
    from scipy import stats
    from sklearn import linear_model

    rng = np.random.default_rng(0)
    y = np.stack([rng.integers(0, 3, 400), rng.integers(0, 2, 400)], 1)
    z = np.stack([y[:, 0] + rng.normal(0, 0.8, 400), y[:, 1] - rng.normal(0, 1.0, 400),
                  rng.normal(size=400)], 1)
    z = z * [100.0, 0.01, 1.0] + [5.0, -3.0, 0.0]  # unlike scales: standardising matters
    train, test = slice(0, 250), slice(250, None)
    out = metrics._explicitness(z[train], y[train], z[test], y[test], 0)
    # disentanglement_lib z-scores every code with the training split's statistics
    mean, std = z[train].mean(axis=0), z[train].std(axis=0)
    z = (z - mean) / std

    def auc(labels, scores):  # P(score of a positive > score of a negative), ties halved
        ranks = stats.rankdata(scores)
        pos = labels.astype(bool)
        u = ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2
        return u / (pos.sum() * (~pos).sum())

    for part, key in ((train, "explicitness_train"), (test, "explicitness_test")):
        per_factor = []
        for k in range(2):
            model = linear_model.LogisticRegression(max_iter=1000, random_state=0)
            proba = model.fit(z[train], y[train, k]).predict_proba(z[part])
            per_factor.append(np.mean([auc(y[part, k] == c, proba[:, i])
                                       for i, c in enumerate(model.classes_)]))
        assert out[key] == pytest.approx(np.mean(per_factor), rel=1e-9)
    assert 0.5 < out["explicitness_test"] < 1.0


def test_explicitness_does_not_depend_on_the_codes_scale():
    rng = np.random.default_rng(1)
    y = np.stack([rng.integers(0, 3, 400), rng.integers(0, 2, 400)], 1)
    z = np.stack([y[:, 0] + rng.normal(0, 0.8, 400), y[:, 1] - rng.normal(0, 1.0, 400),
                  rng.normal(size=400)], 1)
    plain = metrics._explicitness(z[:250], y[:250], z[250:], y[250:], 0)
    for scale, shift in ((100.0, 0.0), (0.01, 7.0)):
        moved = metrics._explicitness(z[:250] * scale + shift, y[:250], z[250:] * scale + shift,
                                      y[250:], 0)
        for key in plain:
            assert moved[key] == pytest.approx(plain[key], abs=1e-6), (scale, key)
    constant = np.hstack([z, np.ones((400, 1))])  # a dead latent: no division by zero
    out = metrics._explicitness(constant[:250], y[:250], constant[250:], y[250:], 0)
    assert np.isfinite(out["explicitness_test"])


def test_factor_vae_metric_against_a_loop():
    """Second computation: the FactorVAE metric vote by vote, with the same draws."""
    # Noise fixed per grid image, so a code does not depend on its batch.
    noise = np.random.default_rng(0).normal(0, [0.5, 0.3, 2.0, 0.2, 0.05],
                                            size=(factors.NUM_IMAGES, 5))
    noisy = FactorCode(lambda v, c: v[:, 1:] + noise[factors.classes_to_index(c)])
    out = metrics.factor_vae_metric(noisy, GT, seed=3, num_train=60, num_eval=40,
                                    num_variance_estimate=500, batch_size=16)
    rng = np.random.default_rng(3)
    sd = np.std(noisy.codes_for(GT.sample_factors(500, rng)), axis=0, ddof=1)

    def votes(n):
        table = np.zeros((5, 5), int)
        labels = rng.integers(5, size=n)
        for k in labels:
            classes = GT.sample_factors(16, rng, fixed_factor=int(GT.varying_factors[k]))
            z = noisy.codes_for(classes) / sd
            table[int(np.argmin(z.var(axis=0, ddof=1))), k] += 1
        return table

    train, evals = votes(60), votes(40)
    best = train.argmax(axis=1)
    assert out["train_accuracy"] == pytest.approx(train[range(5), best].sum() / 60)
    assert out["eval_accuracy"] == pytest.approx(evals[range(5), best].sum() / 40)
    assert out["num_active_dims"] == 5


def test_latent_factor_table_names_the_factor_of_each_latent():
    table = metrics.latent_factor_table(permuted, GT, seed=0, num_points=5000)
    assert table["factors"] == ["shape", "scale", "orientation", "posX", "posY"]
    assert table["best_factor"] == ["posY", "orientation", "shape", "posX", "scale"]
    nmi = np.array(table["nmi"])
    # shape and scale have <= 20 values, so the binned latent keeps all of their entropy
    assert nmi[2, 0] == pytest.approx(1.0) and nmi[4, 1] == pytest.approx(1.0)
    off = nmi.copy()
    off[[0, 1, 2, 3, 4], [4, 2, 0, 3, 1]] = 0.0
    assert off.max() < 0.03  # independent factors: only the plug-in estimate's bias
    # A rotated pair of positions shares both factors' information.
    both = np.array(metrics.latent_factor_table(mixed, GT, seed=0, num_points=5000)["nmi"])
    assert both[3, 3] > 0.1 and both[3, 4] > 0.1 and both[3, 3] < nmi[3, 3] - 0.3


def test_normalized_mutual_information_is_mi_over_factor_entropy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=(2000, 2))
    z = np.stack([y[:, 0] + 0.1 * rng.random(2000), rng.random(2000)], 1)
    nmi = metrics.normalized_mutual_information(z, y, num_bins=20)
    direct = skmetrics.mutual_info_score(y[:, 0], metrics.discretize(z, 20)[:, 0])
    assert nmi[0, 0] == pytest.approx(direct / skmetrics.mutual_info_score(y[:, 0], y[:, 0]))
    assert nmi[0, 0] == pytest.approx(1.0)
