import numpy as np
import pytest

from vaejax.data import factors, renderer

SHAPE_OF_PREVIEW_FRAME = [(0, 192, 2), (192, 256, 1), (256, 320, 0)]  # [start, stop) -> shape


def _true_shape(frame_index):
    for start, stop, shape in SHAPE_OF_PREVIEW_FRAME:
        if start <= frame_index < stop:
            return shape
    raise AssertionError(frame_index)


@pytest.fixture(scope="module")
def best_matches(real_frames):
    """For each real frame: (IoU, classes) of the best rendered image on the grid.

    The search covers every (shape, scale, orientation) whose area is within
    20% of the frame's, at the positions within 2 steps of where that
    sprite's centroid would put it; images further off cannot overlap well.
    """
    imgs, _ = real_frames
    combos = np.array([(0, s, sc, o, 0, 0) for s in range(3) for sc in range(6)
                       for o in range(40)])
    base = renderer.render(combos).astype(bool)
    rows, cols = np.mgrid[:64, :64]
    area = base.sum((1, 2))
    centroid = np.stack([(base * rows).sum((1, 2)) / area, (base * cols).sum((1, 2)) / area], 1)
    step = 32 / 31
    out = []
    for frame in imgs.astype(bool):
        a = frame.sum()
        fc = np.array([(frame * rows).sum() / a, (frame * cols).sum() / a])
        cands = []
        for j in np.nonzero((area >= 0.8 * a) & (area <= a / 0.8))[0]:
            ky, kx = (fc - centroid[j]) / step
            for y in range(int(np.floor(ky)) - 2, int(np.ceil(ky)) + 3):
                for x in range(int(np.floor(kx)) - 2, int(np.ceil(kx)) + 3):
                    if 0 <= x < 32 and 0 <= y < 32:
                        cands.append((*combos[j, :4], x, y))
        cands = np.array(cands)
        rendered = renderer.render(cands).astype(bool)
        iou = (rendered & frame).sum((1, 2)) / (rendered | frame).sum((1, 2))
        k = int(iou.argmax())
        out.append((float(iou[k]), cands[k]))
    return out


def test_fidelity_to_real_frames(real_frames, best_matches):
    _, frame_index = real_frames
    ious = np.array([m[0] for m in best_matches])
    shapes = np.array([m[1][1] for m in best_matches])
    assert ious.min() >= 0.95, f"worst IoU {ious.min():.3f} at frame {frame_index[ious.argmin()]}"
    assert ious.mean() >= 0.97
    np.testing.assert_array_equal(shapes, [_true_shape(i) for i in frame_index])


def test_rotation_sense_and_axes_follow_the_preview(real_frames, best_matches):
    # The preview sweeps a scale-1 heart (no rotational symmetry) through
    # orientations 2..38 (frames 20..56), then posY 2..30 (frames 60..88)
    # down the rows, then posX 2..30 (frames 92..120) along the columns.
    _, frame_index = real_frames
    found = {int(i): m[1] for i, m in zip(frame_index, best_matches)}
    for f in range(20, 57, 2):
        np.testing.assert_array_equal(found[f], [0, 2, 5, f - 18, 0, 0], err_msg=f"frame {f}")
    for f in range(60, 89, 2):
        np.testing.assert_array_equal(found[f], [0, 2, 5, 0, 0, f - 58], err_msg=f"frame {f}")
    for f in range(92, 121, 2):
        np.testing.assert_array_equal(found[f], [0, 2, 5, 0, f - 90, 31], err_msg=f"frame {f}")


def test_output_type_and_determinism():
    classes = factors.index_to_classes(np.random.default_rng(1).integers(0, factors.NUM_IMAGES, 300))
    a = renderer.render(classes)
    b = renderer.render(classes, chunk_size=7)
    assert a.shape == (300, 64, 64) and a.dtype == np.uint8
    assert set(np.unique(a)) <= {0, 1}
    np.testing.assert_array_equal(a, b)
    assert (a.sum((1, 2)) > 0).all()


def test_scale_area_is_quadratic():
    shape = np.repeat([0, 1, 2], 2)
    scale = np.tile([0.5, 1.0], 3)
    areas = renderer.render_values(shape, scale, 0.3, 0.5, 0.5).sum((1, 2)).reshape(3, 2)
    np.testing.assert_allclose(areas[:, 1] / areas[:, 0], 4.0, rtol=0.08)
    # Square area 19.2^2 = 368.6 px at scale 1; ellipse pi * 12.77 * 7.215 = 289 px.
    np.testing.assert_allclose(areas[:2, 1], [368.6, 289.4], rtol=0.02)


def _grid(shape):
    sc, px, py = np.meshgrid(np.linspace(0.5, 1, 6), np.linspace(0, 1, 32),
                             np.linspace(0, 1, 32), indexing="ij")
    return np.full(sc.size, shape), sc.ravel(), px.ravel(), py.ravel()


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_first_and_last_orientation_render_the_same(shape):
    classes = factors.index_to_classes(np.arange(factors.NUM_IMAGES))
    sel = classes[:, 1] == shape
    first = classes[sel & (classes[:, 3] == 0)]
    last = classes[sel & (classes[:, 3] == 39)]
    np.testing.assert_array_equal(renderer.render(first), renderer.render(last))


@pytest.mark.parametrize("shape, period", [(0, np.pi / 2), (0, np.pi), (1, np.pi)])
def test_rotational_symmetries(shape, period):
    s, sc, px, py = _grid(shape)
    theta = np.random.default_rng(shape).uniform(0, 2 * np.pi, s.size)
    np.testing.assert_array_equal(renderer.render_values(s, sc, theta, px, py),
                                  renderer.render_values(s, sc, theta + period, px, py))


def test_heart_and_ellipse_are_not_symmetric_under_quarter_turns():
    s, sc, px, py = _grid(2)
    a = renderer.render_values(s, sc, 0.0, px, py)
    assert (a != renderer.render_values(s, sc, np.pi, px, py)).any()
    s, sc, px, py = _grid(1)
    assert (renderer.render_values(s, sc, 0.0, px, py)
            != renderer.render_values(s, sc, np.pi / 2, px, py)).any()


def test_mirror_symmetry_of_all_shapes():
    # Each shape is symmetric about its vertical axis: at orientation 0 and
    # posX = 0.5 (centre column 31.5), the image equals its left-right flip.
    imgs = renderer.render_values([0, 1, 2], 1.0, 0.0, 0.5, 0.3)
    np.testing.assert_array_equal(imgs, imgs[:, :, ::-1])


def test_position_translates_by_32_over_31_pixels():
    # posX 0 -> 31 moves the sprite exactly 32 px to the right.
    a = renderer.render([[0, 2, 3, 7, 0, 5]])
    b = renderer.render([[0, 2, 3, 7, 31, 5]])
    np.testing.assert_array_equal(a[:, :, :32], b[:, :, 32:])


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=[3]), "shape must be"),
    (dict(scale=[1.5]), "scale must"),
    (dict(pos_x=[-0.1]), "pos_x must"),
    (dict(orientation=[np.nan]), "orientation must"),
])
def test_render_values_rejects_bad_input(kwargs, match):
    args = dict(shape=[0], scale=[1.0], orientation=[0.0], pos_x=[0.5], pos_y=[0.5])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        renderer.render_values(**args)
