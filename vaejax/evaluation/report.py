"""One self-contained HTML page per run: ``report.html``.

Reads what training and evaluation wrote (``config.json``, ``metrics.jsonl``,
the ``eval`` directory of :func:`vaejax.evaluation.evaluate.evaluate`) and
writes one file with every image embedded (``data:`` URIs; no network, no
other files): the config, the training curves, and per model (per replica
of a replicated run, plus a summary) the metrics beside their published
values, reconstructions, traversals (PNG and one GIF per latent, rows by
KL), KL per latent and the latent x factor mutual-information heatmap.

A small script in the page records, once it has loaded, how many of its
images decoded (``naturalWidth > 0``) in ``<pre id="image-check">``: a
headless browser's ``--dump-dom`` reads it back.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vaejax.errors import CheckpointError  # noqa: E402
from vaejax.evaluation import references  # noqa: E402

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; font-size: .9em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; image-rendering: pixelated; }
.latents { display: flex; flex-wrap: wrap; gap: 1em; }
.latent { text-align: center; font-size: .85em; }
.muted { color: #777; }
"""

_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var check = document.getElementById("image-check");
  check.textContent = JSON.stringify({images: images.length, loaded: loaded.length});
});
"""


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _img(data: bytes, mime: str, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img src="{_data_uri(data, mime)}" alt="{html.escape(alt)}"{size}>'


def _file_img(path: Path, alt: str, width: int | None = None) -> str:
    mime = {".png": "image/png", ".gif": "image/gif"}[path.suffix]
    return _img(path.read_bytes(), mime, alt, width)


def _figure_img(fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return _img(buffer.getvalue(), "image/png", alt)


def read_metrics_log(path: Path) -> list[dict]:
    """The records of ``metrics.jsonl`` (an empty list when there is none)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _curves(records: list[dict], title: str) -> str:
    """Loss, reconstruction, KL and KL per latent over training steps."""
    scalars = [k for k in ("loss", "reconstruction", "kl") if any(k in r for r in records)]
    per_latent = [r for r in records if "kl_per_dim" in r]
    panels = len(scalars) + bool(per_latent)
    if not panels:
        return '<p class="muted">no training metrics logged</p>'
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 2.8), squeeze=False)
    for ax, name in zip(axes[0], scalars):
        rows = [r for r in records if name in r]
        ax.plot([r["step"] for r in rows], [r[name] for r in rows])
        ax.set_title(name + (" (nats)" if name != "loss" else ""), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if name != "kl" and min(r[name] for r in rows) > 0:
            ax.set_yscale("log")
    if per_latent:
        ax = axes[0][-1]
        steps = [r["step"] for r in per_latent]
        values = np.array([r["kl_per_dim"] for r in per_latent])
        for d in range(values.shape[1]):
            ax.plot(steps, values[:, d], label=f"z{d}", linewidth=1)
        ax.set_title("KL per latent (nats)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    for ax in axes[0]:
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _figure_img(fig, f"training curves: {title}")


def _heatmap(table: dict) -> str:
    """Normalised mutual information of each latent (rows) with each factor."""
    nmi = np.array(table["nmi"])
    fig, ax = plt.subplots(figsize=(1.2 * nmi.shape[1] + 1.5, 0.35 * nmi.shape[0] + 1.2))
    image = ax.imshow(nmi, cmap="viridis", vmin=0, vmax=max(1e-6, float(nmi.max())))
    ax.set_xticks(range(nmi.shape[1]), table["factors"], fontsize=8, rotation=30, ha="right")
    ax.set_yticks(range(nmi.shape[0]), [f"z{d}" for d in range(nmi.shape[0])], fontsize=8)
    for (i, j), v in np.ndenumerate(nmi):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                color="white" if v < 0.6 * nmi.max() else "black")
    fig.colorbar(image, ax=ax, fraction=0.05)
    ax.set_title("normalised MI, latent x factor", fontsize=9)
    fig.tight_layout()
    return _figure_img(fig, "latent x factor mutual information")


def _metric_rows(metrics: dict, model: str, dataset: str = "dsprites") -> str:
    # the published figures are dSprites' (the variants' differ): shown beside dSprites only
    refs = {(m, f): references.lookup(m, f, model) if dataset == "dsprites" else {}
            for m, fields in metrics.items() for f in fields}
    sources = [s for s in references.SOURCES if any(s in r for r in refs.values())]
    rows = []
    for (metric, field), ref in refs.items():
        cells = "".join(f"<td>{html.escape(ref.get(s, ''))}</td>" for s in sources)
        rows.append(f"<tr><td>{metric}</td><td>{field}</td>"
                    f'<td class="num">{_fmt(metrics[metric][field])}</td>{cells}</tr>')
    heads = "".join(f"<th>{references.SOURCES[s]}</th>" for s in sources)
    return (f"<table><tr><th>metric</th><th>field</th><th>this run</th>{heads}</tr>"
            + "".join(rows) + f'</table><p class="muted">{references.NOTE}</p>')


def _fmt(value) -> str:
    if isinstance(value, dict):  # summary entries
        return f"{value['mean']:.4g} &plusmn; {value['std']:.2g}"
    return f"{value:.4g}" if isinstance(value, (int, float)) else html.escape(str(value))


def _model_section(eval_dir: Path, model: str, heading: str, explore: bool = True) -> str:
    report = json.loads((eval_dir / "metrics.json").read_text())
    dataset = report.get("dataset", "dsprites")
    parts = [f"<h2>{html.escape(heading)}</h2>",
             f"<p>step {report['step']}; dataset <b>{html.escape(dataset)}</b>; metrics at "
             f"<b>{report['sizes']}</b> sizes, seed {report['seed']}; active latents "
             f"(KL &gt; 0.1): {report.get('active_latents')}</p>", "<h3>Metrics</h3>"]
    if report.get("metrics_skipped"):
        parts.append(f'<p class="muted">not computed: '
                     f'{html.escape(report["metrics_skipped"])}</p>')
    else:
        parts.append(_metric_rows(report["metrics"], model, dataset))
    if (eval_dir / "reconstructions.png").is_file():
        parts += ["<h3>Reconstructions</h3>",
                  '<p class="muted">rows of images, each followed by its reconstruction</p>',
                  _file_img(eval_dir / "reconstructions.png", "reconstructions")]
    kl = report.get("kl_per_latent")
    table = report.get("latent_factors")
    gifs = sorted((eval_dir / "traversals").glob("z*.gif"), key=lambda p: int(p.stem[1:]))
    if gifs:
        order = np.argsort(-np.array(kl)) if kl else range(len(gifs))
        cells = []
        for d in order:
            label = f"z{d}"
            if kl:
                label += f" &middot; KL {kl[d]:.2f}"
            if table:
                label += f"<br>{table['best_factor'][d]} {max(table['nmi'][d]):.2f}"
            cells.append(f'<div class="latent">{_file_img(gifs[d], f"traversal of z{d}", 128)}'
                         f"<br>{label}</div>")
        parts += ["<h3>Traversals, one latent each (largest KL first)</h3>",
                  '<div class="latents">' + "".join(cells) + "</div>"]
    if (eval_dir / "traversals.png").is_file():
        parts.append(_file_img(eval_dir / "traversals.png", "traversals"))
    if explore and (eval_dir / "explorer.html").is_file():
        parts += ["<h3>Explore the code</h3>",
                  '<p class="muted">each slider sets one latent (largest KL first), starting at '
                  "the code of the traversals' seed image; the page decodes every change "
                  "itself</p>", (eval_dir / "explorer.html").read_text(encoding="utf-8")]
    elif explore and (report.get("explorer") or "").startswith("no explorer"):
        parts.append(f'<p class="muted">{html.escape(report["explorer"])}</p>')
    if (eval_dir / "denoising.png").is_file():
        parts += ["<h3>What this autoencoder is good for</h3>",
                  '<p class="muted">denoising: corrupted inputs (30 %), outputs and clean '
                  "targets; then the output's error against the clean image over noise "
                  "levels</p>", _file_img(eval_dir / "denoising.png", "denoising examples")]
        if (eval_dir / "denoising_curve.png").is_file():
            parts.append(_file_img(eval_dir / "denoising_curve.png", "denoising error"))
        if (eval_dir / "code_map.png").is_file():
            parts += ['<p class="muted">visualisation: the code in 2-D, coloured by each '
                      "factor</p>", _file_img(eval_dir / "code_map.png", "map of the code")]
    if (eval_dir / "kl_per_latent.png").is_file():
        parts += ["<h3>KL per latent</h3>",
                  _file_img(eval_dir / "kl_per_latent.png", "KL per latent")]
    if table:
        parts += ["<h3>Which factor each latent carries</h3>", _heatmap(table)]
    return "\n".join(parts)


def _udr_section(ranking: dict, replica_dirs: list[Path]) -> str:
    """The replicas ranked by UDR (no labels), beside their supervised scores."""
    parts = ["<h2>Which replica: unsupervised ranking (UDR)</h2>"]
    if ranking.get("skipped"):
        return parts[0] + f'<p class="muted">not computed: {html.escape(ranking["skipped"])}</p>'
    supervised = {}
    for d in replica_dirs:
        metrics = json.loads((d / "metrics.json").read_text()).get("metrics", {})
        supervised[int(d.name.split("_")[1])] = metrics
    rows = []
    scores = ranking["scores"]
    for i in np.argsort(-np.array(scores["lasso"])):
        m = supervised.get(int(i), {})
        fvae = m.get("factor_vae", {}).get("eval_accuracy")
        mig = m.get("mig", {}).get("mig")
        mark = " &#9733; chosen" if i == ranking["chosen"] else ""
        rows.append(f"<tr><td>{i}{mark}</td><td class=\"num\">{scores['lasso'][i]:.3f}</td>"
                    f"<td class=\"num\">{scores['spearman'][i]:.3f}</td>"
                    f"<td class=\"num\">{ranking['informative'][i]}</td>"
                    f"<td class=\"num\">{'' if fvae is None else f'{fvae:.3f}'}</td>"
                    f"<td class=\"num\">{'' if mig is None else f'{mig:.3f}'}</td></tr>")
    parts += ["<p>UDR (Duan et al. 2020) scores each replica by how alike the other seeds "
              "encode the same images, up to permutation and sign, with no labels; the chosen "
              f"replica has the highest Lasso UDR ({ranking['images']} images). The supervised "
              "scores beside it are for comparison.</p>",
              "<table><tr><th>replica</th><th>UDR (Lasso)</th><th>UDR (Spearman)</th>"
              "<th>informative latents</th><th>FactorVAE</th><th>MIG</th></tr>"
              + "".join(rows) + "</table>"]
    return "\n".join(parts)


def _config_table(config: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in sorted(config.items()))
    return f"<details><summary>config ({len(config)} fields)</summary><table>{rows}</table></details>"


def build_report(workdir: str | Path, eval_dir: str | Path | None = None) -> str:
    """The HTML text of the report of ``workdir`` (evaluated into ``eval_dir``,
    default ``workdir/eval``)."""
    workdir = Path(workdir)
    eval_dir = Path(eval_dir) if eval_dir is not None else workdir / "eval"
    config_path = workdir / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"no config.json in {workdir}: not a workdir that "
                              "experiments.run has trained in")
    config = json.loads(config_path.read_text())
    name = config.get("name", workdir.name)
    model = references.model_kind(config)
    records = read_metrics_log(workdir / "metrics.jsonl")
    replicas = sorted({r["replica"] for r in records if "replica" in r})
    body = [f"<h1>{html.escape(name)}</h1>",
            f"<p>workdir <code>{html.escape(str(workdir))}</code>; "
            f"dataset {html.escape(str(config.get('dataset', 'dsprites')))}, "
            f"objective {html.escape(str(config.get('objective')))}, "
            f"architecture {html.escape(str(config.get('architecture')))}, "
            f"{config.get('num_steps')} steps at batch {config.get('batch_size')}</p>",
            _config_table(config), "<h2>Training</h2>"]
    if replicas:
        for i in replicas:
            body.append(_curves([r for r in records if r.get("replica") == i], f"replica {i}"))
    else:
        body.append(_curves(records, name))

    replica_dirs = sorted((d for d in eval_dir.glob("replica_*")
                           if (d / "metrics.json").is_file()),
                          key=lambda d: int(d.name.split("_")[1]))
    if (eval_dir / "metrics.json").is_file():
        body.append(_model_section(eval_dir, model, "Evaluation"))
    if (eval_dir / "summary.json").is_file():
        summary = json.loads((eval_dir / "summary.json").read_text())
        nested: dict = {}
        for key, entry in summary["metrics"].items():
            metric, field = key.split("/", 1)
            nested.setdefault(metric, {})[field] = entry
        body += [f"<h2>Summary over {summary['replicas']} replicas</h2>",
                 "<p>mean &plusmn; std over replicas; active latents per replica: "
                 f"{summary['active_latents']}</p>",
                 _metric_rows(nested, model, summary.get("dataset", "dsprites"))]
    ranking = None
    if (eval_dir / "udr.json").is_file():
        ranking = json.loads((eval_dir / "udr.json").read_text())
        body.append(_udr_section(ranking, replica_dirs))
    chosen = ranking.get("chosen") if ranking else None
    for d in replica_dirs:
        i = int(d.name.split("_")[1])
        mark = " (chosen by UDR)" if i == chosen else ""
        # one explorer a page (each holds its decoder's weights): the chosen replica's
        body.append(_model_section(d, model, f"Replica {i}{mark}",
                                   explore=i == (chosen if chosen is not None else 0)))
    if not (eval_dir / "metrics.json").is_file() and not replica_dirs:
        body.append('<p class="muted">not evaluated yet: run <code>python -m '
                    'experiments.evaluate --workdir ...</code></p>')
    body.append('<pre id="image-check" class="muted"></pre>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(name)} - vaejax report</title><style>{_STYLE}</style>"
            f"<script>{_CHECK}</script></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(workdir: str | Path, eval_dir: str | Path | None = None,
                 path: str | Path | None = None) -> Path:
    """Writes :func:`build_report` to ``path``; returns the path.

    Default: ``workdir/report.html``, or ``eval_dir/report.html`` when the
    evaluation was written elsewhere."""
    workdir = Path(workdir)
    if path is None:
        path = workdir / "report.html" if eval_dir is None else Path(eval_dir) / "report.html"
    path = Path(path)
    text = build_report(workdir, eval_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
