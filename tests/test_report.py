"""The report page: self-contained, complete, and rendered for real in headless Chromium."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from experiments import beta_vae
from vaejax import models, pretrained, train
from vaejax import workdir as workdir_lib
from vaejax.errors import InputError, WorkdirInUseError
from vaejax.evaluation import evaluate, explorer, report

ROOT = Path(__file__).resolve().parents[1]
LATENTS = 10
# curves, reconstructions, one GIF per latent, traversals.png, KL bars, MI heatmap
IMAGES_PER_MODEL = 1 + LATENTS + 1 + 1 + 1


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("report_run")
    train.train_and_evaluate(beta_vae.get_config("smoke"), workdir, progress=False)
    evaluate.evaluate(workdir, sizes="smoke", progress=False)
    return workdir


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("VAEJAX_REQUIRE_BROWSER"):
        pytest.fail("VAEJAX_REQUIRE_BROWSER is set but no chromium is installed")
    pytest.skip("no chromium (apt-get install chromium; .ci/run does)")


def _headless(browser, *args, timeout=120):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_report_is_one_self_contained_file(evaluated):
    path = report.write_report(evaluated)
    assert path == evaluated / "report.html"
    text = path.read_text()
    sources = re.findall(r'<img src="([^"]*)"', text)
    assert len(sources) == 1 + IMAGES_PER_MODEL
    assert all(s.startswith(("data:image/png;base64,", "data:image/gif;base64,"))
               for s in sources)
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert sum(s.startswith("data:image/gif") for s in sources) == LATENTS
    # every metric of metrics.json is in the table, with the paper's value beside the Higgins one
    metrics = json.loads((evaluated / "eval" / "metrics.json").read_text())["metrics"]
    for name, fields in metrics.items():
        for field in fields:
            assert f"<td>{name}</td><td>{field}</td>" in text
    assert "99.23 ± 0.1 %" in text  # a beta-VAE (beta > 1) is set beside the paper's beta-VAE


def test_latent_gifs_sweep_each_latent(evaluated):
    gifs = sorted((evaluated / "eval" / "traversals").glob("z*.gif"))
    assert len(gifs) == LATENTS
    gif = Image.open(gifs[0])
    assert gif.n_frames == 18 and gif.size == (128, 128)


def test_report_renders_in_headless_chromium(evaluated, tmp_path):
    browser = _browser()
    path = report.write_report(evaluated, path=tmp_path / "report.html")
    url = path.resolve().as_uri()
    dom = _headless(browser, "--dump-dom", url)
    found = re.search(r'<pre id="image-check"[^>]*>([^<]*)</pre>', dom.stdout)
    assert found and found.group(1), f"the page's check did not run: {dom.stderr[-2000:]}"
    check = json.loads(found.group(1))
    assert check == dict(images=1 + IMAGES_PER_MODEL, loaded=1 + IMAGES_PER_MODEL)

    shot = tmp_path / "shot.png"
    _headless(browser, "--window-size=1200,2400", f"--screenshot={shot}", url)
    pixels = np.asarray(Image.open(shot).convert("L"), np.float32)
    assert pixels.shape == (2400, 1200)
    assert pixels.std() > 20, "the screenshot is blank"
    assert np.mean(pixels < 128) > 0.05, "hardly anything dark on the page: images missing"


def test_replicated_run_has_a_summary_and_a_section_per_replica(tmp_path):
    config = beta_vae.get_config("smoke")
    config.replicas = 2
    config.num_steps = 10
    train.train_and_evaluate(config, tmp_path, progress=False)
    evaluate.evaluate(tmp_path, sizes="smoke", progress=False)
    text = report.build_report(tmp_path)
    assert "Summary over 2 replicas" in text
    headings = re.findall(r"<h2>Replica (\d)( \(chosen by UDR\))?</h2>", text)
    assert [h[0] for h in headings] == ["0", "1"]
    chosen = json.loads((tmp_path / "eval" / "udr.json").read_text())["chosen"]
    assert [bool(h[1]) for h in headings] == [chosen == 0, chosen == 1]
    assert "Which replica: unsupervised ranking (UDR)" in text
    assert text.count("<img ") == 2 + 2 * IMAGES_PER_MODEL  # curves per replica, then the two


def test_unevaluated_run_says_so(tmp_path):
    config = beta_vae.get_config("smoke")
    config.num_steps = 5
    train.train_and_evaluate(config, tmp_path, progress=False)
    text = report.build_report(tmp_path)
    assert "not evaluated yet" in text and text.count("<img ") == 1


def test_shipped_model_is_never_written(evaluated, tmp_path):
    shipped = tmp_path / "shipped"
    shutil.copytree(evaluated, shipped, ignore=shutil.ignore_patterns("eval", "report.html",
                                                                       ".lock"))
    (shipped / workdir_lib.SHIPPED_MARKER).write_text("{}")
    before = sorted(p.relative_to(shipped) for p in shipped.rglob("*"))
    with pytest.raises(WorkdirInUseError, match="shipped pretrained model"):
        with workdir_lib.lock(shipped):
            pass
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "experiments.evaluate", "--workdir",
                           str(shipped), "--sizes", "smoke"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (cwd / "shipped_eval" / "metrics.json").is_file()
    assert (cwd / "shipped_eval" / "report.html").is_file()
    assert sorted(p.relative_to(shipped) for p in shipped.rglob("*")) == before
    for inside in (shipped, shipped / "eval", shipped / "report.html"):
        with pytest.raises(InputError, match="lies in the shipped pretrained model"):
            pretrained.check_writable(inside)
    pretrained.check_writable(cwd / "shipped_eval")


@pytest.fixture(scope="module")
def conv_evaluated(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("explorer_run")
    config = beta_vae.get_config("conv,smoke")
    # long enough for a few latents to carry something: sliders are for those
    config.beta, config.learning_rate, config.num_steps = 1.0, 1e-3, 200
    config.checkpoint_every = 100
    train.train_and_evaluate(config, workdir, progress=False)
    evaluate.evaluate(workdir, sizes="smoke", progress=False)
    return workdir


def test_latent_explorer_decodes_in_headless_chromium(conv_evaluated, tmp_path):
    """A script moves two sliders; the page must show the decoder's output for
    the code they set (JAX's, to 1e-3), and the canvas must change."""
    browser = _browser()
    saved = json.loads((conv_evaluated / "eval" / "metrics.json").read_text())
    assert saved["explorer"] == "explorer.html"
    kl = np.array(saved["kl_per_latent"])
    first, second = (int(d) for d in np.argsort(-kl)[:2])
    assert kl[second] > 0.1, "the smoke model needs two active latents to move"
    path = report.write_report(conv_evaluated, path=tmp_path / "report.html")
    assert path.read_text().count('<div class="explorer">') == 1
    url = f"{path.resolve().as_uri()}#explore={first}:1.5,{second}:-2.25"
    dom = _headless(browser, "--dump-dom", url)
    found = re.search(r'<pre class="explorer-check muted">([^<]+)</pre>', dom.stdout)
    assert found, f"the explorer did not report: {dom.stderr[-2000:]}"
    shown = json.loads(found.group(1))
    assert shown["changed"]
    code = np.array(shown["code"], np.float32)
    assert code[first] == 1.5 and code[second] == -2.25

    _, model, params, _ = evaluate.load_model(conv_evaluated)
    logits = model.apply({"params": params}, code[None], method=models.Autoencoder.decode)
    expected = np.asarray(jax.nn.sigmoid(logits))[0]
    np.testing.assert_allclose(np.array(shown["image"]), expected.ravel(), atol=1e-3)
    canvas = np.array(shown["canvas"])
    assert np.abs(canvas - np.round(255 * expected.ravel())).max() <= 1
    # the other latents stay at the start code: the traversals' seed image's
    seed_code = np.array(json.loads(re.search(
        r'<script type="application/json">(.*?)</script>', path.read_text()).group(1))["start"])
    others = np.ones(len(code), bool)
    others[[first, second]] = False
    np.testing.assert_allclose(code[others], seed_code[others], rtol=1e-6)


def test_explorer_program_matches_each_decoder():
    """The exported program (run in NumPy) against JAX, per decoder the page runs."""
    rng = np.random.default_rng(0)
    for arch, kwargs, shape in [("conv", {}, (64, 64, 3)), ("linear", {}, (32, 32, 1)),
                                ("broadcast", dict(broadcast_resolution=16), (64, 64, 1)),
                                ("broadcast", dict(broadcast_resolution=32), (32, 32, 3))]:
        model = models.build_autoencoder(arch, latents=6, variational=True, image_shape=shape,
                                         **kwargs)
        params = models.init_params(model, jax.random.key(1))
        # larger weights than at initialisation, so that every layer matters
        params = jax.tree.map(lambda x: x * 3.0, params)
        program = explorer.decoder_program(model, params)
        z = rng.normal(size=6).astype(np.float32)
        expected = model.apply({"params": params}, z[None], method=models.Autoencoder.decode)
        np.testing.assert_allclose(explorer.run_program(program, z), np.asarray(expected)[0],
                                   rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))
    for arch, kwargs in (("fc", {}), ("conv", dict(upsample="nearest"))):
        model = models.build_autoencoder(arch, latents=6, variational=True, **kwargs)
        assert explorer.decoder_program(model, models.init_params(model, jax.random.key(0))) \
            is None
