"""The autoencoder chapter's two comparisons, over trained workdirs.

    # compression: reconstruction error against code size, PCA beside each model
    python -m experiments.autoencoder_study --study compression \
        --workdirs runs/lin2,runs/lin5,runs/conv2,runs/conv5 --output docs/results/compression
    # denoising: the denoising autoencoder against the plain one, over noise levels
    python -m experiments.autoencoder_study --study denoising \
        --workdirs runs/dae,runs/ae --output docs/results/denoising

Every workdir (a one-model run of one dataset) is scored on the same
``--images`` test images: compression, the mean squared error per pixel of
its reconstructions (intensities in [0, 1]), grouped by architecture, with
PCA fitted on ``--pca_images`` other images at each code size seen and at
``--pca_sizes``; denoising, :func:`vaejax.evaluation.denoising.curves` per
model. Writes OUTPUT.json and OUTPUT.png.
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from sklearn import decomposition  # noqa: E402

from experiments import cli  # noqa: E402
from vaejax import errors, train  # noqa: E402
from vaejax.evaluation import denoising, evaluate  # noqa: E402


def _define_flags():
    # Only when run as a program: importing this module defines no flag.
    flags.DEFINE_enum("study", None, ["compression", "denoising"], "Which comparison.")
    flags.DEFINE_list("workdirs", None, "Trained workdirs (comma-separated).")
    flags.DEFINE_string("output", None, "OUTPUT.json and OUTPUT.png are written.")
    flags.DEFINE_integer("images", 2000, "Test images every model is scored on.")
    flags.DEFINE_integer("pca_images", 10_000, "Images PCA is fitted on.")
    flags.DEFINE_list("pca_sizes", ["2", "5", "10", "20", "50"],
                      "Code sizes PCA is scored at (besides the models').")
    flags.DEFINE_integer("seed", 0, "Seed of the images drawn.")
    flags.mark_flags_as_required(["study", "workdirs", "output"])


def _label(config) -> str:
    """E.g. ``conv autoencoder``, ``conv autoencoder (max_pool, transpose)``,
    ``conv denoising autoencoder (salt_and_pepper 10%)``."""
    name = f"{config.architecture} autoencoder" if config.objective == "autoencoder" else (
        f"{config.architecture} {config.objective}")
    if config.get("corruption", "none") != "none":
        name = (f"{config.architecture} denoising {name.split(' ', 1)[1]} "
                f"({config.corruption} {config.corruption_rate:.0%})")
    resampling = (config.get("downsample", "stride"), config.get("upsample", "transpose"))
    if config.architecture == "conv" and resampling != ("stride", "transpose"):
        name += f" ({', '.join(resampling)})"
    return name


def compression(runs, data, test, seed: int, pca_images: int, pca_sizes) -> dict:
    """Rows of (model, architecture, latents, mse) for each run, and PCA's per size."""
    rows = []
    for workdir, config, model, params in runs:
        out = denoising.output_fn(model, params, link=denoising.output_link(config))(test)
        rows.append(dict(workdir=str(workdir), model=_label(config), latents=int(config.latents),
                         mse=float(np.mean((out - test) ** 2))))
    sizes = sorted({int(s) for s in pca_sizes} | {r["latents"] for r in rows})
    fit = data.sample_images(pca_images, np.random.default_rng(seed + 1)).reshape(pca_images, -1)
    flat = test.reshape(len(test), -1)
    for k in sizes:
        pca = decomposition.PCA(n_components=k, random_state=seed).fit(fit)
        recon = pca.inverse_transform(pca.transform(flat))
        rows.append(dict(model="PCA", latents=k, mse=float(np.mean((recon - flat) ** 2))))
    return dict(images=len(test), pca_images=pca_images, rows=rows)


def save_compression(path: Path, result: dict) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in sorted({r["model"] for r in result["rows"]}, key=lambda n: (n != "PCA", n)):
        points = sorted((r["latents"], r["mse"]) for r in result["rows"] if r["model"] == name)
        ax.plot(*zip(*points), "k--o" if name == "PCA" else "o-", label=name)
    ax.set_xscale("log")
    sizes = sorted({r["latents"] for r in result["rows"]})
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.minorticks_off()
    ax.set_xlabel("code size (latents / components)")
    ax.set_ylabel("reconstruction MSE per pixel")
    ax.set_title(f"compression: {result['images']} test images", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv):
    fl = flags.FLAGS
    cli.start(argv)
    if fl.images < 1 or fl.pca_images < 2:
        raise errors.InputError("--images must be positive and --pca_images at least 2")
    runs = []
    for w, config in zip(fl.workdirs,
                         cli.one_dataset_configs(fl.workdirs, "compare runs of one")):
        if train.num_replicas(config) > 1:
            raise errors.InputError(f"{w} holds {train.num_replicas(config)} replicas: give "
                                    "one-model runs")
    for w in fl.workdirs:
        config, model, params, _ = evaluate.load_model(w)
        runs.append((w, config, model, params))
    data = evaluate.dataset_for(runs[0][1], None, sizes="smoke", seed=fl.seed)
    test = data.sample_images(fl.images, np.random.default_rng(fl.seed))
    out = Path(fl.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fl.study == "compression":
        if any(int(s) > test[0].size for s in fl.pca_sizes):
            raise errors.InputError(f"--pca_sizes must not exceed the {test[0].size} pixels")
        result = compression(runs, data, test, fl.seed, fl.pca_images, fl.pca_sizes)
        save_compression(out.with_suffix(".png"), result)
        for r in sorted(result["rows"], key=lambda r: (r["model"], r["latents"])):
            print(f"{r['model']:28s} {r['latents']:4d} latents  MSE {r['mse']:.5f}")
    else:
        result = dict(images=len(test), models={})
        for w, config, model, params in runs:
            result["models"][f"{_label(config)} ({Path(w).name})"] = denoising.curves(
                model, params, test, seed=fl.seed, link=denoising.output_link(config))
        denoising.save_curves(out.with_suffix(".png"), result["models"])
        for name, res in result["models"].items():
            for kind in denoising.KINDS:
                errs = ", ".join(f"{e:.4f}" for e in res[kind]["output"])
                print(f"{name}, {kind}: MSE at rates {res['rates']}: {errs}")
    result["workdirs"] = list(fl.workdirs)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    print("wrote", out.with_suffix(".json"), "and", out.with_suffix(".png"))


if __name__ == "__main__":
    _define_flags()
    app.run(cli.reports_errors(main))
