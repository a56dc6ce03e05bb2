from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def real_frames():
    """Real dSprites frames (see tests/data/README.md): imgs (160, 64, 64), frame_index."""
    with np.load(DATA / "dsprites_real_frames.npz") as f:
        return f["imgs"], f["frame_index"]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Keeps tests away from the user's dSprites cache."""
    monkeypatch.setenv("VAEJAX_DATA", str(tmp_path / "vaejax_cache"))
