"""Executes notebooks/beta_vae_colab.ipynb top to bottom (smoke config, CPU)."""

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "beta_vae_colab.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    workdir = tmp_path / "run"
    monkeypatch.setenv("VAEJAX_NOTEBOOK_WORKDIR", str(workdir))
    monkeypatch.setenv("VAEJAX_NOTEBOOK_VARIANT", "smoke")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws
    # The kernel is this interpreter ("python3" resolves through PATH).
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "trained to step 30" in text
    assert "cpu" in text.lower()  # the devices cell printed the backend
    pngs = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(pngs) >= 4  # loss curves, reconstructions, traversals, KL bars
    tables = [o.data["text/markdown"] for o in outputs
              if o.output_type == "display_data" and "text/markdown" in o.data]
    assert any("higgins: eval_accuracy" in t for t in tables)
    report = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert report["step"] == 30 and report["sizes"] == "smoke"
