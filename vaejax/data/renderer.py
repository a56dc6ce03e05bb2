"""A renderer that reproduces the dSprites images from their factors.

Geometry, measured on real dSprites frames (fitted by maximising pixel
agreement; see ``tests/test_render.py`` for the fidelity check):

* Rasterisation is point sampling: a pixel is white iff its centre lies
  inside the shape. In pixel-index coordinates (pixel ``(r, c)`` has its
  centre at ``(r, c)``) the shape's centre is at
  ``(15.5 + 32 * posY, 15.5 + 32 * posX)``: posX runs along columns (left to
  right), posY along rows (top to bottom).
* Orientation turns the shape counter-clockwise as seen on screen, about its
  centre.
* At scale 1 the square has side 19.2 px; the ellipse has semi-axes 12.77 px
  (horizontal at orientation 0) and 7.215 px; the heart is the classic
  parametric curve ``x = 16 sin^3 t``,
  ``y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t``, scaled by
  (0.5996, 0.6623) px per unit and raised 1.4365 px (lobes up, tip down at
  orientation 0). Every size scales linearly with the scale factor.
"""

from __future__ import annotations

import numpy as np

from vaejax.data import factors

CENTRE_OFFSET_PX = 15.5
POSITION_SPAN_PX = 32.0
SQUARE_HALF_SIDE_PX = 9.6
ELLIPSE_SEMI_AXES_PX = (12.77, 7.215)
HEART_SCALE_PX = (0.5996, 0.6623)
HEART_OFFSET_PX = 1.4365

# No shape reaches 14 px from its centre (the square's corner: 13.6 px), so
# every white pixel lies in a window of 28 x 28 pixels around the centre.
_WINDOW = 28
_HALF_WINDOW = 13


def _inside_square(u, v, scale):
    h = SQUARE_HALF_SIDE_PX * scale
    return (np.abs(u) <= h) & (np.abs(v) <= h)


def _inside_ellipse(u, v, scale):
    a, b = ELLIPSE_SEMI_AXES_PX
    return (u / (a * scale)) ** 2 + (v / (b * scale)) ** 2 <= 1.0


def _inside_heart(u, v, scale):
    sx, sy = HEART_SCALE_PX
    x = np.abs(u) / (16.0 * sx * scale)  # sin^3 t on the boundary
    s = np.cbrt(np.minimum(x, 1.0))
    c = np.sqrt(1.0 - s * s)  # |cos t|
    cos2t = 1.0 - 2.0 * s * s
    even = -5.0 * cos2t - (2.0 * cos2t * cos2t - 1.0)
    odd = 13.0 * c - 2.0 * (4.0 * c ** 3 - 3.0 * c)  # 13 cos t - 2 cos 3t
    y = (v - HEART_OFFSET_PX * scale) / (sy * scale)
    return (x <= 1.0) & (y <= even + odd) & (y >= even - odd)


_INSIDE = (_inside_square, _inside_ellipse, _inside_heart)


def render(latents_classes, *, chunk_size: int = 1024) -> np.ndarray:
    """Draws dSprites images from factor classes.

    Args:
      latents_classes: int array (N, 6) in the real file's column order
        (color, shape, scale, orientation, posX, posY).
      chunk_size: images drawn per vectorised chunk (bounds peak memory).

    Returns:
      uint8 array (N, 64, 64) of 0/1, deterministic.
    """
    classes = factors.check_classes(latents_classes)
    values = factors.classes_to_values(classes)
    return render_values(classes[:, 1], values[:, 2], values[:, 3], values[:, 4], values[:, 5],
                         chunk_size=chunk_size)


def render_values(shape, scale, orientation, pos_x, pos_y, *,
                  chunk_size: int = 1024) -> np.ndarray:
    """Draws sprites at any factor values, on or off the dSprites grid.

    Args:
      shape: int (N,): 0 square, 1 ellipse, 2 heart.
      scale: float (N,), 1 is the largest dSprites size; at most 1.
      orientation: float (N,), radians, counter-clockwise on screen.
      pos_x, pos_y: float (N,) in [0, 1]; the centre is at
        ``15.5 + 32 * pos`` pixels (column for x, row for y).
      chunk_size: images drawn per vectorised chunk.

    Returns:
      uint8 array (N, 64, 64) of 0/1.
    """
    shape = np.asarray(shape).reshape(-1)
    arrays = [np.broadcast_to(np.asarray(a, np.float64).reshape(-1), shape.shape)
              for a in (scale, orientation, pos_x, pos_y)]
    scale, orientation, pos_x, pos_y = arrays
    if not np.isin(shape, (0, 1, 2)).all():
        raise ValueError("shape must be 0 (square), 1 (ellipse) or 2 (heart)")
    if not ((scale > 0) & (scale <= 1)).all():
        raise ValueError("scale must lie in (0, 1]")
    if not np.isfinite(orientation).all():
        raise ValueError("orientation must be finite")
    for name, pos in (("pos_x", pos_x), ("pos_y", pos_y)):
        if not ((pos >= 0) & (pos <= 1)).all():
            raise ValueError(f"{name} must lie in [0, 1]")
    out = np.zeros((len(shape), factors.IMAGE_SIZE, factors.IMAGE_SIZE), np.uint8)
    for start in range(0, len(shape), chunk_size):
        part = slice(start, min(start + chunk_size, len(shape)))
        _render_chunk(shape[part], scale[part], orientation[part], pos_x[part],
                      pos_y[part], out[part])
    return out


def _render_chunk(shape, scale, theta, pos_x, pos_y, out: np.ndarray) -> None:
    centre_x = CENTRE_OFFSET_PX + POSITION_SPAN_PX * pos_x
    centre_y = CENTRE_OFFSET_PX + POSITION_SPAN_PX * pos_y
    steps = np.arange(_WINDOW)
    col0 = np.floor(centre_x).astype(np.int64) - _HALF_WINDOW
    row0 = np.floor(centre_y).astype(np.int64) - _HALF_WINDOW
    cols = col0[:, None] + steps  # (n, W)
    rows = row0[:, None] + steps
    dx = (cols - centre_x[:, None])[:, None, :]  # (n, 1, W)
    up = (centre_y[:, None] - rows)[:, :, None]  # (n, W, 1), y pointing up
    cos = np.cos(theta)[:, None, None]
    sin = np.sin(theta)[:, None, None]
    # Rotate the pixel grid by -theta: the shape turns by +theta on screen.
    u = cos * dx + sin * up
    v = cos * up - sin * dx
    s = scale[:, None, None]

    window = np.zeros(u.shape, bool)
    for shape_id, inside in enumerate(_INSIDE):
        sel = np.nonzero(shape == shape_id)[0]
        if sel.size:
            window[sel] = inside(u[sel], v[sel], s[sel])
    n = np.arange(len(shape))[:, None, None]
    out[n, rows[:, :, None], cols[:, None, :]] = window
