"""Evaluates a training workdir: pictures and every disentanglement metric.

Reads only what training wrote (``config.json`` and the Orbax checkpoints)
and writes into ``workdir/eval/`` (``eval/replica_<i>/`` per replica of a
replicated run, and ``eval/summary.json``): ``reconstructions.png``,
``traversals.png``, ``traversals.gif`` (all latents), ``traversals/z<d>.gif``
(one per latent), ``kl_per_latent.png``, ``explorer.html`` (the report's
latent sliders, :mod:`explorer`) and ``metrics.json``; for replicas
also ``eval/udr.json``, their unsupervised ranking (:mod:`udr`). ``out_dir``
writes elsewhere (for a workdir that must stay as it is, such as a shipped
pretrained model).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from vaejax import checkpoint, losses, models, objectives, pretrained, train
from vaejax.data import datasets
from vaejax.evaluation import code_map, codes, denoising, explorer, metrics, udr, visualize

# Metric sizes: "standard" are disentanglement_lib's (the defaults of each
# metric); "reduced" is a quicker protocol for CPU runs; "smoke" for tests.
SIZES = {
    "standard": {},
    "reduced": dict(higgins_metric=dict(num_train=2000, num_eval=1000),
                    factor_vae_metric=dict(num_train=2000, num_eval=1000),
                    mig=dict(num_train=5000), dci=dict(num_train=2000, num_test=1000),
                    sap=dict(num_train=2000, num_test=1000),
                    modularity_explicitness=dict(num_train=2000, num_test=1000),
                    latent_factor_table=dict(num_points=5000)),
    "smoke": dict(higgins_metric=dict(num_train=100, num_eval=50, batch_size=8),
                  factor_vae_metric=dict(num_train=100, num_eval=50, batch_size=8,
                                         num_variance_estimate=200),
                  mig=dict(num_train=300), dci=dict(num_train=200, num_test=100),
                  sap=dict(num_train=200, num_test=100),
                  modularity_explicitness=dict(num_train=200, num_test=100),
                  latent_factor_table=dict(num_points=300)),
}


def load_model(workdir: str | Path, replica: int | None = None):
    """The config, model, params and step of a workdir's latest checkpoint
    (:func:`vaejax.train.load_model`; a shipped pretrained model is read only)."""
    return train.load_model(workdir, replica, read_only=pretrained.is_shipped(workdir))


def traversal_limit(prior: str) -> float:
    """Where a traversal ends: the prior's quantile at Phi(3) (99.87 %), which
    is 3 for N(0, 1) and keeps the same prior mass for the others."""
    dist = dict(gaussian=stats.norm(), laplace=stats.laplace(scale=losses.LAPLACE_SCALE),
                gennorm4=stats.gennorm(4, scale=losses.GENNORM4_SCALE))
    if prior not in dist:
        raise ValueError(f"prior must be one of {tuple(dist)}, got {prior!r}")
    return float(dist[prior].ppf(stats.norm.cdf(3.0)))


def traversal_codes(model, seed_code: np.ndarray, centre: np.ndarray, width: np.ndarray,
                    limit: float, num: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The codes a traversal decodes: (values (V,), codes (D, V, D)), row d moving
    latent d with the others at ``seed_code`` (D,).

    Latent d runs over ``centre[d] + values * width[d]``, values from -limit to
    limit (limit 3: three prior or code standard deviations). A model whose
    codes have a bounded prior (``model.code_range``, InfoGAN's [-1, 1]) runs
    each code over that range instead, the others clipped into it.
    """
    code_range = getattr(model, "code_range", None)
    if code_range is not None:
        values = np.linspace(*code_range, num)
        centre, width = np.zeros_like(centre), np.ones_like(width)
        seed_code = np.clip(seed_code, *code_range)
    else:
        values = np.linspace(-limit, limit, num)
    dims = len(seed_code)
    z = np.repeat(np.asarray(seed_code, np.float32)[None, None], dims, 0).repeat(num, 1)
    for d in range(dims):
        z[d, :, d] = centre[d] + values * width[d]
    return values, z


def _posterior(model, params, images):
    """(mean, logvar) for a VAE; (code, None) for a deterministic autoencoder."""
    out = model.apply({"params": params}, images, method=lambda m, x: m.encoder(x))
    return out if model.variational else (out, None)


def mean_kl_per_latent(mean, logvar, prior: str) -> np.ndarray:
    """(L,) nats: each latent's KL from ``prior``, averaged over the batch of
    posteriors ``mean``, ``logvar`` (B, L)."""
    return np.asarray(jnp.mean(losses.prior_kl_per_dimension(mean, logvar, prior=prior),
                               axis=0))


def _decode(model, params, z, link: str = "sigmoid"):
    """Pictures from codes: the decoder's output through ``link``
    (:func:`denoising.apply_link`), clipped to [0, 1]."""
    out = model.apply({"params": params}, z, method=models.Autoencoder.decode)
    return np.asarray(jnp.clip(denoising.apply_link(out, link), 0.0, 1.0))


def reconstruction_and_kl(model, params, images, key, *, likelihood: str = "bernoulli",
                          prior: str = "gaussian") -> tuple[float, float]:
    """The ELBO's two terms on ``images`` (B, H, W, C) in [0, 1], averaged over the
    batch: (reconstruction nats, decoded from one posterior sample drawn with
    ``key``; KL nats from the prior, summed over latents)."""
    mean, logvar = _posterior(model, params, images)
    z = losses.reparameterize(key, mean, logvar)
    logits = model.apply({"params": params}, z, method=models.Autoencoder.decode)
    rec = losses.reconstruction_nll(logits, images, likelihood=likelihood)
    kl = jnp.sum(losses.prior_kl_per_dimension(mean, logvar, prior=prior), axis=-1)
    return float(jnp.mean(rec)), float(jnp.mean(kl))


def run_metrics(representation_fn, data, *, seed: int, sizes: str = "standard",
                progress: bool = True, dci_trees: str = "sklearn") -> tuple[dict, dict]:
    """Every metric on one representation (memoised where the dataset allows):
    (results, seconds per metric).

    ``dci_trees``: the tree learner of :func:`vaejax.evaluation.metrics.dci`."""
    rep = representation_fn
    if not hasattr(rep, "codes_for") and data.deterministic:
        rep = codes.MemoizedRepresentation(representation_fn, data, progress=progress)
    results, seconds = {}, {}
    for name, fn in tqdm(metrics.ALL_METRICS.items(), desc="Metrics", disable=not progress):
        start = time.perf_counter()
        # both Higgins protocols at the same sizes
        kwargs = dict(SIZES[sizes].get(fn.__name__.removesuffix("_dlib"), {}))
        if fn is metrics.dci:
            kwargs["trees"] = dci_trees
        results[name] = fn(rep, data, seed=seed, **kwargs)
        seconds[name] = time.perf_counter() - start
    return results, seconds


def evaluate(workdir: str | Path, *, seed: int = 0, sizes: str = "standard",
             data_source: str | None = None, progress: bool = True,
             dci_trees: str = "sklearn", replica: int | None = None,
             out_dir: str | Path | None = None) -> dict:
    """Writes the pictures and ``metrics.json`` for ``workdir``; returns the metrics dict.

    For a run of N > 1 replicas, evaluates replica ``replica`` into
    ``eval/replica_<i>/``, or with None every replica, each into its own
    directory, plus ``eval/summary.json`` (each metric's per-replica
    values, mean and std); it then returns that summary. A one-model run
    writes into ``eval/``. ``out_dir`` replaces ``workdir/eval``.

    ``dci_trees``: ``"sklearn"`` (the reference) or ``"lightgbm"`` (much
    faster, approximate; see :func:`vaejax.evaluation.metrics.dci`).

    The run's dataset (``config.dataset``) supplies the images; ``data_source``
    (a ``config.data_source`` string) says where its files are. None: for
    dSprites and its variants, at standard sizes the cached simulated grid
    (rendered once; the metrics then read ~all of it), at smaller sizes the
    renderer, image by image; for other datasets the run's own
    ``config.data_source``. A dataset without factors (CelebA, a folder of
    pictures) gets the pictures alone; so does one whose files hold part of
    the factor grid, with the reason in ``metrics.json`` (``metrics_skipped``).
    """
    if sizes not in SIZES:
        raise ValueError(f"sizes must be one of {sorted(SIZES)}, got {sizes!r}")
    if dci_trees not in metrics.DCI_TREES:
        raise ValueError(f"dci_trees must be one of {metrics.DCI_TREES}, got {dci_trees!r}")
    workdir = Path(workdir)
    config = checkpoint.load_config(workdir)
    n = train.num_replicas(config)
    out = Path(out_dir) if out_dir is not None else workdir / "eval"
    data = dataset_for(config, data_source, sizes=sizes, seed=seed, progress=progress)
    kwargs = dict(seed=seed, sizes=sizes, progress=progress, dci_trees=dci_trees)
    if n == 1:
        if replica not in (None, 0):
            raise ValueError(f"replica must be 0 or None for the one-model run in {workdir}, "
                             f"got {replica}")
        return _evaluate_one(workdir, None, out, data, **kwargs)
    if replica is not None:
        return _evaluate_one(workdir, replica, out / f"replica_{replica}", data, **kwargs)
    reports = [_evaluate_one(workdir, i, out / f"replica_{i}", data, **kwargs)
               for i in range(n)]
    summary = summarize_replicas(reports)
    ranking = udr_ranking([(workdir, i) for i in range(n)], data, seed=seed)
    (out / "udr.json").write_text(json.dumps(ranking, indent=2))
    summary["udr"] = {k: ranking[k] for k in ("chosen", "scores", "skipped") if k in ranking}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


UDR_IMAGES = 1000  # disentanglement_lib's udr configuration


def udr_ranking(models: list[tuple[Path, int | None]], data, *, seed: int = 0,
                num_images: int = UDR_IMAGES) -> dict:
    """The UDR of models of one setting (:mod:`vaejax.evaluation.udr`): each
    ``(workdir, replica)`` encodes the same ``num_images`` images of ``data``
    (drawn with ``seed``), labels not used.

    Returns ``models`` (their names), ``scores`` (method -> one per model),
    ``pairwise``, ``informative`` (latents per model with mean KL > 0.01
    nats), and ``chosen``: the index of the best model by the Lasso UDR, the
    paper's main variant. Models without a posterior variance
    (deterministic autoencoders) have no KL: then ``skipped`` says so."""
    images = jnp.asarray(data.sample_images(num_images, np.random.default_rng(seed)))
    names, means, kls = [], [], []
    for workdir, replica in models:
        config, model, params, _ = load_model(workdir, replica=replica)
        names.append(str(workdir) if replica is None else f"{workdir} replica {replica}")
        mean, logvar = _posterior(model, params, images)
        if logvar is None:
            return dict(models=names, skipped=f"{names[-1]} is a deterministic autoencoder: "
                        "UDR needs each latent's KL from the prior")
        prior = config.get("prior", "gaussian")
        means.append(np.asarray(mean))
        kls.append(mean_kl_per_latent(mean, logvar, prior))
    out = dict(models=names, images=num_images, seed=seed, scores={}, pairwise={})
    for method in udr.METHODS:
        result = udr.udr(means, kls, method=method, seed=seed)
        out["scores"][method] = result["scores"]
        out["pairwise"][method] = [[None if np.isnan(v) else v for v in row]
                                   for row in result["pairwise"]]  # JSON has no NaN
        out["informative"] = result["informative"]
    out["chosen"] = int(np.argmax(out["scores"]["lasso"]))
    return out


def dataset_for(config, data_source: str | None, *, sizes: str = "standard", seed: int = 0,
                progress: bool = True):
    """The dataset evaluation reads for a run's ``config`` (see :func:`evaluate`)."""
    name = datasets.config_dataset(config)
    channels = datasets.image_channels(config)
    if data_source is None and name in datasets.DSPRITES_FAMILY:
        # the run's scream picture, with the simulated grid or the renderer
        _, image = datasets.split_dsprites_source(config.data_source)
        return datasets.dsprites_family(name, "simulated" if sizes == "standard" else None,
                                        image=image, seed=seed, progress=progress)
    return datasets.load(name, config.data_source if data_source is None else data_source,
                         channels=channels, seed=seed, progress=progress)


def _flat_metrics(report: dict) -> dict:
    return {f"{metric}/{name}": value for metric, values in report["metrics"].items()
            for name, value in values.items()}


def summarize_replicas(reports: list[dict]) -> dict:
    """Per-replica reports -> ``metrics``: ``"metric/field"`` -> ``values`` (one per
    replica), ``mean``, ``std``; ``active_latents`` per replica; total ``seconds``."""
    flat = [_flat_metrics(r) for r in reports]
    extra = {k: reports[0][k] for k in ("dataset", "metrics_skipped") if k in reports[0]}
    table = {}
    for key in flat[0]:
        values = [f[key] for f in flat]
        table[key] = dict(values=values, mean=float(np.mean(values)), std=float(np.std(values)))
    elbo = {}
    if all(r.get("elbo") for r in reports):
        for key in ("reconstruction", "kl"):
            values = [r["elbo"][key] for r in reports]
            elbo[key] = dict(values=values, mean=float(np.mean(values)),
                             std=float(np.std(values)))
    return dict(workdir=reports[0]["workdir"], config=reports[0]["config"],
                step=reports[0]["step"], replicas=len(reports), metrics=table,
                elbo=elbo or None, active_latents=[r["active_latents"] for r in reports],
                seconds=float(sum(sum(r["seconds"].values()) for r in reports)), **extra)


DENOISING_IMAGES = 1000
MAP_POINTS = 5000


def autoencoder_uses(model, params, data, out_dir: Path, *, seed: int = 0,
                     representation=None, link: str = "sigmoid") -> dict:
    """What a deterministic autoencoder is good for, into ``out_dir``: denoising
    (``denoising.png``: corrupted inputs, outputs, clean targets at 30 %;
    ``denoising_curve.png``; the returned dict, :func:`denoising.curves` on
    ``DENOISING_IMAGES`` images) and, given the dataset's ``representation``
    (a dataset with factors), ``code_map.png``: the code in 2-D, coloured by
    each factor (``MAP_POINTS`` images)."""
    rng = np.random.default_rng(seed + 1)
    images = data.sample_images(DENOISING_IMAGES, rng)
    curve = denoising.curves(model, params, images, seed=seed, link=link)
    denoising.save_examples(out_dir / "denoising.png", model, params, images, seed=seed,
                            link=link)
    denoising.save_curves(out_dir / "denoising_curve.png", {"this model": curve})
    if representation is not None:
        classes, points = metrics.sample_codes(representation, data, MAP_POINTS, rng)
        xy, how = code_map.coordinates(points)
        names = [data.factor_names[k] for k in data.varying_factors]
        code_map.save_map(out_dir / "code_map.png", xy, classes, names, how)
    return curve


def _evaluate_one(workdir: Path, replica: int | None, out_dir: Path, data, *, seed: int,
                  sizes: str, progress: bool, dci_trees: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    config, model, params, step = load_model(workdir, replica=replica)
    if tuple(data.observation_shape) != tuple(model.image_shape):
        raise checkpoint.CheckpointError(
            f"the model in {workdir} reads images of shape {tuple(model.image_shape)}, but "
            f"{data.name} ({data.source}) has {tuple(data.observation_shape)}")
    link = denoising.output_link(config)  # how decoder outputs become pictures
    rng = np.random.default_rng(seed)

    # Reconstructions of random images (decoded from the posterior mean).
    images = data.sample_images(16, rng)
    code, _ = _posterior(model, params, jnp.asarray(images))
    visualize.save_reconstructions(out_dir / "reconstructions.png", images,
                                   _decode(model, params, code, link))

    # KL per latent (or code spread for a deterministic autoencoder).
    sample = jnp.asarray(data.sample_images(1024, rng))
    mean, logvar = _posterior(model, params, sample)
    prior = config.get("prior", "gaussian")  # saved configs before priors lack the field
    elbo = None
    if logvar is not None:
        spread = mean_kl_per_latent(mean, logvar, prior)
        centre, width = np.zeros(spread.shape), np.ones(spread.shape)
        rec, kl = reconstruction_and_kl(model, params, sample, jax.random.key(seed),
                                        likelihood=config.get("likelihood", "bernoulli"),
                                        prior=prior)
        elbo = dict(reconstruction=rec, kl=kl, images=int(len(sample)))
    else:
        spread = np.asarray(jnp.std(mean, axis=0))
        centre, width = np.asarray(jnp.mean(mean, axis=0)), spread
    order = np.argsort(-spread)
    visualize.save_kl_bars(out_dir / "kl_per_latent.png", spread)

    # Which factor each latent carries (normalised MI), printed on the traversal rows.
    skipped = None
    if not data.has_factors:
        skipped = f"the {data.name} dataset has no ground-truth factors"
    elif not data.is_complete:
        skipped = data.missing_message()
    representation = objectives.get(config.objective).representation(model, params)
    table, labels = None, None
    if skipped is None:
        if data.deterministic:
            representation = codes.MemoizedRepresentation(representation, data,
                                                           progress=progress)
        table = metrics.latent_factor_table(representation, data, seed=seed,
                                            **SIZES[sizes].get("latent_factor_table", {}))
        labels = [f"{f} {max(row):.2f}" for f, row in zip(table["best_factor"], table["nmi"])]

    limit = traversal_limit(prior) if logvar is not None else 3.0
    values, z = traversal_codes(model, np.asarray(code[0]), centre, width, limit=limit)
    decoded = _decode(model, params, jnp.asarray(z.reshape(-1, len(spread)), jnp.float32),
                      link)
    decoded = decoded.reshape((len(spread), len(values)) + tuple(model.image_shape))
    visualize.save_traversals(out_dir / "traversals.png", out_dir / "traversals.gif", decoded,
                              order, spread, values, labels=labels)
    visualize.save_latent_gifs(out_dir / "traversals", decoded)

    # Sliders over the same ranges, decoded in the report page's own script.
    program = explorer.decoder_program(model, params)
    explorer_path = out_dir / "explorer.html"
    if program is not None:
        explorer_path.write_text(explorer.explorer_html(
            program, np.asarray(code[0]), spread, centre - limit * width,
            centre + limit * width, model.image_shape,
            spread_name="KL" if logvar is not None else "std",
            link=link), encoding="utf-8")
        explorer_note = "explorer.html"
    else:
        explorer_path.unlink(missing_ok=True)
        explorer_note = (f"no explorer: the {config.architecture} decoder is not one the "
                         f"page's script runs, or has over {explorer.MAX_PARAMS:,} weights")

    uses = autoencoder_uses(model, params, data, out_dir, seed=seed, representation=(
        representation if skipped is None else None), link=link
    ) if logvar is None else None

    results, seconds = {}, {}
    if skipped is None:
        results, seconds = run_metrics(representation, data, seed=seed, sizes=sizes,
                                       progress=progress, dci_trees=dci_trees)
    elif progress:
        print(f"metrics skipped: {skipped}")
    report = dict(workdir=str(workdir), config=config.name, step=int(step), replica=replica,
                  seed=seed, dataset=data.name, data_source=data.source,
                  sizes=sizes, dci_trees=dci_trees, metrics=results, seconds=seconds,
                  kl_per_latent=spread.tolist() if logvar is not None else None,
                  active_latents=int(np.sum(spread > 0.1)) if logvar is not None else None,
                  elbo=elbo, latent_factors=table, explorer=explorer_note,
                  denoising=uses)
    if skipped is not None:
        report["metrics_skipped"] = skipped
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    return report
