"""Stride-2 convolutions rewritten as stride-1 matrix products (fast on CPU).

XLA:CPU runs the gradients of strided and transposed convolutions through slow
generic paths. The layers here compute exactly the same functions as
``flax.linen.Conv(features, (k, k), strides=2, padding='SAME')`` and
``flax.linen.ConvTranspose(features, (k, k), strides=(2, 2), padding='SAME')``
for even input sizes and k in {2, 4}:

* a stride-2 convolution is space-to-depth followed by a (k/2 x k/2) stride-1
  convolution on 4x the channels;
* a stride-2 transposed convolution is a (k/2 x k/2) stride-1 convolution to
  4x the channels followed by depth-to-space.

The stride-1 convolutions have a custom VJP that computes the forward pass
and both gradients as matrix products, shifted slices and pads, or XLA
convolutions, whichever runs fastest on XLA:CPU for the shape. Parameters
keep the standard Flax names and shapes (``kernel`` (k, k, C_in, C_out),
``bias`` (C_out,)), so checkpoints are interchangeable with the plain Flax
layers; :func:`conv_kernel_to_s2d` and friends give the rearranged
kernels and their inverses.

:func:`conv_xla` (:class:`ConvValid`, :class:`ConvSame`) keeps XLA's own
stride-1 products and only runs them once per replica under ``vmap``.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

KERNEL_SIZES = (2, 4)


def space_to_depth(x: jax.Array) -> jax.Array:
    """(B, H, W, C) -> (B, H/2, W/2, 4C); channel order (row phase, column phase, C)."""
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"space_to_depth needs even height and width, got {x.shape}")
    return _stack_channels([x[:, p::2, s::2] for p in range(2) for s in range(2)])


def _stack_channels(parts):
    """Concatenates same-shaped (..., C) arrays on the channel axis.

    Built as a stack on a new axis before the channels, which XLA:CPU copies
    about twice as fast as a concatenate on the last axis or a transpose
    (measured on a 2-core x86 CPU: space-to-depth of (64, 34, 34, 32), 0.83
    against 1.45 ms; a 4-tap im2col of it, 2.6 against 4.8 ms).
    """
    stacked = jnp.stack(parts, axis=-2)
    return stacked.reshape(stacked.shape[:-2] + (len(parts) * parts[0].shape[-1],))


def depth_to_space(x: jax.Array) -> jax.Array:
    """(B, H, W, 4C) -> (B, 2H, 2W, C); the inverse of :func:`space_to_depth`."""
    b, h, w, c4 = x.shape
    if c4 % 4:
        raise ValueError(f"depth_to_space needs channels divisible by 4, got {x.shape}")
    c = c4 // 4
    x = x.reshape(b, h, w, 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, 2 * h, 2 * w, c)


def _check_kernel(kernel, name):
    if kernel.ndim != 4 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] not in KERNEL_SIZES:
        raise ValueError(f"{name}: expected a (k, k, C_in, C_out) kernel with k in "
                         f"{KERNEL_SIZES}, got shape {kernel.shape}")


def conv_kernel_to_s2d(kernel):
    """Stride-2 conv kernel (k, k, C, O) -> stride-1 kernel (k/2, k/2, 4C, O) on space-to-depth input.

    Entry [q, r, (p, s, c), o] is kernel[2q + p, 2r + s, c, o].
    """
    _check_kernel(kernel, "conv_kernel_to_s2d")
    k, _, c, o = kernel.shape
    m = k // 2
    x = kernel.reshape(m, 2, m, 2, c, o).transpose(0, 2, 1, 3, 4, 5)
    return x.reshape(m, m, 4 * c, o)


def conv_kernel_from_s2d(kernel):
    """Inverse of :func:`conv_kernel_to_s2d`: (m, m, 4C, O) -> (2m, 2m, C, O)."""
    m, _, c4, o = kernel.shape
    c = c4 // 4
    x = kernel.reshape(m, m, 2, 2, c, o).transpose(0, 2, 1, 3, 4, 5)
    return x.reshape(2 * m, 2 * m, c, o)


def _phase_index(k):
    # Output phase p of window tap t takes kernel tap a = 2t + 1 - p (k = 2 or 4).
    return np.array([[2 * t + 1 - p for p in range(2)] for t in range(k // 2)])


def conv_transpose_kernel_to_d2s(kernel):
    """Stride-2 transposed conv kernel (k, k, C, O) -> stride-1 kernel (k/2, k/2, C, 4O).

    The stride-1 convolution's output, rearranged by :func:`depth_to_space`
    (and cropped by 1 pixel each side when k = 4), is the transposed
    convolution. Entry [t, u, c, (p, s, o)] is kernel[a(t, p), a(u, s), c, o]
    with a(t, p) = 2t + 1 - p.
    """
    _check_kernel(kernel, "conv_transpose_kernel_to_d2s")
    k, _, c, o = kernel.shape
    idx = _phase_index(k)  # (m, 2)
    # g[t, p, u, s, c, o] = kernel[idx[t, p], idx[u, s], c, o]
    g = kernel[idx[:, :, None, None], idx[None, None, :, :]]
    m = k // 2
    return g.transpose(0, 2, 4, 1, 3, 5).reshape(m, m, c, 4 * o)


def conv_transpose_kernel_from_d2s(kernel):
    """Inverse of :func:`conv_transpose_kernel_to_d2s`: (m, m, C, 4O) -> (2m, 2m, C, O)."""
    m, _, c, o4 = kernel.shape
    o, k = o4 // 4, 2 * m
    idx = _phase_index(k)
    g = kernel.reshape(m, m, c, 2, 2, o4 // 4).transpose(0, 3, 1, 4, 2, 5)  # t, p, u, s, c, o
    out = jnp.zeros((k, k, c, o), kernel.dtype)
    return out.at[idx[:, :, None, None], idx[None, None, :, :]].set(g)


def _per_example(fn):
    """``fn`` with a vmap rule that runs it once per mapped example and stacks the results.

    vmap's own rules turn a batch of kernels into batched matrix products and
    grouped convolutions; this keeps each replica's products exactly those
    of a single model (measured speed: docs/replicas.md).
    """
    fn = jax.custom_batching.custom_vmap(fn)

    @fn.def_vmap
    def rule(axis_size, in_batched, *args):
        outs = [fn(*(a[i] if batched else a for a, batched in zip(args, in_batched)))
                for i in range(axis_size)]
        return jnp.stack(outs), True

    return fn


def _lax_conv(x, kernel):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _shift_pad(y, i, j, m, axis=1):
    """Places y at offset (i, j) of its spatial axes (axis, axis + 1), each grown by m - 1; zeros elsewhere.

    With ``axis=1``, y (B, H', W', O) -> (B, H'+m-1, W'+m-1, O).
    """
    widths = [(0, 0)] * y.ndim
    widths[axis], widths[axis + 1] = (i, m - 1 - i), (j, m - 1 - j)
    return jnp.pad(y, widths)


# Each of the three products of a stride-1 'VALID' m x m convolution (forward,
# gradient to the input, gradient to the kernel) is computed in the form XLA:CPU
# runs fastest, which depends on whether the input is wide (C >= m*m*O):
#   forward:  wide: one matmul of the input to m*m*O channels, then a sum of
#             shifted slices; few input channels (m*m*C <= 16): one matmul of
#             the shifted slices stacked on channels (im2col); else XLA's
#             convolution.
#   input:    wide: XLA's convolution transpose; else one matmul of the output
#             gradient to m*m*C channels, then a sum of shifted pads.
#   kernel:   one matmul contracting over pixels (the batch and space), its
#             left operand channel-major, so XLA:CPU runs it as a plain
#             matrix product: if O <= C, (the output gradient padded to the
#             input's grid at each tap offset, stacked)^T @ input; else
#             (shifted input slices, stacked)^T @ output gradient. The stacks
#             are built from a channel-major copy of the smaller activation.
# Measured on a 2-core x86 CPU against per-tap products of transposed
# activations, these forms made the conv beta-VAE's train step ~20% faster;
# the channel-major kernel products ~8% more than contracting the pixel axis
# of the pixel-major stacks in place.

_IM2COL_FORWARD_MAX_K = 16


def _is_wide(kernel) -> bool:
    m, _, c, o = kernel.shape
    return m * m * o <= c


def _im2col(x, m):
    """(B, H, W, C) -> (B*(H-m+1)*(W-m+1), m*m*C): each output pixel's m x m window, taps major."""
    b, h, w, c = x.shape
    ho, wo = h - m + 1, w - m + 1
    cols = [x[:, i:i + ho, j:j + wo] for i in range(m) for j in range(m)]
    return _stack_channels(cols).reshape(-1, m * m * c)


@_per_example
def _forward(x, kernel):
    m, _, c, o = kernel.shape
    b, h, w, _ = x.shape
    ho, wo = h - m + 1, w - m + 1
    if m * m * c <= _IM2COL_FORWARD_MAX_K:
        return (_im2col(x, m) @ kernel.reshape(m * m * c, o)).reshape(b, ho, wo, o)
    if not _is_wide(kernel):
        return _lax_conv(x, kernel)
    z = jnp.dot(x.reshape(-1, c), kernel.transpose(2, 0, 1, 3).reshape(c, m * m * o))
    z = z.reshape(b, h, w, m * m, o)
    return sum(z[:, i:i + ho, j:j + wo, i * m + j] for i in range(m) for j in range(m))


@_per_example
def _input_grad(x, kernel, dy):
    m, _, c, o = kernel.shape
    if _is_wide(kernel):  # a full convolution of dy with the flipped, transposed kernel
        pad = ((0, 0), (m - 1, m - 1), (m - 1, m - 1), (0, 0))
        return _lax_conv(jnp.pad(dy, pad), kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    z = jnp.dot(dy.reshape(-1, o), kernel.transpose(3, 0, 1, 2).reshape(o, m * m * c))
    z = z.reshape(dy.shape[:3] + (m * m, c))
    return sum(_shift_pad(z[..., i * m + j, :], i, j, m) for i in range(m) for j in range(m))


@_per_example
def _kernel_grad(x, kernel, dy):
    m, _, c, o = kernel.shape
    ho, wo = dy.shape[1:3]
    if o <= c:  # stack the smaller of dy (m*m*O channels) and x (m*m*C)
        # dK[i, j]^T = (dy placed at offset (i, j) of x's grid)^T @ x, summed over pixels
        dy_t = jnp.transpose(dy, (3, 0, 1, 2))  # (O, B, H', W')
        dys_t = jnp.stack([_shift_pad(dy_t, i, j, m, axis=2) for i in range(m) for j in range(m)])
        dk_t = jnp.dot(dys_t.reshape(m * m * o, -1), x.reshape(-1, c))
        return dk_t.reshape(m, m, o, c).transpose(0, 1, 3, 2)
    x_t = jnp.transpose(x, (3, 0, 1, 2))  # (C, B, H, W)
    cols_t = jnp.stack([x_t[:, :, i:i + ho, j:j + wo] for i in range(m) for j in range(m)])
    return jnp.dot(cols_t.reshape(m * m * c, -1), dy.reshape(-1, o)).reshape(m, m, c, o)


@jax.custom_vjp
def conv_valid(x, kernel):
    """Stride-1 'VALID' convolution: x (B, H, W, C), kernel (m, m, C, O) -> (B, H-m+1, W-m+1, O).

    The same function as ``lax.conv_general_dilated`` (NHWC, HWIO), with each
    of its products computed in the form fastest on XLA:CPU.
    """
    if kernel.shape[0] == 1:
        return jnp.dot(x, kernel[0, 0])
    return _forward(x, kernel)


def _conv_valid_fwd(x, kernel):
    return conv_valid(x, kernel), (x, kernel)


def _conv_valid_bwd(res, dy):
    x, kernel = res
    if kernel.shape[0] == 1:
        return jnp.dot(dy, kernel[0, 0].T), _kernel_grad(x, kernel, dy)
    return _input_grad(x, kernel, dy), _kernel_grad(x, kernel, dy)


conv_valid.defvjp(_conv_valid_fwd, _conv_valid_bwd)


@functools.cache
def _xla_products(padding: str):
    """XLA's stride-1 convolution with ``padding`` and its two gradients, each run
    once per example under vmap."""
    def conv(x, kernel):
        return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def input_grad(x, kernel, dy):
        return jax.vjp(lambda v: conv(v, kernel), x)[1](dy)[0]

    def kernel_grad(x, kernel, dy):
        return jax.vjp(lambda k: conv(x, k), kernel)[1](dy)[0]

    return tuple(_per_example(f) for f in (conv, input_grad, kernel_grad))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_xla(x, kernel, padding="VALID"):
    """Stride-1 convolution, ``padding`` ``VALID`` or ``SAME`` (lax's): x (B, H, W, C),
    kernel (m, m, C, O) -> (B, H', W', O).

    XLA's own convolution and gradients, the fastest forms on XLA:CPU for the
    broadcast decoder's and the pooling encoder's convolutions, but run once
    per replica under ``vmap``: vmap's own rule makes grouped convolutions of
    the replicas' kernels, several times slower there. (Padding the input
    first and convolving 'VALID' ran 1.5-3x slower on XLA:CPU.)
    """
    return _xla_products(padding)[0](x, kernel)


def _conv_xla_fwd(x, kernel, padding):
    return conv_xla(x, kernel, padding), (x, kernel)


def _conv_xla_bwd(padding, res, dy):
    x, kernel = res
    _, input_grad, kernel_grad = _xla_products(padding)
    return input_grad(x, kernel, dy), kernel_grad(x, kernel, dy)


conv_xla.defvjp(_conv_xla_fwd, _conv_xla_bwd)


def conv_stride2(x, kernel, bias=None):
    """``nn.Conv(O, (k, k), strides=2, padding='SAME')`` for even H, W: (B, H, W, C) -> (B, H/2, W/2, O)."""
    _check_kernel(kernel, "conv_stride2")
    k = kernel.shape[0]
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"conv_stride2 needs even height and width, got {x.shape}")
    pad = (k - 2) // 2  # 'SAME' pads k - 2 in total, split evenly (k even, H even)
    if pad:
        x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    y = conv_valid(space_to_depth(x), conv_kernel_to_s2d(kernel))
    return y if bias is None else y + bias


def conv_transpose_stride2(x, kernel, bias=None):
    """``nn.ConvTranspose(O, (k, k), strides=(2, 2), padding='SAME')``: (B, H, W, C) -> (B, 2H, 2W, O)."""
    _check_kernel(kernel, "conv_transpose_stride2")
    k = kernel.shape[0]
    if k == 4:
        x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = depth_to_space(conv_valid(x, conv_transpose_kernel_to_d2s(kernel)))
    if k == 4:
        y = y[:, 1:-1, 1:-1, :]
    return y if bias is None else y + bias


class _ConvParams(nn.Module):
    """Holds ``kernel`` (k, k, C_in, features) and ``bias`` (features,) as Flax's layers do."""

    features: int
    kernel_size: int = 4
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

    def _compute(self, x, kernel, bias):
        raise NotImplementedError

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init,
                            (self.kernel_size, self.kernel_size, x.shape[-1], self.features))
        bias = self.param("bias", self.bias_init, (self.features,))
        return self._compute(x, kernel, bias)


class Conv2x(_ConvParams):
    """Drop-in for ``nn.Conv(features, (k, k), strides=2, padding='SAME')`` (same parameters)."""

    def _compute(self, x, kernel, bias):
        return conv_stride2(x, kernel, bias)


class ConvTranspose2x(_ConvParams):
    """Drop-in for ``nn.ConvTranspose(features, (k, k), strides=(2, 2), padding='SAME')``."""

    def _compute(self, x, kernel, bias):
        return conv_transpose_stride2(x, kernel, bias)


class ConvSame(_ConvParams):
    """Drop-in for ``nn.Conv(features, (k, k), padding='SAME')`` (same parameters),
    computed by :func:`conv_xla`."""

    def _compute(self, x, kernel, bias):
        return conv_xla(x, kernel, "SAME") + bias


class ConvValid(_ConvParams):
    """Drop-in for ``nn.Conv(features, (k, k), padding='VALID')`` (same parameters),
    computed by :func:`conv_xla`."""

    kernel_size: int = 3

    def _compute(self, x, kernel, bias):
        return conv_xla(x, kernel, "VALID") + bias


DOWNSAMPLE = ("stride", "max_pool", "avg_pool")
UPSAMPLE = ("transpose", "nearest", "bilinear")


def pool2x(x: jax.Array, mode: str) -> jax.Array:
    """2 x 2 pooling, stride 2: (B, H, W, C) -> (B, H/2, W/2, C); ``mode`` ``max_pool``
    (the largest of each 2 x 2 block) or ``avg_pool`` (its mean)."""
    b, h, w, c = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"2 x 2 pooling needs even height and width, got {x.shape}")
    blocks = x.reshape(b, h // 2, 2, w // 2, 2, c)
    if mode == "max_pool":
        return blocks.max(axis=(2, 4))
    if mode == "avg_pool":
        return blocks.mean(axis=(2, 4))
    raise ValueError(f"pooling mode must be max_pool or avg_pool, got {mode!r}")


def upsample2x(x: jax.Array, mode: str) -> jax.Array:
    """(B, H, W, C) -> (B, 2H, 2W, C). ``nearest`` repeats each pixel into a 2 x 2
    block; ``bilinear`` interpolates with half-pixel centres (output pixel i sits
    at input coordinate (i + 0.5) / 2 - 0.5, edges clamped), as
    ``jax.image.resize`` and PyTorch's ``align_corners=False`` do."""
    if mode == "nearest":
        return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    if mode == "bilinear":
        b, h, w, c = x.shape
        return jax.image.resize(x, (b, 2 * h, 2 * w, c), method="bilinear", antialias=False)
    raise ValueError(f"upsampling mode must be nearest or bilinear, got {mode!r}")
