import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from experiments import base, metric_table, metric_table_config
from vaejax import train
from vaejax.data import GroundTruth

ROOT = Path(__file__).resolve().parents[1]
SCORED = ["ground truth factors", "raw pixels", "PCA", "ICA", "DC-IGN", "VAE untrained",
          "VAE", "beta-VAE"]  # InfoGAN left out: a row the config did not run


def _fake_scores():
    # 2 replicas x 3 classifier seeds (paper), one per replica (dlib)
    return {name: dict(paper=[[50.0 + i, 40.0 + i, 60.0 + i], [30.0 + i, 70.0 + i, 20.0 + i]],
                       dlib=[50.0 + i, 52.0 + i])
            for i, name in enumerate(SCORED)}


def test_table_has_both_protocols_beside_the_paper(tmp_path):
    cfg = metric_table_config.get_config("smoke")
    cfg.unlock()
    cfg.replicas, cfg.classifier_seeds = 2, 3
    metric_table.write_outputs(tmp_path, _fake_scores(), cfg, seconds=12.5)
    markdown = (tmp_path / "table.md").read_text()
    # PCA (i = 2): paper keeps the top 3 of 52, 42, 62, 32, 72, 22 -> 52, 62, 72.
    std = np.std([52.0, 62.0, 72.0])
    assert f"| PCA | 62.00 ± {std:.2f} | 53.00 ± 1.00 | — | — | — | 84.9 ± 0.4 |" in markdown
    assert ("| InfoGAN | not run | not run | not run | not run | not run | 73.5 ± 0.9 |"
            in markdown)
    assert "2 replicas x 3 classifier seeds, bottom half dropped" in markdown
    table = json.loads((tmp_path / "table.json").read_text())
    assert list(table["rows"]) == ["ground truth factors", "raw pixels", "PCA", "ICA", "DC-IGN",
                                   "InfoGAN", "VAE untrained", "VAE", "beta-VAE"]
    pca = table["rows"]["PCA"]
    assert pca["paper"] == dict(mean=62.0, std=pytest.approx(std), n=3)
    assert pca["dlib"] == dict(mean=53.0, std=1.0, n=2)
    assert pca["reference"] == "84.9 ± 0.4"
    assert table["rows"]["InfoGAN"] == dict(paper=None, dlib=None, factor_vae=None, mig=None,
                                            dci=None, reference="73.5 ± 0.9")
    assert table["seconds"] == 12.5 and table["config"]["replicas"] == 2
    assert "commit" in table
    img = np.asarray(Image.open(tmp_path / "table.png").convert("L"), np.float32)
    assert img.shape[0] > 200 and img.std() > 5


def test_table_reports_factor_vae_mig_and_dci_per_row(tmp_path):
    cfg = metric_table_config.get_config("smoke")
    scores = _fake_scores()
    scores["VAE"].update(factor_vae=[0.6, 0.5], mig=[0.05, 0.07], dci=[0.1, 0.2])
    scores["beta-VAE"].update(factor_vae=[0.8, 0.9], mig=[0.3, 0.2], dci=[0.4, 0.5])
    scores["raw pixels"].update(factor_vae=[0.4, 0.4], mig=[0.01, 0.03])  # no DCI
    metric_table.write_outputs(tmp_path, scores, cfg, seconds=1.0)
    rows = json.loads((tmp_path / "table.json").read_text())["rows"]
    assert rows["beta-VAE"]["factor_vae"] == dict(mean=pytest.approx(0.85),
                                                  std=pytest.approx(0.05), n=2)
    assert rows["beta-VAE"]["mig"]["mean"] == pytest.approx(0.25)
    assert rows["VAE"]["dci"] == dict(mean=pytest.approx(0.15), std=pytest.approx(0.05), n=2)
    assert rows["raw pixels"]["dci"] is None and rows["raw pixels"]["mig"]["n"] == 2
    markdown = (tmp_path / "table.md").read_text()
    assert "| FactorVAE | MIG | DCI disentanglement |" in markdown.splitlines()[0]
    assert "| beta-VAE | " in markdown and "| 0.850 ± 0.050 | 0.250 ± 0.050 | 0.450 ± 0.050 |" \
        in markdown
    assert "| 0.400 ± 0.000 | 0.020 ± 0.010 | — |" in markdown  # raw pixels: no DCI
    img = np.asarray(Image.open(tmp_path / "table.png").convert("L"), np.float32)
    assert img.shape[0] > 800  # the second panel


def test_score_representations_gives_every_metric_per_replica():
    cfg = metric_table_config.get_config("smoke")
    data = GroundTruth()
    truth = [metric_table.baselines.GroundTruthFactors(data=data)] * 2
    scores = metric_table.score_representations(cfg, data, truth, memoize=False)
    assert len(scores["paper"]) == 2 and len(scores["dlib"]) == 2
    for key in ("factor_vae", "mig", "dci"):
        assert len(scores[key]) == 2
    # The factors themselves: every factor in a dimension of its own.
    assert min(scores["factor_vae"]) > 0.9 and min(scores["mig"]) > 0.5
    assert min(scores["dci"]) > 0.7
    pixels = metric_table.score_representations(cfg, data, truth[:1], memoize=False,
                                                skip=("dci",))
    assert "dci" not in pixels and len(pixels["mig"]) == 1


@pytest.mark.parametrize("field,value,message", [
    ("metric_sizes", "huge", "metric_sizes must be one of"),
    ("dci_trees", "xgboost", "dci_trees must be one of")])
def test_bad_metric_settings_are_named_before_training(field, value, message, tmp_path):
    cfg = metric_table_config.get_config("smoke")
    cfg.unlock()
    cfg[field] = value
    with pytest.raises(ValueError, match=message):
        metric_table.score_rows(cfg, tmp_path, progress=False)
    assert not (tmp_path / "vae").exists()


def _run_table(variant, workdir, timeout):
    proc = subprocess.run([sys.executable, "-m", "experiments.metric_table", "--config",
                           f"experiments/metric_table_config.py:{variant}", "--workdir",
                           str(workdir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_metric_table_smoke_run(tmp_path):
    _run_table("smoke", tmp_path, timeout=900)
    rows = json.loads((tmp_path / "table.json").read_text())["rows"]
    for protocol, replicas_kept in (("paper", 2), ("dlib", 2)):  # 2 x 2 seeds, half kept
        means = {k: r[protocol]["mean"] for k, r in rows.items() if r[protocol]}
        assert rows["VAE"][protocol]["n"] == replicas_kept
        # 60 / 40 points: the ground truth is not always at 100 %, but leads every row.
        assert means["ground truth factors"] >= 85
        assert means["ground truth factors"] == max(means.values())
    for key in ("factor_vae", "mig", "dci"):
        assert rows["VAE"][key]["n"] == 2 and 0 <= rows["VAE"][key]["mean"] <= 1
    assert rows["raw pixels"]["dci"] is None and rows["raw pixels"]["mig"] is not None
    # Every model row trained once, as one 2-replica run each.
    for row in ("vae", "beta_vae", "dc_ign", "infogan"):
        config = json.loads((tmp_path / row / "config.json").read_text())
        assert config["replicas"] == 2
    assert rows["DC-IGN"]["paper"]["n"] == 2 and rows["InfoGAN"]["paper"]["n"] == 2
    assert "| ground truth factors |" in (tmp_path / "table.md").read_text()


@pytest.mark.slow
def test_metric_table_smoke_run_with_all_models(tmp_path):
    _run_table("smoke,all", tmp_path, timeout=1800)
    table = json.loads((tmp_path / "table.json").read_text())
    assert list(table["rows"]) == list(metric_table.ROWS) + list(metric_table.EXTRA_ROWS)
    objectives = {"beta_tcvae": "beta_tcvae", "factor_vae": "factor_vae",
                  "annealed_vae": "capacity", "dip_vae_i": "dip_vae", "dip_vae_ii": "dip_vae"}
    for row, prefix in zip(metric_table.EXTRA_ROWS, objectives):
        assert table["rows"][row]["dlib"]["n"] == 2 and table["rows"][row]["reference"] == "—"
        config = json.loads((tmp_path / prefix / "config.json").read_text())
        assert config["objective"] == objectives[prefix] and config["replicas"] == 2
    assert json.loads((tmp_path / "dip_vae_ii" / "config.json").read_text())["dip_type"] == "ii"


def test_extra_rows_follow_the_papers_without_a_reference(tmp_path):
    cfg = metric_table_config.get_config("smoke,all")
    scores = _fake_scores()
    scores["DIP-VAE-II"] = dict(paper=[[80.0, 90.0], [70.0, 60.0]], dlib=[75.0, 85.0])
    metric_table.write_outputs(tmp_path, scores, cfg, seconds=1.0)
    table = json.loads((tmp_path / "table.json").read_text())
    # Extra rows scored are listed after the paper's nine; unscored extra rows are left out.
    assert list(table["rows"])[:9] == list(metric_table.ROWS)
    assert list(table["rows"])[9:] == ["DIP-VAE-II"]
    assert table["rows"]["DIP-VAE-II"]["reference"] == "—"
    assert table["rows"]["DIP-VAE-II"]["dlib"] == dict(mean=80.0, std=5.0, n=2)
    assert "| DIP-VAE-II | 85.00 ± 5.00 | 80.00 ± 5.00 | — | — | — | — |" in (
        tmp_path / "table.md").read_text()
    assert (tmp_path / "table.png").stat().st_size > 0


@pytest.mark.parametrize("scale", ["cpu", "smoke", "paper"])
def test_all_variant_trains_disentanglement_libs_six_models(scale):
    cfg = metric_table_config.get_config(f"{scale},all")
    assert metric_table.trained_rows(cfg) == metric_table.MODEL_ROWS
    plain = metric_table_config.get_config(scale)
    assert metric_table.trained_rows(plain) == ("VAE", "beta-VAE", "DC-IGN", "InfoGAN")
    # ``all`` adds rows and changes nothing else.
    changed = {k for k, v in cfg.items() if plain[k] != v}
    assert changed == {f"{prefix}_config" for prefix in metric_table_config.EXTRA_MODELS}
    expected = {"beta-TCVAE": "beta_tcvae", "FactorVAE": "factor_vae",
                "AnnealedVAE": "capacity", "DIP-VAE-I": "dip_vae", "DIP-VAE-II": "dip_vae"}
    workdirs = set()
    for row, objective in expected.items():
        name, variant = metric_table.row_training_config(cfg, row)
        model = metric_table.model_config(name, variant, 0, cfg.num_steps, cfg.replicas)
        assert model.objective == objective and model.replicas == cfg.replicas
        if scale != "paper":
            assert scale in variant.split(",")
        if cfg.num_steps:
            assert model.num_steps == cfg.num_steps
        if objective == "capacity" and cfg.num_steps:  # C at its maximum in a shortened run
            assert model.capacity_steps <= 3 * model.num_steps // 4
            assert model.gamma_warmup_steps <= model.num_steps // 4
        if objective == "dip_vae":
            assert model.dip_type == ("ii" if row == "DIP-VAE-II" else "i")
        workdirs.add(metric_table.row_workdir(Path("w"), row))
    assert len(workdirs) == len(expected)


@pytest.mark.parametrize("arg", ["bogus", "cpu,smoke", "cpu,al"])
def test_bad_table_variant_is_named(arg):
    with pytest.raises(ValueError, match="unknown variant"):
        metric_table_config.get_config(arg)


def test_paper_scale_trains_the_papers_models():
    cfg = metric_table_config.get_config("paper")
    assert cfg.replicas == 10 and cfg.num_steps == 300_000
    assert (cfg.higgins_num_train, cfg.higgins_num_eval) == (10_000, 5_000)
    for name, variant, beta in ((cfg.vae_config, cfg.vae_variant, 1.0),
                                (cfg.beta_vae_config, cfg.beta_vae_variant, 4.0)):
        model = metric_table.model_config(name, variant, 0, cfg.num_steps, cfg.replicas)
        assert model.architecture == "fc" and model.optimizer == "adagrad"
        assert model.learning_rate == 1e-2 and model.batch_size == 64
        assert model.beta == beta and model.replicas == 10 and model.num_steps == 300_000
    dc_ign = metric_table.model_config(cfg.dc_ign_config, cfg.dc_ign_variant, 0, cfg.num_steps,
                                       cfg.replicas)
    assert dc_ign.objective == "dc_ign" and dc_ign.beta == 1.0 and dc_ign.replicas == 10
    infogan = metric_table.model_config(cfg.infogan_config, cfg.infogan_variant, 0,
                                        cfg.num_steps, cfg.replicas)
    assert infogan.objective == "infogan" and infogan.latents == 5 and infogan.replicas == 10
    assert metric_table.trained_rows(cfg) == ("VAE", "beta-VAE", "DC-IGN", "InfoGAN")


def test_a_stopped_table_scores_only_the_rows_it_had_not_finished(tmp_path, monkeypatch):
    cfg = metric_table_config.get_config("smoke")
    assert tuple(metric_table.baseline_representations(cfg, GroundTruth())) == \
        metric_table.BASELINE_ROWS
    calls = dict(score=0, baselines=0)
    trained = []

    def fake_score(cfg, data, reps, *, memoize=True, progress=False, skip=()):
        calls["score"] += 1
        if calls["score"] == stop_at:
            raise KeyboardInterrupt
        return dict(paper=[[float(calls["score"])] * 2] * len(reps), dlib=[1.0] * len(reps))

    def fake_baselines(cfg, data):
        calls["baselines"] += 1
        return {row: [None] * cfg.replicas for row in metric_table.BASELINE_ROWS}

    monkeypatch.setattr(metric_table, "score_representations", fake_score)
    monkeypatch.setattr(metric_table, "baseline_representations", fake_baselines)
    monkeypatch.setattr(metric_table, "model_representations", lambda workdir, n: [None] * n)
    monkeypatch.setattr(metric_table.train, "train_and_evaluate",
                        lambda config, workdir, progress: trained.append(workdir.name))
    stop_at = 7  # the 5 baselines and the VAE scored, stopped while scoring the beta-VAE
    with pytest.raises(KeyboardInterrupt):
        metric_table.score_rows(cfg, tmp_path, progress=False)
    assert trained == ["vae", "beta_vae"]
    first = metric_table.saved_scores(tmp_path, cfg)
    assert list(first) == list(metric_table.BASELINE_ROWS) + ["VAE"]

    stop_at, trained[:] = None, []
    scores = metric_table.score_rows(cfg, tmp_path, progress=False)
    assert calls == dict(score=10, baselines=1)  # only the 3 rows left were scored
    assert trained == ["beta_vae", "dc_ign", "infogan"]
    assert {row: scores[row] for row in first} == first
    assert set(scores) == set(metric_table.BASELINE_ROWS) | {"VAE", "beta-VAE", "DC-IGN",
                                                             "InfoGAN"}
    assert metric_table.saved_scores(tmp_path, cfg) == scores
    metric_table.write_outputs(tmp_path, scores, cfg, seconds=1.0)  # the table from both runs

    cfg.unlock()
    cfg.higgins_num_train = 50  # another config: nothing saved applies
    assert metric_table.saved_scores(tmp_path, cfg) == {}
    metric_table.score_rows(cfg, tmp_path, progress=False)
    assert calls == dict(score=19, baselines=2)


def test_rows_of_an_earlier_table_are_taken_when_scored_the_same_way(tmp_path, monkeypatch,
                                                                      capsys):
    # An earlier table without the extra rows (as docs/results/table.json), scored at smoke.
    earlier = metric_table_config.get_config("smoke")
    old_scores = {row: dict(paper=[[float(i)] * 2] * 2, dlib=[float(i)] * 2)
                  for i, row in enumerate(metric_table.BASELINE_ROWS + ("VAE", "beta-VAE",
                                                                         "DC-IGN", "InfoGAN"))}
    metric_table.write_outputs(tmp_path, old_scores, earlier, seconds=1.0)
    cfg = metric_table_config.get_config("smoke,all")
    reuse = metric_table.scores_from(tmp_path / "table.json", cfg)
    assert set(reuse) == set(old_scores)
    commit = json.loads((tmp_path / "table.json").read_text())["commit"]
    assert reuse["PCA"] == dict(old_scores["PCA"], commit=commit,
                                **{"from": str(tmp_path / "table.json")})

    scored, trained = [], []
    monkeypatch.setattr(metric_table, "score_representations",
                        lambda cfg, data, reps, **kw: scored.append(1) or dict(
                            paper=[[1.0, 1.0]] * len(reps), dlib=[1.0] * len(reps)))
    monkeypatch.setattr(metric_table, "model_representations", lambda workdir, n: [None] * n)
    monkeypatch.setattr(metric_table.train, "train_and_evaluate",
                        lambda config, workdir, progress: trained.append(workdir.name))
    scores = metric_table.score_rows(cfg, tmp_path / "all", progress=False, reuse=reuse)
    assert trained == ["beta_tcvae", "factor_vae", "annealed_vae", "dip_vae_i", "dip_vae_ii"]
    assert len(scored) == 5 and set(scores) == set(old_scores) | set(metric_table.EXTRA_ROWS)
    assert scores["VAE"]["paper"] == old_scores["VAE"]["paper"]
    # This table's scores.json in turn: taken rows keep naming the file they came from.
    again = metric_table.scores_from(tmp_path / "all" / "scores.json", cfg)
    assert again["VAE"]["from"] == str(tmp_path / "table.json")
    assert again["DIP-VAE-II"]["from"] == str(tmp_path / "all" / "scores.json")
    capsys.readouterr()
    metric_table.score_rows(cfg, tmp_path / "third", progress=False, reuse=again)
    printed = capsys.readouterr().out
    assert f"taken from {tmp_path / 'table.json'}: ground truth factors" in printed
    assert f"taken from {tmp_path / 'all' / 'scores.json'}: beta-TCVAE" in printed
    assert len(scored) == 5  # every row taken, none scored again

    # A row trained otherwise is scored again; a different metric setting is an error.
    cfg.unlock()
    cfg.infogan_variant = "cpu"
    assert set(metric_table.scores_from(tmp_path / "table.json", cfg)) == \
        set(old_scores) - {"InfoGAN"}
    cfg.higgins_num_eval = 30
    with pytest.raises(ValueError, match="higgins_num_eval=40.*higgins_num_eval=30"):
        metric_table.scores_from(tmp_path / "table.json", cfg)
    with pytest.raises(ValueError, match="not a metric table"):
        metric_table.scores_from(tmp_path / "table.md", cfg)


def test_separate_replicas_train_each_seed_as_its_own_run(tmp_path, monkeypatch):
    cfg = metric_table_config.get_config("smoke")
    with cfg.unlocked():
        cfg.separate_replicas = True
        cfg.dc_ign_config = cfg.infogan_config = ""
    trained, loaded = [], []
    monkeypatch.setattr(metric_table, "score_representations",
                        lambda cfg, data, reps, **kw: dict(paper=[[1.0, 1.0]] * len(reps),
                                                           dlib=[1.0] * len(reps)))
    monkeypatch.setattr(metric_table, "baseline_representations", lambda cfg, data: {
        row: [None] * cfg.replicas for row in metric_table.BASELINE_ROWS})
    monkeypatch.setattr(metric_table, "model_representations",
                        lambda workdir, n: loaded.append((workdir, n)) or [None] * n)
    monkeypatch.setattr(metric_table.train, "train_and_evaluate",
                        lambda config, workdir, progress: trained.append((config, workdir)))
    scores = metric_table.score_rows(cfg, tmp_path, progress=False)
    assert [w.relative_to(tmp_path).as_posix() for _, w in trained] == [
        "vae/seed0", "vae/seed1", "beta_vae/seed0", "beta_vae/seed1"]
    assert [(c.seed, c.data_seed, c.replicas) for c, _ in trained[:2]] == [(0, 0, 1), (1, 1, 1)]
    together = metric_table.model_config(cfg.vae_config, cfg.vae_variant, cfg.seed,
                                         cfg.num_steps, replicas=2)
    assert trained[1][0].to_dict() == train.replica_config(together, 1).to_dict()
    assert loaded == [(w, 1) for _, w in trained]
    assert len(scores["VAE"]["dlib"]) == 2
    # the layout is how, not what: a table trained the other way takes these rows
    metric_table.write_outputs(tmp_path, scores, cfg, seconds=1.0)
    with cfg.unlocked():
        cfg.separate_replicas = False
    assert set(metric_table.scores_from(tmp_path / "table.json", cfg)) == set(scores)


def test_the_cpu_table_trains_the_disentangling_recipe_at_beta_one_and_eight():
    cfg = metric_table_config.get_config("cpu")
    assert cfg.separate_replicas
    vae = metric_table.model_config(cfg.vae_config, cfg.vae_variant, 0, cfg.num_steps, 1)
    beta_vae_ = metric_table.model_config(cfg.beta_vae_config, cfg.beta_vae_variant, 0,
                                          cfg.num_steps, 1)
    recipe = base.load("beta_vae:broadcast,cpu")
    # the table caps the AnnealedVAE's capacity_steps, which beta_vae does not read
    assert {k for k in recipe if beta_vae_[k] != recipe[k]} <= {"capacity_steps"}
    assert {k for k in vae if vae[k] != beta_vae_[k]} == {"name", "beta", "beta_start"}
    assert (vae.beta, vae.beta_start) == (1.0, 1.0)


def test_scores_from_a_mismatched_table_is_a_one_line_error(tmp_path):
    cfg = metric_table_config.get_config("smoke")
    metric_table.write_outputs(tmp_path, {}, cfg, seconds=1.0)
    proc = subprocess.run([sys.executable, "-m", "experiments.metric_table", "--config",
                           "experiments/metric_table_config.py:smoke",
                           "--config.higgins_num_train=50", "--workdir", str(tmp_path / "new"),
                           "--scores_from", str(tmp_path / "table.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: --scores_from") and "higgins_num_train=60" in proc.stderr
    assert not (tmp_path / "new").exists()


def test_on_another_dataset_the_2017_column_is_left_empty(tmp_path):
    cfg = metric_table_config.get_config("smoke")
    cfg.unlock()
    cfg.dataset, cfg.data_source = "shapes3d", "npz:/data/3dshapes.npz"
    metric_table.write_outputs(tmp_path, _fake_scores(), cfg, seconds=1.0)
    table = json.loads((tmp_path / "table.json").read_text())
    assert {row["reference"] for row in table["rows"].values()} == {"—"}
    markdown = (tmp_path / "table.md").read_text()
    assert markdown.startswith("Dataset: shapes3d (npz:/data/3dshapes.npz); the 2017 column "
                               "is dSprites' only. Both protocols classify every scored factor.")
    config = metric_table.model_config("beta_vae", "smoke", 3, 0, dataset="shapes3d",
                                       data_source=cfg.data_source)
    assert (config.dataset, config.data_source, config.seed) == ("shapes3d", cfg.data_source, 3)
    variant = metric_table.model_config("vae", "cpu", 0, 0, dataset="color_dsprites",
                                        data_source="")
    assert (variant.dataset, variant.data_source) == ("color_dsprites", "simulated")


def test_a_table_config_written_before_datasets_is_read_as_dsprites(tmp_path):
    cfg = metric_table_config.get_config("smoke")
    old = json.loads(json.dumps(cfg.to_dict()))
    del old["dataset"]
    (tmp_path / "scores.json").write_text(json.dumps(dict(config=old, rows=_fake_scores())))
    assert metric_table.saved_scores(tmp_path, cfg) == _fake_scores()
