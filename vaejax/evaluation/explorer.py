"""A latent explorer for the report page: sliders that decode in the browser.

The decoder's layers and weights go into the page as a small program (dense,
3x3 / 1x1 convolutions, 4x4 stride-2 transposed convolutions, the spatial
broadcast), and a dependency-free script runs it on the code the sliders
set: any combination of latents, exactly (float32, the same arithmetic as
JAX up to summation order), with no server. The page grows by the
decoder's weights: ~1.5 MB for the conv decoder, ~0.2 MB for the broadcast
decoder at 16 x 16; decoders above ``MAX_PARAMS`` (the paper's FC decoder,
7.8 million weights: 31 MB) get no explorer, and the report says so.

:func:`run_program` is the same program in NumPy (the reference the tests
hold both the script and JAX to).
"""

from __future__ import annotations

import base64
import json

import numpy as np

from vaejax import models

MAX_PARAMS = 2_000_000


def decoder_program(model, params) -> list[dict] | None:
    """The decoder of ``model`` as a list of ops with float32 weights, or None for
    a decoder the explorer does not run (or one above ``MAX_PARAMS``).

    Ops: ``dense`` (w (in, out), b), ``reshape`` (shape (H, W, C)),
    ``broadcast`` (size: z tiled over size x size with x and y channels),
    ``conv`` (w (k, k, in, out), b; stride 1, 'valid'), ``conv_t`` (w (4, 4,
    in, out), b; stride 2, 'same'); each with ``act`` (relu, tanh or none).
    The logits end the program.
    """
    dec = model.decoder
    p = params["decoder"]
    if sum(np.size(x) for x in _leaves(p)) > MAX_PARAMS:
        return None
    ops: list[dict] = []
    if isinstance(dec, models.FCDecoder):
        for i in range(len(dec.hidden) + 1):
            act = dec.activation if i < len(dec.hidden) else "none"
            ops.append(_dense(p[f"Dense_{i}"], act))
        ops.append(dict(op="reshape", shape=list(model.image_shape)))
        return ops
    if isinstance(dec, models.ConvDecoder):
        if dec.upsample != "transpose":
            return None  # interpolation is not in the page's script (yet)
        h, w, _ = model.image_shape
        ops += [_dense(p["Dense_0"], "relu"), _dense(p["Dense_1"], "relu"),
                dict(op="reshape", shape=[h // 16, w // 16, 64])]
        ops += [_weights("conv_t", p[f"ConvTranspose_{i}"], "relu" if i < 3 else "none")
                for i in range(4)]
        return ops
    if isinstance(dec, models.BroadcastDecoder):
        size = model.image_shape[0]
        ops.append(dict(op="broadcast", size=dec.resolution + 2 * dec.layers))
        ops += [_weights("conv", p[f"Conv_{i}"], "relu") for i in range(dec.layers)]
        if dec.resolution == size:
            ops.append(_weights("conv", p[f"Conv_{dec.layers}"], "none"))
            return ops
        doublings = (size // dec.resolution).bit_length() - 1
        ops += [_weights("conv_t", p[f"ConvTranspose_{i}"],
                         "relu" if i < doublings - 1 else "none") for i in range(doublings)]
        return ops
    return None


def _leaves(tree):
    if isinstance(tree, dict) or hasattr(tree, "items"):
        for v in tree.values():
            yield from _leaves(v)
    else:
        yield tree


def _dense(p, act):
    return dict(op="dense", w=np.asarray(p["kernel"], np.float32),
                b=np.asarray(p["bias"], np.float32), act=act)


def _weights(op, p, act):
    return dict(op=op, w=np.asarray(p["kernel"], np.float32),
                b=np.asarray(p["bias"], np.float32), act=act)


def _act(x, act):
    if act == "relu":
        return np.maximum(x, 0)
    if act == "tanh":
        return np.tanh(x)
    return x


def run_program(ops: list[dict], z: np.ndarray) -> np.ndarray:
    """The program on one code ``z`` (D,): logits, (H, W, C) float32."""
    h = np.asarray(z, np.float32)
    for op in ops:
        kind = op["op"]
        if kind == "dense":
            h = _act(h.reshape(-1) @ op["w"] + op["b"], op["act"])
        elif kind == "reshape":
            h = h.reshape(op["shape"])
        elif kind == "broadcast":
            n = op["size"]
            coords = np.linspace(-1.0, 1.0, n, dtype=np.float32)
            h = np.concatenate([np.broadcast_to(h, (n, n, len(h))),
                                np.broadcast_to(coords[None, :, None], (n, n, 1)),
                                np.broadcast_to(coords[:, None, None], (n, n, 1))], axis=-1)
        elif kind == "conv":
            k = op["w"].shape[0]
            n_out = h.shape[0] - k + 1, h.shape[1] - k + 1
            out = np.zeros(n_out + (op["w"].shape[3],), np.float32)
            for ky in range(k):
                for kx in range(k):
                    out += h[ky:ky + n_out[0], kx:kx + n_out[1]] @ op["w"][ky, kx]
            h = _act(out + op["b"], op["act"])
        elif kind == "conv_t":
            # lax.conv_transpose, 'SAME', stride 2, kernel 4: the input dilated by 2,
            # padded by 2 on each side, then correlated with the (unflipped) kernel
            rows, cols = h.shape[:2]
            out = np.zeros((2 * rows + 4, 2 * cols + 4, op["w"].shape[3]), np.float32)
            for ky in range(4):
                for kx in range(4):
                    contrib = h @ op["w"][ky, kx]  # (rows, cols, out)
                    # input pixel i lands at dilated-padded position 2 + 2i, which output
                    # position o reads through kernel tap k when o + k = 2 + 2i
                    out[2 - ky + 3:2 - ky + 3 + 2 * rows:2,
                        2 - kx + 3:2 - kx + 3 + 2 * cols:2] += contrib
            h = _act(out[3:3 + 2 * rows, 3:3 + 2 * cols] + op["b"], op["act"])
        else:
            raise ValueError(f"unknown op {kind!r}")
    return h


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, "<f4").tobytes()).decode("ascii")


def explorer_html(ops: list[dict], start: np.ndarray, spread: np.ndarray, low: np.ndarray,
                  high: np.ndarray, image_shape, *, spread_name: str = "KL",
                  max_sliders: int = 10, link: str = "sigmoid") -> str:
    """The explorer's HTML, one self-contained block: a canvas of the decoded image
    (``link`` of the logits: sigmoid, or identity clipped to [0, 1] for an
    autoencoder trained with squared error) and one slider per active latent (``spread`` > 0.1:
    KL nats for a VAE, code std for an autoencoder; largest first, at most
    ``max_sliders``), latent d over [``low[d]``, ``high[d]``], all starting at
    the code ``start`` (D,).

    ``#explore=D:V,D:V`` in the page's address moves those sliders on load as
    a user would, and the block's ``pre.explorer-check`` then holds the code,
    the decoded image and the canvas pixels (for tests)."""
    spread = np.asarray(spread, np.float64)
    order = [int(d) for d in np.argsort(-spread) if spread[d] > 0.1][:max_sliders]
    program = []
    for op in ops:
        entry = {k: v for k, v in op.items() if k not in ("w", "b")}
        if "w" in op:
            entry.update(w=_encode(op["w"]), wshape=list(op["w"].shape), b=_encode(op["b"]))
        program.append(entry)
    h, w, c = (int(s) for s in image_shape)
    sliders = "".join(
        f'<div class="slider"><label>z{d} &middot; {spread_name} {spread[d]:.2f} '
        f'<input type="range" data-latent="{d}" min="{low[d]:.4f}" max="{high[d]:.4f}" '
        f'step="0.01" value="{float(start[d]):.4f}"></label> '
        f'<output>{float(start[d]):.2f}</output></div>' for d in order)
    if link not in ("sigmoid", "identity"):
        raise ValueError(f"link must be sigmoid or identity, got {link!r}")
    data = json.dumps(dict(program=program, start=[float(v) for v in start], shape=[h, w, c],
                           link=link))
    safe = data.replace("</", "<\\/")  # no "</script>" inside the block
    return (f'<div class="explorer"><canvas width="{w}" height="{h}" '
            f'style="width:{4 * w}px;height:{4 * h}px;image-rendering:pixelated"></canvas>'
            f'<div class="explorer-sliders">{sliders or "<p>no active latent</p>"}</div>'
            f'<button type="button">reset</button><pre class="explorer-check muted"></pre>'
            f'<script type="application/json">{safe}</script>'
            f'<script>{_SCRIPT}</script></div>')


_SCRIPT = r"""
(function (root) {
  const data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
  function floats(b64) {
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    return new Float32Array(bytes.buffer);
  }
  const ops = data.program.map((op) => op.w ? Object.assign({}, op, {w: floats(op.w), b: floats(op.b)}) : op);
  function act(x, a) {
    if (a === "relu") for (let i = 0; i < x.length; i++) x[i] = x[i] > 0 ? x[i] : 0;
    else if (a === "tanh") for (let i = 0; i < x.length; i++) x[i] = Math.tanh(x[i]);
    return x;
  }
  // tensors are {v: Float32Array, s: [H, W, C]} or {v, s: [N]}, row-major (HWC)
  function run(z) {
    let t = {v: Float32Array.from(z), s: [z.length]};
    for (const op of ops) {
      if (op.op === "dense") {
        const [n, m] = op.wshape, out = Float32Array.from(op.b);
        for (let i = 0; i < n; i++) {
          const xi = t.v[i];
          if (xi === 0) continue;
          for (let j = 0, r = i * m; j < m; j++) out[j] += xi * op.w[r + j];
        }
        t = {v: act(out, op.act), s: [m]};
      } else if (op.op === "reshape") {
        t = {v: t.v, s: op.shape};
      } else if (op.op === "broadcast") {
        const n = op.size, d = t.v.length, c = d + 2, out = new Float32Array(n * n * c);
        for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
          const o = (y * n + x) * c;
          for (let k = 0; k < d; k++) out[o + k] = t.v[k];
          out[o + d] = n > 1 ? -1 + 2 * x / (n - 1) : -1;
          out[o + d + 1] = n > 1 ? -1 + 2 * y / (n - 1) : -1;
        }
        t = {v: out, s: [n, n, c]};
      } else if (op.op === "conv") {
        const [k, , ci, co] = op.wshape, [H, W] = t.s, ho = H - k + 1, wo = W - k + 1;
        const out = new Float32Array(ho * wo * co);
        for (let y = 0; y < ho; y++) for (let x = 0; x < wo; x++) {
          const o = (y * wo + x) * co;
          for (let j = 0; j < co; j++) out[o + j] = op.b[j];
          for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
            const src = ((y + ky) * W + (x + kx)) * ci, wk = (ky * k + kx) * ci * co;
            for (let i = 0; i < ci; i++) {
              const xi = t.v[src + i];
              if (xi === 0) continue;
              for (let j = 0, r = wk + i * co; j < co; j++) out[o + j] += xi * op.w[r + j];
            }
          }
        }
        t = {v: act(out, op.act), s: [ho, wo, co]};
      } else if (op.op === "conv_t") {
        const [, , ci, co] = op.wshape, [H, W] = t.s, ho = 2 * H, wo = 2 * W;
        const out = new Float32Array(ho * wo * co);
        for (let y = 0; y < ho; y++) for (let x = 0; x < wo; x++)
          for (let j = 0; j < co; j++) out[(y * wo + x) * co + j] = op.b[j];
        // input pixel i feeds output o through kernel tap k where o = 2 i + 2 - k
        for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) {
          const src = (iy * W + ix) * ci;
          for (let ky = 0; ky < 4; ky++) {
            const y = 2 * iy + 2 - ky;
            if (y < 0 || y >= ho) continue;
            for (let kx = 0; kx < 4; kx++) {
              const x = 2 * ix + 2 - kx;
              if (x < 0 || x >= wo) continue;
              const o = (y * wo + x) * co, wk = (ky * 4 + kx) * ci * co;
              for (let i = 0; i < ci; i++) {
                const xi = t.v[src + i];
                if (xi === 0) continue;
                for (let j = 0, r = wk + i * co; j < co; j++) out[o + j] += xi * op.w[r + j];
              }
            }
          }
        }
        t = {v: act(out, op.act), s: [ho, wo, co]};
      }
    }
    return t.v;
  }
  const [H, W, C] = data.shape;
  const canvas = root.querySelector("canvas");
  const sliders = Array.from(root.querySelectorAll(".explorer-sliders input"));
  const z = data.start.slice();
  let last = null;
  function draw() {
    const logits = run(z), img = canvas.getContext("2d").createImageData(W, H);
    last = new Float32Array(logits.length);
    for (let p = 0; p < H * W; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const x = logits[p * C + (C === 3 ? ch : 0)];
        const v = data.link === "identity" ? Math.min(1, Math.max(0, x)) : 1 / (1 + Math.exp(-x));
        if (ch < C) last[p * C + ch] = v;
        img.data[4 * p + ch] = Math.round(255 * v);
      }
      img.data[4 * p + 3] = 255;
    }
    canvas.getContext("2d").putImageData(img, 0, 0);
  }
  for (const s of sliders) {
    s.addEventListener("input", () => {
      z[Number(s.dataset.latent)] = Number(s.value);
      s.parentElement.parentElement.querySelector("output").textContent =
          Number(s.value).toFixed(2);
      draw();
    });
  }
  root.querySelector("button").addEventListener("click", () => {
    for (const s of sliders) {
      s.value = data.start[Number(s.dataset.latent)];
      s.dispatchEvent(new Event("input"));
    }
  });
  draw();
  // #explore=D:V,D:V moves those sliders as a user would, then reports what is shown
  const m = /explore=([^&]*)/.exec(location.hash);
  if (m) {
    const before = Array.from(canvas.getContext("2d").getImageData(0, 0, W, H).data);
    for (const pair of m[1].split(",")) {
      const [d, v] = pair.split(":");
      const s = sliders.find((el) => el.dataset.latent === d);
      if (!s) continue;
      s.value = v;
      s.dispatchEvent(new Event("input"));
    }
    const after = Array.from(canvas.getContext("2d").getImageData(0, 0, W, H).data);
    root.querySelector(".explorer-check").textContent = JSON.stringify({
      code: z, image: Array.from(last, (v) => Math.round(v * 1e5) / 1e5),
      canvas: after.filter((_, i) => i % 4 < C),
      changed: after.some((v, i) => v !== before[i])});
  }
})(document.currentScript.parentElement);
"""
