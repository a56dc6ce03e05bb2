import subprocess
import sys
from pathlib import Path

import pytest

from experiments import metric_table, metric_table_config

ROOT = Path(__file__).resolve().parents[1]


def test_table_has_every_row_beside_the_paper():
    cfg = metric_table_config.get_config("smoke")
    names = ["ground truth factors", "raw pixels", "PCA", "ICA", "VAE untrained", "VAE",
             "beta-VAE"]
    per_seed = [{n: 50.0 + i for i, n in enumerate(names)},
                {n: 52.0 + i for i, n in enumerate(names)}]
    markdown, rows = metric_table.format_table(per_seed, cfg)
    assert "| PCA | 53.00 ± 1.00 | 84.9 ± 0.4 |" in markdown
    assert "| DC-IGN | not implemented yet | 99.3 ± 0.1 |" in markdown
    assert "| InfoGAN | not implemented yet |" in markdown
    assert [r[0] for r in rows[1:]] == ["ground truth factors", "raw pixels", "PCA", "ICA",
                                        "DC-IGN", "InfoGAN", "VAE untrained", "VAE", "beta-VAE"]
    assert "unscaled features" in markdown


@pytest.mark.slow
def test_metric_table_smoke_run(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.metric_table", "--config",
                           "experiments/metric_table_config.py:smoke", "--workdir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import csv

    rows = {r["representation"]: r for r in csv.DictReader(open(tmp_path / "table.csv"))}
    assert list(rows) == ["ground truth factors", "raw pixels", "PCA", "ICA", "DC-IGN",
                          "InfoGAN", "VAE untrained", "VAE", "beta-VAE"]
    means = {k: float(r["mean"]) for k, r in rows.items() if r["mean"]}
    # 60 / 40 points: the ground truth is not yet at 100 %, but leads every row.
    assert means["ground truth factors"] >= 85
    assert means["ground truth factors"] == max(means.values())
    assert "| ground truth factors |" in (tmp_path / "table.md").read_text()
