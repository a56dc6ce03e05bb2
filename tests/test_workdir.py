"""One writer per workdir, config changes on resume, and errors printed as one line."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from absl import app, logging

from experiments import cli
from experiments.base import load as get_config
from vaejax import checkpoint, errors, train, workdir

ROOT = Path(__file__).resolve().parents[1]

_HOLD = ("import sys, time; from vaejax import workdir; "
         "lock = workdir.lock(sys.argv[1]); lock.__enter__(); print('held', flush=True); "
         "time.sleep(600)")


@pytest.fixture
def held(tmp_path):
    """A workdir whose lock another process holds; yields (path, process)."""
    path = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield path, proc
    proc.kill()
    proc.wait()


def _cli(module, *args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", f"experiments.{module}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def _checkpoint_dir_names(path):
    return sorted(p.name for p in (path / "checkpoints").iterdir())


def test_a_second_writer_is_refused_and_a_killed_holder_leaves_no_lock(held):
    path, proc = held
    with pytest.raises(errors.WorkdirInUseError,
                       match=rf"workdir {path} is in use by process {proc.pid} "
                             rf"\(host .+, since 20\d\d-.+\)"):
        train.train_and_evaluate(get_config("vae:smoke"), path, progress=False)
    assert not (path / "checkpoints").exists()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with workdir.lock(path):  # the kernel released it
        with pytest.raises(errors.WorkdirInUseError, match=rf"process {os.getpid()} "):
            with workdir.lock(path):  # per open file: not re-entrant
                pass
    with workdir.lock(path):  # and released again on exit
        pass


def test_the_cli_refuses_a_held_workdir_with_one_line(held):
    path, proc = held
    out = _cli("run", "--config", "experiments/vae.py:smoke", "--workdir", str(path))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: workdir {path} is in use by process {proc.pid} ")
    assert "Traceback" not in out.stderr


def test_a_structural_config_change_is_refused_and_the_checkpoint_kept(tmp_path, capsys):
    train.train_and_evaluate(get_config("vae:smoke", num_steps=10), tmp_path, progress=False)
    before = _checkpoint_dir_names(tmp_path)
    with pytest.raises(errors.ConfigMismatchError,
                       match=r"holds checkpoints of another config: optimizer 'adam' -> 'sgd', "
                             r"seed 0 -> 3; .*a new --workdir"):
        train.train_and_evaluate(get_config("vae:smoke", num_steps=20, optimizer="sgd", seed=3),
                                 tmp_path, progress=False)
    assert _checkpoint_dir_names(tmp_path) == before == ["10"]
    assert checkpoint.load_config(tmp_path).optimizer == "adam"
    # Fields that may change are accepted, with one line naming them.
    state = train.train_and_evaluate(
        get_config("vae:smoke", num_steps=20, learning_rate=0.03), tmp_path, progress=False)
    assert int(state.step) == 20
    err = capsys.readouterr().err
    assert (f"resuming {tmp_path} with changed fields: learning_rate 0.0001 -> 0.03, "
            "num_steps 10 -> 20") in err


def test_a_mismatched_checkpoint_without_config_json_is_an_error_not_corruption(tmp_path):
    train.train_and_evaluate(get_config("vae:smoke", num_steps=10), tmp_path, progress=False)
    (tmp_path / "config.json").unlink()
    with pytest.raises(errors.CheckpointError, match="opt_state.*another optimizer"):
        train.train_and_evaluate(get_config("vae:smoke", num_steps=20, optimizer="sgd"),
                                 tmp_path, progress=False)
    assert _checkpoint_dir_names(tmp_path) == ["10"]


def test_config_changes_splits_fields_and_fills_absent_ones_from_defaults():
    saved = dict(seed=0, num_steps=10, hidden=[3, 4], nested=dict(a=1), replicas=1)
    requested = dict(seed=0, num_steps=20, hidden=(3, 4), nested=dict(a=2),
                     replica_layout="auto", latents=5)
    refused, accepted = workdir.config_changes(saved, requested,
                                               dict(replicas=1, replica_layout="auto"))
    assert [f for f, _, _ in refused] == ["latents", "nested.a"]
    assert accepted == [("num_steps", 10, 20)]
    assert workdir.describe(refused) == "latents (unset) -> 5, nested.a 1 -> 2"


def test_project_errors_exit_with_their_status_and_one_line(capsys, monkeypatch):
    monkeypatch.delenv("VAEJAX_DEBUG", raising=False)

    def failing(exc):
        def main(argv):
            raise exc
        return cli.reports_errors(main)

    for exc, code in ((errors.NonFiniteLossError("loss is nan\nat step 3"), 1),
                      (errors.ConfigError("config.beta must be positive"), 2),
                      (errors.DataError("x.npz: not an .npz"), 2),
                      (errors.CheckpointError("no checkpoint"), 2),
                      (errors.WorkdirInUseError("in use"), 1)):
        with pytest.raises(SystemExit) as exit_info:
            failing(exc)([])
        assert exit_info.value.code == code
        assert capsys.readouterr().err == f"error: {' '.join(str(exc).split())}\n"
    with pytest.raises(KeyError):  # not the project's: the traceback stays
        failing(KeyError("x"))([])
    monkeypatch.setenv("VAEJAX_DEBUG", "1")
    with pytest.raises(errors.ConfigError):
        failing(errors.ConfigError("shown with its traceback"))([])


def test_cli_errors_name_the_problem_on_one_line(tmp_path):
    missing = tmp_path / "nope.npz"
    args = ["--config", "experiments/vae.py:smoke", "--workdir", str(tmp_path / "w"),
            f"--config.data_source=npz:{missing}"]
    out = _cli("run", *args)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == f"error: dSprites file not found: {missing}"
    assert "Traceback" not in out.stderr
    debug = _cli("run", *args, env=dict(VAEJAX_DEBUG="1"))
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    verbose = _cli("run", *args, "--verbosity=1")
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr
    bad = _cli("run", "--config", "experiments/vae.py:smoke", "--workdir", str(tmp_path / "b"),
               "--config.optimizer=adamw")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith(
        "error: config.optimizer must be one of")
    none = _cli("evaluate", "--workdir", str(tmp_path / "empty"))
    assert none.returncode == 2
    assert none.stderr.strip().splitlines()[-1].startswith(
        f"error: no config.json in workdir {tmp_path / 'empty'}")


def test_the_commit_a_result_records_is_the_checkouts_head():
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(cli.__file__).parent, check=False)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    assert cli.commit() == head.stdout.strip()
    assert len(cli.commit()) == 40
    assert cli.commit(short=True) == head.stdout[:7]  # a shipped model's pretrained.json


def test_the_commit_is_read_once_per_process(monkeypatch):
    cli._head.cache_clear()
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    first = cli.commit()
    assert cli.commit() == first and cli.commit(short=True) == (first and first[:7])
    assert len(calls) == 1  # later HEADs do not change what this run records


def test_entry_points_refuse_positional_arguments_and_log_quietly():
    before = logging.get_verbosity()
    try:
        with pytest.raises(app.UsageError, match=r"unexpected arguments: \['extra'\]"):
            cli.start(["prog", "extra"])
        logging.set_verbosity(logging.INFO)
        cli.start(["prog"])
        assert logging.get_verbosity() == logging.WARNING
    finally:
        logging.set_verbosity(before)
