"""Reading the benchmarks' release files: npz members, HDF5 datasets, picture folders.

Large arrays (MPI3D's 12.7 GB, Shapes3D's 5.9 GB) are copied once, in
chunks, into a ``.npy`` file in the cache directory and memory-mapped from
there; the cache name carries the source file's path, size and time, so a
changed file is read again. Every failure is a :class:`DataError` naming
the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from vaejax.errors import DataError, DataFileNotFoundError

# npz members larger than this are streamed into the cache rather than read into memory
IN_MEMORY_BYTES = 1 << 30
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def cache_dir() -> Path:
    """``$VAEJAX_DATA``, else ``$XDG_CACHE_HOME/vaejax``, else ``~/.cache/vaejax``."""
    if os.environ.get("VAEJAX_DATA"):
        return Path(os.environ["VAEJAX_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vaejax"


def existing_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileNotFoundError(f"{what} file not found: {path}")
    return path


def existing_dir(path: str | os.PathLike, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataFileNotFoundError(f"{what} directory not found: {path}")
    return path


def cache_path(tag: str, *paths: Path, suffix: str = ".npy") -> Path:
    """A cache file name for data derived from ``paths`` (their names, sizes and times)."""
    h = hashlib.sha256(tag.encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_dir() / f"{tag}_{h.hexdigest()[:12]}{suffix}"


@contextlib.contextmanager
def writing_npy(target: Path, dtype, shape: tuple):
    """Yields a writable memory-mapped ``.npy`` array that becomes ``target`` only
    when the block ends without an error (written under a temporary name, then
    renamed): an interrupted write leaves no half-filled cache file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(shape))
        yield out
        out.flush()
        del out
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _open_npz(path: Path) -> zipfile.ZipFile:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        hint = " (it looks like a pickle)" if magic[:1] == b"\x80" else ""
        raise DataError(f"npz:{path}: not an .npz (zip) archive{hint}")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"npz:{path}: not a readable .npz file, truncated or corrupt "
                        f"({err})") from None


def npz_keys(path: Path) -> list[str]:
    with _open_npz(path) as z:
        return [n.removesuffix(".npy") for n in z.namelist()]


def npz_array(path: Path, key: str, *, cache_tag: str | None = None) -> np.ndarray:
    """Member ``key`` of an npz (no pickle); a large one streamed into a memory-mapped
    cache file (``cache_tag`` names it)."""
    source = f"npz:{path}"
    with _open_npz(path) as z:
        names = {n.removesuffix(".npy"): n for n in z.namelist()}
        if key not in names:
            raise DataError(f"{source}: missing key {key!r} (found {sorted(names)})")
        try:
            with z.open(names[key]) as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise DataError(f"{source}: '{key}' has .npy format {version}, expected "
                                    "1.0 or 2.0")
                shape, fortran, dtype = read_header(member)
                if dtype.hasobject:
                    raise DataError(f"{source}: '{key}' is stored as pickled objects, which are "
                                    "not loaded")
                nbytes = int(np.prod(shape)) * dtype.itemsize
                if nbytes <= IN_MEMORY_BYTES or cache_tag is None:
                    data = _read_exact(member, nbytes, source, key)
                    out = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
                    return out.copy() if not out.flags.writeable else out
                if fortran:
                    raise DataError(f"{source}: '{key}' is stored in Fortran order; expected C")
                target = cache_path(f"{cache_tag}_{key}", path)
                if not target.exists():
                    _stream_to_npy(member, target, shape, dtype, source, key)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            if isinstance(err, DataError):
                raise
            raise DataError(f"{source}: '{key}' is truncated or corrupt ({err})") from None
    return np.load(target, mmap_mode="r")


def _read_exact(stream, nbytes: int, source: str, key: str) -> bytes:
    data = stream.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{source}: '{key}' is truncated ({len(data)} of {nbytes} bytes)")
    return data


def _stream_to_npy(member, target: Path, shape, dtype, source: str, key: str) -> None:
    with writing_npy(target, dtype, shape) as out:
        flat = out.reshape(-1)
        chunk = max(1, (64 << 20) // dtype.itemsize)
        with tqdm(total=flat.size * dtype.itemsize, unit="B", unit_scale=True,
                  desc=f"Copying {key} into the cache") as bar:
            for start in range(0, flat.size, chunk):
                stop = min(start + chunk, flat.size)
                raw = _read_exact(member, (stop - start) * dtype.itemsize, source, key)
                flat[start:stop] = np.frombuffer(raw, dtype)
                bar.update(len(raw))
        del flat


def hdf5_arrays(path: Path, keys: tuple[str, ...], what: str, *,
                cache_tag: str | None = None) -> dict[str, np.ndarray]:
    """Datasets ``keys`` of an HDF5 file (needs h5py); one larger than 1 GiB is copied
    in chunks into a memory-mapped cache file (``cache_tag`` names it)."""
    try:
        import h5py  # pylint: disable=import-outside-toplevel (an optional dependency)
    except ImportError:
        raise ImportError(f"Loading {what} from HDF5 needs h5py: "
                          "pip install 'vaejax[hdf5]'") from None
    source = f"hdf5:{path}"
    out = {}
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in keys if k not in f]
            if missing:
                raise DataError(f"{source}: missing datasets {missing} (found {sorted(f.keys())})")
            for k in keys:
                ds = f[k]
                if ds.size * ds.dtype.itemsize <= IN_MEMORY_BYTES or cache_tag is None:
                    out[k] = ds[()]
                    continue
                target = cache_path(f"{cache_tag}_{k}", path)
                if not target.exists():
                    with writing_npy(target, ds.dtype, ds.shape) as mm:
                        step = max(1, (64 << 20) // max(1, mm[0].nbytes))
                        for start in tqdm(range(0, len(ds), step), desc=f"Copying {k} into "
                                          "the cache"):
                            mm[start:start + step] = ds[start:start + step]
                out[k] = np.load(target, mmap_mode="r")
    except OSError as err:
        raise DataError(f"{source}: not a readable HDF5 file, truncated or corrupt "
                        f"({' '.join(str(err).split())})") from None
    return out


def check_array(array: np.ndarray, name: str, source: str, shape: tuple, kind) -> None:
    """DataError unless ``array`` has ``shape`` (None: any size) and a dtype of ``kind``."""
    if array.ndim != len(shape) or any(s is not None and s != a
                                       for s, a in zip(shape, array.shape)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise DataError(f"{source}: '{name}' has shape {array.shape}, expected {want}")
    if not np.issubdtype(array.dtype, kind):
        raise DataError(f"{source}: '{name}' has dtype {array.dtype}, "
                        f"expected {np.dtype(kind).name if kind is not np.floating else 'float'}")


def resize_picture(picture: Image.Image, size: int, *, crop: int | None = None) -> Image.Image:
    """The centre square (or the centre ``crop`` x ``crop`` box) resized to size x size
    (Lanczos, i.e. antialiased)."""
    w, h = picture.size
    side = min(w, h) if crop is None else min(crop, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return picture.crop((left, top, left + side, top + side)).resize((size, size),
                                                                     Image.LANCZOS)


def picture_files(directory: Path) -> list[Path]:
    """Picture files under ``directory`` (recursively), sorted by path."""
    return sorted(p for p in directory.rglob("*")
                  if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES)


def load_pictures(files: list[Path], *, size: int, channels: int, crop: int | None,
                  tag: str, source: str, progress: bool = True) -> np.ndarray:
    """Pictures -> uint8 (N, size, size, channels), decoded once and cached.

    Each is converted to RGB (channels 3) or greyscale (1), centre-cropped
    (:func:`resize_picture`) and resized. A file that does not decode is a
    DataError naming it.
    """
    if channels not in (1, 3):
        raise DataError(f"{source}: channels must be 1 or 3, got {channels}")
    h = hashlib.sha256(f"{size}|{channels}|{crop}".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    target = cache_dir() / f"{tag}_{h.hexdigest()[:12]}.npy"
    if target.exists():
        try:
            out = np.load(target, mmap_mode="r")
            if out.shape == (len(files), size, size, channels) and out.dtype == np.uint8:
                return out
        except (ValueError, OSError):
            pass
    with writing_npy(target, np.uint8, (len(files), size, size, channels)) as out:
        for i, p in enumerate(tqdm(files, desc=f"Reading {tag} pictures", unit="img",
                                   disable=not progress or len(files) < 1000)):
            try:
                with Image.open(p) as picture:
                    picture = picture.convert("RGB" if channels == 3 else "L")
                    picture = resize_picture(picture, size, crop=crop)
                    out[i] = np.asarray(picture, np.uint8).reshape(size, size, channels)
            except (UnidentifiedImageError, OSError, ValueError) as err:
                raise DataError(f"{source}: {p} is not a readable picture ({err})") from None
    return np.load(target, mmap_mode="r")


def parse_source(source: str, dataset: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    """``KIND:ARG`` -> (kind, arg), checked against ``allowed`` kinds ('tfds' may lack ARG)."""
    kind, _, arg = source.partition(":")
    if kind in allowed and (arg or kind == "tfds"):
        return kind, arg
    forms = ", ".join("'tfds' or 'tfds:DATA_DIR'" if k == "tfds" else f"'{k}:PATH'"
                      for k in allowed)
    raise DataError(f"the {dataset} dataset reads {forms} as config.data_source, got {source!r}")


def tfds_records(name: str, data_dir: str | None, split: str, *, image_key: str,
                 label_keys: tuple[str, ...], shape: tuple[int, ...], size: int | None = None,
                 crop: int | None = None, progress: bool = True):
    """A tensorflow-datasets dataset read with ``tfds.data_source`` (no TensorFlow needed
    for array_record data) -> (uint8 images (N, *shape), int64 labels (N, len(label_keys))).

    Images not of ``shape`` are centre-cropped (``crop``) and resized to ``size``.
    """
    try:
        import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel (optional)
    except ImportError:
        raise ImportError("The tfds source needs tensorflow-datasets: "
                          "pip install 'vaejax[tfds]'") from None
    source = f"tfds:{data_dir or 'default'}:{name}:{split}"
    try:
        records = tfds.data_source(name, split=split, data_dir=data_dir)
    except Exception as err:  # pylint: disable=broad-except (tfds raises many kinds)
        raise DataError(f"{source}: cannot open the prepared dataset ({type(err).__name__}: "
                        f"{' '.join(str(err).split())[:300]})") from None
    n = len(records)
    if n == 0:
        raise DataError(f"{source}: holds no examples")
    images = np.empty((n,) + tuple(shape), np.uint8)
    labels = np.zeros((n, len(label_keys)), np.int64)
    for i in tqdm(range(n), desc=f"Reading tfds {name}", disable=not progress):
        record = records[i]
        image = np.asarray(record[image_key])
        if image.shape != tuple(shape):
            if size is None or image.ndim != 3:
                raise DataError(f"{source}: image {i} has shape {image.shape}, expected {shape}")
            mode = "RGB" if image.shape[-1] == 3 else "L"
            picture = Image.fromarray(image.reshape(image.shape[:2]) if mode == "L" else image,
                                      mode)
            image = np.asarray(resize_picture(picture, size, crop=crop)).reshape(shape)
        images[i] = image
        labels[i] = [int(record[k]) for k in label_keys]
    return images, labels, source
