"""Data: toy 2-D Gaussian mixtures and real image data sets as tensors in [-1, 1].

Image data sets (``fashion-mnist``, ``mnist``, ``digits``) are read from:

1. the folder you name, if you name one: the ``root`` argument, else ``$GAN_COURSE_DATA``.
   A named folder is used or the load fails with an error saying what is missing there;
   no other copy is used in its place;
2. otherwise, for Fashion-MNIST, Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``; ``apt-get install dataset-fashion-mnist``);
3. otherwise the user's cache (``$XDG_CACHE_HOME/gan_course`` or ``~/.cache/gan_course``),
   filled by a verified download from the mirrors in :data:`MIRRORS`.

Every file is checked against the pinned SHA-256 of its content (:data:`IDX_SHA256`) before
it enters the cache and again when it is loaded (``verify=False`` loads your own IDX files
unchecked), and image and label files are cross-checked (as many labels as images, labels
in range). ``digits`` is scikit-learn's bundled 8x8 digits and needs no file at all. Nothing
is ever replaced silently by another data set: when the files are missing and cannot be
downloaded, the error names every place searched and how to obtain the files.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import struct
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .runtime import _suggest

# ---------------------------------------------------------------------------------------
# Toy 2-D mixtures (Chapter 4): the ring of 8 and the grid of 25 Gaussians
# ---------------------------------------------------------------------------------------


@dataclass
class Mixture2D:
    """An equal-weight mixture of isotropic 2-D Gaussians with known means (for metrics).

    ``means``: (K, 2) tensor; ``std``: the standard deviation of every component.
    """

    name: str
    means: torch.Tensor
    std: float

    @property
    def n_modes(self) -> int:
        return int(self.means.shape[0])

    def sample(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` points, shape (n, 2)."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        idx = torch.randint(self.n_modes, (n,), generator=rng)
        noise = torch.randn(n, 2, generator=rng) * self.std
        return self.means[idx] + noise


def ring_of_gaussians(n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture2D:
    """Ring of ``n_modes`` Gaussians on a circle (protocol defaults: 8 modes, radius 1, std 0.01)."""
    angles = torch.arange(n_modes, dtype=torch.float32) * (2 * math.pi / n_modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return Mixture2D(f"ring{n_modes}", means, float(std))


def grid_of_gaussians(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture2D:
    """Grid of ``side``x``side`` Gaussians (defaults: means at {-4,-2,0,2,4}^2, std 0.05)."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    means = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    return Mixture2D(f"grid{side * side}", means, float(std))


# ---------------------------------------------------------------------------------------
# Image data sets
# ---------------------------------------------------------------------------------------

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SPLIT_SIZES = {"train": 60000, "test": 10000}

# SHA-256 of the *decompressed* content of every IDX file the package downloads. The pins are
# on the content, not on the .gz bytes, because the same data is served gzipped differently
# (Debian's Fashion-MNIST package, the official S3 bucket and other mirrors give three different
# .gz digests for identical content). Fashion-MNIST: computed from Debian's package
# dataset-fashion-mnist and equal to the digests published by independent projects; its raw
# MD5s equal those published with torchvision-style loaders. MNIST: the digests published by
# many independent projects (no copy of MNIST was available to recompute them here).
IDX_SHA256 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}

# Mirrors, https first. Every download is checked against IDX_SHA256, so a plain-http mirror
# can fail but cannot deliver wrong data. Tests replace them with local file:// URLs.
MIRRORS = {
    "fashion-mnist": ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                      "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"],
}
DEBIAN_DIRS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")], "mnist": []}
TORCHVISION_NAMES = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}
DATASETS = ("fashion-mnist", "mnist", "digits")


class DataNotFoundError(FileNotFoundError):
    """The image files were found nowhere and could not be downloaded."""


class DataIntegrityError(ValueError):
    """A data file is truncated, corrupt, inconsistent or not the official file it claims to be."""


@dataclass
class ImageData:
    """Images in [-1, 1] with integer labels.

    ``images``: float32 tensor (N, C, H, W); ``labels``: int64 tensor (N,);
    ``classes``: the class names; ``source``: where the files were read from.
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple:
        return tuple(self.images.shape[1:])

    def __repr__(self) -> str:
        return (f"ImageData({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"shape={self.shape}, classes={len(self.classes)}, source={self.source!r})")


def cache_dir() -> Path:
    """The user's cache folder for downloads: ``$XDG_CACHE_HOME/gan_course`` or ``~/.cache/gan_course``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gan_course"


def _check_count(value, what: str) -> None:
    """``limit`` / ``size`` arguments: None or a positive integer, never silently empty data."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} must be a positive integer (or None for all), got {value!r}")


def _read_idx_bytes(path: Path) -> bytes:
    """The bytes of an IDX file, decompressed if it is gzipped; a clear error on a bad .gz."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if not gzipped:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataIntegrityError(f"{path}: truncated or corrupt gzip file ({type(exc).__name__}: {exc}); "
                                 "delete it and download or copy it again") from None


def _parse_idx(data: bytes, path) -> np.ndarray:
    if len(data) < 4:
        raise DataIntegrityError(f"{path} is too short to be an IDX file ({len(data)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08 or ndim == 0:
        raise DataIntegrityError(f"{path} is not an IDX file of unsigned bytes (magic {data[:4].hex()})")
    if len(data) < 4 + 4 * ndim:
        raise DataIntegrityError(f"{path}: header cut short (truncated file?)")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataIntegrityError(f"{path}: header says {dims} but holds {body.size} bytes (truncated download?)")
    return body.reshape(dims).copy()  # writable, independent of the file buffer


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) of unsigned bytes into a NumPy array.

    Raises :class:`DataIntegrityError` (a ``ValueError``) naming the file when it is not an
    IDX file, is truncated, or is a truncated or corrupt gzip file.
    """
    path = Path(path)
    return _parse_idx(_read_idx_bytes(path), path)


def _digest_problem(name: str, stem: str, data: bytes) -> str | None:
    """None when ``data`` is the official content of ``stem``, else what differs."""
    expected = IDX_SHA256[name][stem]
    found = hashlib.sha256(data).hexdigest()
    if found == expected:
        return None
    return f"SHA-256 of the content is {found}, expected {expected} (the official {name} {stem})"


def _check_pair(images: np.ndarray, labels: np.ndarray, img_path, lab_path, n_classes: int) -> None:
    """Images (N, H, W) and labels (N,) in [0, n_classes): a clear error naming both files otherwise."""
    if images.ndim != 3:
        raise DataIntegrityError(f"{img_path} holds an array of shape {images.shape}; images must be (N, H, W)")
    if labels.ndim != 1:
        raise DataIntegrityError(f"{lab_path} holds an array of shape {labels.shape}; labels must be (N,)")
    if len(images) != len(labels):
        raise DataIntegrityError(f"{img_path} holds {len(images)} images but {lab_path} holds {len(labels)} "
                                 "labels; the two files do not belong together")
    if len(labels) and int(labels.max()) >= n_classes:
        bad = int((labels >= n_classes).sum())
        raise DataIntegrityError(f"{lab_path}: {bad} labels are outside 0..{n_classes - 1} "
                                 f"(largest {int(labels.max())}); these are not labels of this data set")


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _candidate_folders(base: Path, name: str) -> list[Path]:
    """A root may hold the files directly, in ``<name>/``, or in torchvision's ``<Name>/raw/``."""
    return [base, base / name, base / TORCHVISION_NAMES[name] / "raw"]


def _explicit_place(root) -> tuple[str, Path] | None:
    """The place the user named: ``root`` if given, else ``$GAN_COURSE_DATA`` if set, else None."""
    if root is not None:
        return "root argument", Path(root)
    env = os.environ.get("GAN_COURSE_DATA", "").strip()
    return ("$GAN_COURSE_DATA", Path(env)) if env else None


def _search_places(name: str, root) -> list[tuple[str, Path]]:
    explicit = _explicit_place(root)
    if explicit is not None:
        return [(explicit[0], p) for p in _candidate_folders(explicit[1], name)]
    return [("Debian package", p) for p in DEBIAN_DIRS[name]] + [("cache", cache_dir() / name)]


def _complete(folder: Path, split: str) -> tuple[Path, Path] | None:
    img, lab = (_find_idx(folder, stem) for stem in IDX_FILES[split])
    return (img, lab) if img and lab else None


def _fetch(url: str, dest: Path) -> Path:
    """Copy ``url`` into a new temporary file in ``dest``; the caller removes or renames it."""
    fd, tmp = tempfile.mkstemp(dir=dest, suffix=".part")
    os.close(fd)
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as fh:
            shutil.copyfileobj(response, fh)
    except BaseException:
        os.remove(tmp)
        raise
    return Path(tmp)


def download_idx(name: str, split: str, dest: Path | None = None, mirrors=None) -> tuple[Path, Path]:
    """Download the two IDX files of ``split`` into ``dest`` (default: the cache), verified.

    Each file goes to a temporary name and is checked before anything enters ``dest``: it
    must decompress, be a well-formed IDX file with the split's number of records, and its
    content must have the pinned SHA-256 (:data:`IDX_SHA256`); the two files must agree
    (as many labels as images, labels in 0..9). Only then are both renamed into place, so an
    interrupted or rejected download leaves nothing under the real names. Mirrors are tried
    in order; raises ``OSError`` listing every mirror and why it failed.
    """
    dest = Path(dest) if dest is not None else cache_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    mirrors = list(mirrors if mirrors is not None else MIRRORS[name])
    fetched: list[tuple[Path, np.ndarray]] = []
    try:
        for stem in IDX_FILES[split]:
            errors = []
            for mirror in mirrors:
                url = mirror.rstrip("/") + f"/{stem}.gz"
                tmp = None
                try:
                    tmp = _fetch(url, dest)
                    content = _read_idx_bytes(tmp)
                    arr = _parse_idx(content, url)
                    if arr.shape[0] != SPLIT_SIZES[split]:
                        raise DataIntegrityError(f"expected {SPLIT_SIZES[split]} records, found {arr.shape[0]}")
                    problem = _digest_problem(name, stem, content)
                    if problem:
                        raise DataIntegrityError(problem)
                    fetched.append((tmp, arr))
                    tmp = None
                    break
                except (OSError, ValueError, EOFError) as exc:
                    errors.append(f"{url}: {exc}")
                finally:
                    if tmp is not None and tmp.exists():
                        tmp.unlink()
            else:
                if not mirrors:
                    errors.append("no mirror given")
                raise OSError(f"could not download {stem}.gz; tried:\n  " + "\n  ".join(errors))
        (img_tmp, images), (lab_tmp, labels) = fetched
        _check_pair(images, labels, img_tmp, lab_tmp, 10)
        out = []
        for (tmp, _), stem in zip(fetched, IDX_FILES[split]):
            target = dest / f"{stem}.gz"
            os.replace(tmp, target)
            out.append(target)
        fetched = []
        return out[0], out[1]
    finally:
        for tmp, _ in fetched:
            if tmp.exists():
                tmp.unlink()


def _not_found(name: str, split: str, places, download_error: str | None) -> DataNotFoundError:
    lines = [f"{name} ({split} split) was not found. Places searched, in order:"]
    lines += [f"  - {label}: {path}" for label, path in places]
    if download_error:
        lines.append("Download into the cache failed:")
        lines += ["  " + line for line in download_error.splitlines()]
        lines.append("  (offline, or a mirror served other data?)")
    else:
        lines.append("Download was disabled (download=False).")
    lines.append("To obtain the files, do one of:")
    if name == "fashion-mnist":
        lines.append("  - on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist")
    lines.append(f"  - put the four IDX files ({', '.join(s + '.gz' for pair in IDX_FILES.values() for s in pair)})"
                 " in a folder and set GAN_COURSE_DATA to it, or pass root=...")
    lines.append("  - run once with internet access so that they are downloaded into the cache.")
    lines.append("No other data set is substituted.")
    return DataNotFoundError("\n".join(lines))


def _missing_at_named_place(name: str, split: str, label: str, base: Path) -> DataNotFoundError:
    """The user named a place and the files are not there: say what is missing, never fall back."""
    folders = _candidate_folders(base, name)
    lines = [f"{name} ({split} split) is not in the place you named ({label}: {base})."]
    if not base.is_dir():
        lines.append(f"  {base} does not exist or is not a folder.")
    else:
        for folder in folders:
            if not folder.is_dir():
                continue
            have = [stem for stem in IDX_FILES[split] if _find_idx(folder, stem)]
            missing = [f"{stem}(.gz)" for stem in IDX_FILES[split] if stem not in have]
            listing = sorted(p.name for p in folder.iterdir())
            shown = ", ".join(listing[:8]) + (f", ... ({len(listing)} entries)" if len(listing) > 8 else "")
            lines.append(f"  {folder}: missing {' and '.join(missing)}; it holds: {shown or 'nothing'}")
    lines.append("Looked in: " + ", ".join(str(f) for f in folders) + ".")
    lines.append(f"Put {' and '.join(s + '.gz' for s in IDX_FILES[split])} there, or "
                 + ("drop root=... " if label == "root argument" else "unset GAN_COURSE_DATA ")
                 + "to use the default places (Debian package, the cache, a verified download). "
                 "No other copy is used in its place.")
    return DataNotFoundError("\n".join(lines))


def _read_verified(name: str, split: str, img_path: Path, lab_path: Path, label: str, verify: bool):
    """Read an image/label pair, check it against the pins (``verify``) and against each other."""
    arrays = []
    for path, stem in zip((img_path, lab_path), IDX_FILES[split]):
        content = _read_idx_bytes(path)
        problem = _digest_problem(name, stem, content) if verify else None
        if problem:
            advice = ("delete it (it will be downloaded again)" if label == "cache" else
                      "if these are your own files in IDX format, pass verify=False to load them unchecked")
            raise DataIntegrityError(f"{path} ({label}) is not the official {name} file: {problem}. "
                                     f"Nothing was loaded; {advice}.")
        arrays.append(_parse_idx(content, path))
    _check_pair(arrays[0], arrays[1], img_path, lab_path, 10)
    return arrays[0], arrays[1]


def _load_idx_dataset(name: str, split: str, root, download: bool, mirrors=None, verify: bool = True):
    explicit = _explicit_place(root)
    places = _search_places(name, root)
    for label, folder in places:
        found = _complete(folder, split)
        if found:
            images, labels = _read_verified(name, split, found[0], found[1], label, verify)
            return images, labels, f"{label}: {folder}"
    if explicit is not None:
        raise _missing_at_named_place(name, split, *explicit)
    error = None
    if download:
        try:
            img, lab = download_idx(name, split, mirrors=mirrors)
            images, labels = _read_verified(name, split, img, lab, "cache", True)
            return images, labels, f"downloaded: {img.parent}"
        except OSError as exc:
            error = str(exc)
    raise _not_found(name, split, places, error)


def _load_digits(split: str):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0 * 255.0).round().astype(np.uint8)  # (1797, 8, 8), 0..255
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    cut = 1500
    idx = order[:cut] if split == "train" else order[cut:]
    return images[idx], labels[idx], "scikit-learn load_digits (bundled)"


def load_images(name: str = "fashion-mnist", split: str = "train", *, root=None, download: bool = True,
                limit: int | None = None, size: int | None = None, mirrors=None, verify: bool = True) -> ImageData:
    """Load an image data set as tensors scaled to [-1, 1].

    ``name``: ``fashion-mnist`` (default), ``mnist`` or ``digits``; ``split``: ``train`` or
    ``test``; ``root``: a folder holding the IDX files (used or the load fails; see the module
    docstring for the places searched otherwise); ``limit``: keep the first ``limit`` images;
    ``size``: output side length (28x28 images are padded with background to 32, other sizes
    are resized bilinearly); ``verify``: check the files against the pinned SHA-256 digests of
    the official data (downloads are always checked).
    Returns :class:`ImageData` with images (N, 1, H, W) and labels (N,).
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; accepted: {', '.join(DATASETS)}." + _suggest(key, DATASETS))
    if split not in IDX_FILES:
        raise ValueError(f"unknown split {split!r}; accepted: 'train', 'test'." + _suggest(split, IDX_FILES))
    _check_count(limit, "limit")
    _check_count(size, "size")
    if key == "digits":
        arr, labels, source = _load_digits(split)
        classes = DIGIT_CLASSES
    else:
        arr, labels, source = _load_idx_dataset(key, split, root, download, mirrors, verify)
        classes = FASHION_CLASSES if key == "fashion-mnist" else DIGIT_CLASSES
    if limit is not None:
        arr, labels = arr[:limit], labels[:limit]
    images = torch.from_numpy(np.ascontiguousarray(arr)).float().div(127.5).sub(1.0).unsqueeze(1)  # (N, 1, H, W)
    if size is not None:
        images = resize_images(images, size)
    return ImageData(key, split, images, torch.from_numpy(np.asarray(labels, dtype=np.int64)), classes, source)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, C, H, W) images in [-1, 1] to ``size`` x ``size``.

    28 -> 32 pads two background pixels (value -1) on every side, which keeps strokes
    sharp; any other change of size is bilinear.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    if h == w and size > h and (size - h) % 2 == 0 and size - h <= 8:
        pad = (size - h) // 2
        return F.pad(images, (pad, pad, pad, pad), value=-1.0)
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(-1, 1)


# ---------------------------------------------------------------------------------------
# Derived domains and paired tasks (Chapters 7-10): the true translation is known
# ---------------------------------------------------------------------------------------


def edges(images: torch.Tensor) -> torch.Tensor:
    """Edge maps of images in [-1, 1]: grey-scale dilation with a 3x3 square minus the image
    (the morphological gradient used for the digits-edges task of the CoGAN paper).

    (N, C, H, W) -> (N, C, H, W) in [-1, 1]; edges are bright on a dark background.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    x = (images + 1) / 2                                        # [0, 1]
    dilated = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    return ((dilated - x) * 2 - 1).clamp(-1, 1)


@dataclass
class PairedData:
    """Aligned pairs (input, target) for paired translation, with the labels of the images."""

    name: str
    split: str
    inputs: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self):
        if self.inputs.shape[0] != self.targets.shape[0] or self.inputs.shape[2:] != self.targets.shape[2:]:
            raise ValueError(f"paired inputs {tuple(self.inputs.shape)} and targets {tuple(self.targets.shape)} "
                             "must have the same number of images and the same height and width")

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def negatives(images: torch.Tensor) -> torch.Tensor:
    """Photographic negatives of images in [-1, 1]: x -> -x."""
    return -images


def rotations(images: torch.Tensor, quarter_turns: int = 1) -> torch.Tensor:
    """Images rotated by ``quarter_turns`` x 90 degrees counter-clockwise (a geometric change)."""
    return torch.rot90(images, quarter_turns, dims=(-2, -1))


DOMAIN_TRANSFORMS = {
    "identity": lambda x: x,
    "edges": edges,
    "negative": negatives,
    "rotate90": rotations,
    "flip": lambda x: x.flip(-1),
}
PAIRED_TASKS = tuple(name for name in DOMAIN_TRANSFORMS if name != "identity")


def domain_transform(name: str):
    """The transformation that defines a derived domain, by name."""
    if name not in DOMAIN_TRANSFORMS:
        raise ValueError(f"unknown domain {name!r}; accepted: {', '.join(DOMAIN_TRANSFORMS)}")
    return DOMAIN_TRANSFORMS[name]


def paired_task(task: str = "edges", dataset: str = "fashion-mnist", split: str = "train", size: int = 32,
                limit: int | None = None, **kwargs) -> PairedData:
    """A paired translation task built from real images: input = transform(image), target = image.

    ``task``: a derived domain other than ``identity`` (``edges``: edge map -> image, Chapter 7).
    The split is the data set's own train/test split.
    """
    if task not in PAIRED_TASKS:
        raise ValueError(f"unknown paired task {task!r}; accepted: {', '.join(PAIRED_TASKS)}")
    data = load_images(dataset, split, size=size, limit=limit, **kwargs)
    return PairedData(f"{task}->{dataset}", split, DOMAIN_TRANSFORMS[task](data.images), data.images, data.labels)


@dataclass
class UnpairedData:
    """Two domains of images with no pairing: ``a`` and ``b`` come from disjoint sets of
    source images, so no image of ``a`` has its counterpart in ``b``. For evaluation,
    ``truth_ab`` holds the true translation of every image of ``a`` (hidden from training).
    """

    name: str
    split: str
    a: torch.Tensor
    b: torch.Tensor
    truth_ab: torch.Tensor
    truth_ba: torch.Tensor

    def __post_init__(self):
        if self.a.shape[1:] != self.b.shape[1:]:
            raise ValueError(f"the two domains must have images of the same shape, got {tuple(self.a.shape[1:])} "
                             f"and {tuple(self.b.shape[1:])}")


def unpaired_domains(domain_a: str, domain_b: str, dataset: str = "fashion-mnist", split: str = "train",
                     size: int = 32, limit: int | None = None, **kwargs) -> UnpairedData:
    """Two derived domains built from disjoint halves of a data set's split.

    Images with even index (after a fixed shuffle) form domain A = domain_a(x), those with
    odd index form domain B = domain_b(x). ``truth_ab`` = domain_b(x) for the sources of A
    and ``truth_ba`` = domain_a(x) for the sources of B: the answer the model never sees.
    """
    _check_count(limit, "limit")
    ta, tb = domain_transform(domain_a), domain_transform(domain_b)
    data = load_images(dataset, split, size=size, **kwargs)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    if limit is not None:
        order = order[: 2 * limit]
    src_a, src_b = data.images[order[0::2]], data.images[order[1::2]]
    return UnpairedData(f"{domain_a}<->{domain_b} ({dataset})", split, ta(src_a), tb(src_b), tb(src_a), ta(src_b))


# ---------------------------------------------------------------------------------------
# Photo data sets for GPU runs: CycleGAN folders (horse2zebra...) and CelebA attributes
# ---------------------------------------------------------------------------------------

# Archives of the CycleGAN data sets: (size in bytes, SHA-256), as published in TensorFlow
# Datasets' url_checksums/cycle_gan.txt for the same files under
# people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/ (not recomputed here).
CYCLEGAN_MIRRORS = ["https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/",
                    "https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/"]
CYCLEGAN_URL = CYCLEGAN_MIRRORS[0] + "{name}.zip"
CYCLEGAN_SHA256 = {
    "apple2orange": (78456409, "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8"),
    "cezanne2photo": (279885071, "3a6c10ca21f9485862f1cbd707744b9dc258954a04631271d23a3605eeb63cff"),
    "cityscapes": (279601602, "d2f6910fd056c1ee9873777ae838e7ac4a2c833598ae62a04188e5ab2f4ea036"),
    "facades": (35135868, "9a31ebf3a31b9b5cd195dd5bf62e9308e00cb94604d1019e3889ac84248695c0"),
    "horse2zebra": (116867962, "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1"),
    "iphone2dslr_flower": (339964458, "8fcb5e374d631b107e1d961b8c4cd0a186aa2a4ff3e279923f4c426128de7113"),
    "maps": (1476754427, "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e"),
    "monet2photo": (305231073, "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04"),
    "summer2winter_yosemite": (132640856, "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9"),
    "ukiyoe2photo": (292946532, "02a2a2fb5ecf425ca1bf86aca7304377da64a2a1d3b86df54eb65e4068bf3b08"),
    "vangogh2photo": (306590349, "362c3473e70be0944bda08d49d660eafdc2854df55d697835b8186d1d79caaff"),
}
COMPLETE_MARKER = ".gan_course-complete"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _read_image_folder(folder: Path, size: int | None, limit: int | None) -> torch.Tensor:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    if limit is not None:
        files = files[:limit]
    arrays, sizes = [], set()
    for f in files:
        with Image.open(f) as im:
            im = im.convert("RGB")
            sizes.add(im.size)
            if size is not None:
                im = im.resize((size, size), Image.BICUBIC)
            arrays.append(np.asarray(im, dtype=np.uint8))
    if size is None and len(sizes) > 1:
        raise ValueError(f"{folder} holds images of different sizes {sorted(sizes)[:4]}...; "
                         "pass size=... to resize them all")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def load_image_folders(root, split: str = "train", size: int | None = 128, limit: int | None = None):
    """Unpaired photo domains in CycleGAN's layout: ``root/trainA``, ``root/trainB``
    (``testA``, ``testB``). Returns (A, B) as float tensors (N, 3, size, size) in [-1, 1].
    """
    _check_count(limit, "limit")
    _check_count(size, "size")
    root = Path(root)
    folders = [root / f"{split}A", root / f"{split}B"]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        found = sorted(p.name for p in root.iterdir()) if root.is_dir() else "nothing (no such folder)"
        raise FileNotFoundError(f"unpaired data needs both {split}A/ and {split}B/ under {root}; missing "
                                f"{', '.join(missing)}; found: {found}")
    return tuple(_read_image_folder(f, size, limit) for f in folders)


def _download_verified(url: str, dest: Path, sha256: str) -> Path:
    """``url`` into a temporary file in ``dest`` whose SHA-256 is ``sha256``, else an error."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest, suffix=".zip.part")
    try:
        with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(url, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != sha256:
            raise DataIntegrityError(f"{url}: SHA-256 of the download is {digest.hexdigest()}, expected {sha256}; "
                                     "nothing was extracted")
    except BaseException:
        os.remove(tmp)
        raise
    return Path(tmp)


def download_cyclegan_dataset(name: str = "horse2zebra", root=None, url: str | None = None,
                              sha256: str | None = None) -> Path:
    """Download, verify and extract one of the CycleGAN data sets (a zip with trainA/trainB/testA/testB).

    Returns ``root/name`` (default root: the cache). The archive's SHA-256 must equal the
    pinned digest (:data:`CYCLEGAN_SHA256`; for another archive pass ``sha256=``). It is
    extracted into a temporary folder beside the target, every member checked (zip CRC-32,
    no path outside the folder), a completion marker written, and only then renamed to
    ``root/name``: after an interrupted or failed call nothing is left under that name and
    the next call starts again. A folder without the marker is never returned as complete.
    """
    import zipfile

    if standin_requested():
        return standin_cyclegan(name)
    root = Path(root) if root is not None else cache_dir() / "cyclegan"
    target = root / name
    if (target / COMPLETE_MARKER).is_file():
        return target
    if target.exists():
        raise DataIntegrityError(
            f"{target} exists but was not completed by download_cyclegan_dataset (no {COMPLETE_MARKER} file): it "
            "may be a partial extraction. Delete it and call again; or, if you extracted it yourself, read it "
            f"with load_image_folders({str(target)!r}).")
    if sha256 is None:
        if name not in CYCLEGAN_SHA256:
            raise ValueError(f"no pinned SHA-256 for the archive {name!r}; pinned: {', '.join(CYCLEGAN_SHA256)}."
                             + _suggest(name, CYCLEGAN_SHA256) + " For another archive pass sha256='<its digest>'.")
        sha256 = CYCLEGAN_SHA256[name][1]
    root.mkdir(parents=True, exist_ok=True)
    urls = [url] if url else [m + f"{name}.zip" for m in CYCLEGAN_MIRRORS]
    errors, archive_path = [], None
    for candidate in urls:
        try:
            archive_path = _download_verified(candidate, root, sha256)
            break
        except (OSError, ValueError) as exc:
            errors.append(f"{candidate}: {exc}")
    if archive_path is None:
        raise OSError(f"could not download the {name} archive; tried:\n  " + "\n  ".join(errors))
    work = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.", suffix=".partial"))
    try:
        if not zipfile.is_zipfile(archive_path):
            raise DataIntegrityError(f"{urls[0] if url else name}: the download is not a zip archive")
        with zipfile.ZipFile(archive_path) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise DataIntegrityError(f"refusing to extract unsafe path {member!r}")
            try:
                archive.extractall(work)            # reads every member: a bad CRC-32 raises here
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise DataIntegrityError(f"the {name} archive is corrupt ({exc}); nothing was kept") from None
        extracted = work / name
        missing = [side for side in ("trainA", "trainB") if not (extracted / side).is_dir()]
        if missing:
            raise DataIntegrityError(f"the {name} archive does not contain {name}/{' or '.join(missing)}")
        (extracted / COMPLETE_MARKER).write_text(f"sha256 {sha256}\n")
        os.replace(extracted, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        archive_path.unlink(missing_ok=True)
    return target


CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
CELEBA_SPLITS = {"train": "0", "valid": "1", "test": "2"}


def celeba_run_missing(root, *, download: bool = False) -> list[str]:
    """What a CelebA StarGAN run (Chapter 9) still needs, as a list of reasons; empty when ready.

    The run needs the ``gpu`` profile, a CUDA GPU and CelebA in torchvision's layout under
    ``root`` (``root/celeba/list_attr_celeba.txt``; with ``download=True`` the files may be
    fetched instead). A dry run (``$GAN_COURSE_MAX_STEPS`` set, as ``make gpu-dry`` does)
    needs no GPU: its few steps fit on a CPU.
    """
    from .runtime import profile, step_cap

    have_data = (Path(root).expanduser() / "celeba" / "list_attr_celeba.txt").exists() or download
    gpu_ok = torch.cuda.is_available() or step_cap() is not None
    needs = (("the gpu profile", profile() == "gpu"), ("a CUDA GPU", gpu_ok),
             (f"CelebA under {Path(root).expanduser()}", have_data))
    return [why for why, ok in needs if not ok]


def load_celeba(root, attributes=CELEBA_ATTRIBUTES, split: str = "train", size: int = 64,
                limit: int | None = None, download: bool = False):
    """CelebA aligned faces with binary attributes, from torchvision's folder layout:
    ``root/celeba/img_align_celeba/*.jpg``, ``list_attr_celeba.txt`` and
    ``list_eval_partition.txt``. Returns (images (N, 3, size, size) in [-1, 1], attributes
    (N, len(attributes)) in {0, 1}). With ``download=True`` missing files are fetched through
    ``torchvision.datasets.CelebA`` (Google Drive; often rate-limited).
    """
    from PIL import Image

    if split not in CELEBA_SPLITS:
        raise ValueError(f"unknown CelebA split {split!r}; accepted: {', '.join(map(repr, CELEBA_SPLITS))}."
                         + _suggest(split, CELEBA_SPLITS))
    _check_count(limit, "limit")
    _check_count(size, "size")
    base = Path(root) / "celeba"
    attr_file, part_file = base / "list_attr_celeba.txt", base / "list_eval_partition.txt"
    if download and not attr_file.exists():
        import torchvision

        torchvision.datasets.CelebA(str(root), split="all", download=True)
    for f in (attr_file, part_file, base / "img_align_celeba"):
        if not f.exists():
            raise FileNotFoundError(f"CelebA file missing: {f}. Download it with download=True, or place "
                                    "torchvision's CelebA files under ROOT/celeba/")
    lines = attr_file.read_text().splitlines()
    names = lines[1].split()
    unknown = [a for a in attributes if a not in names]
    if unknown:
        raise ValueError(f"unknown CelebA attributes {unknown}; available: {', '.join(names)}")
    cols = [names.index(a) for a in attributes]
    split_code = CELEBA_SPLITS[split]
    keep = {ln.split()[0] for ln in part_file.read_text().splitlines() if ln.split()[1:] == [split_code]}
    images, attrs = [], []
    for line in lines[2:]:
        parts = line.split()
        if parts[0] not in keep:
            continue
        with Image.open(base / "img_align_celeba" / parts[0]) as im:
            w, h = im.size
            side = min(w, h)
            im = im.convert("RGB").crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
            images.append(np.asarray(im.resize((size, size), Image.BICUBIC), dtype=np.uint8))
        attrs.append([int(parts[1 + c]) > 0 for c in cols])
        if limit is not None and len(images) >= limit:
            break
    if not images:
        raise ValueError(f"{part_file} lists no image of the {split!r} split (code {split_code}) that "
                         f"{attr_file} describes")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x, torch.tensor(attrs, dtype=torch.float32)


# ---------------------------------------------------------------------------------------
# Stand-in data for dry runs of the gpu profile (make gpu-dry): GAN_COURSE_STANDIN=1
# ---------------------------------------------------------------------------------------

STANDIN_ENV = "GAN_COURSE_STANDIN"


def standin_requested() -> bool:
    """True when ``GAN_COURSE_STANDIN=1``: the data sets that cannot be downloaded here
    (the CycleGAN archives, CelebA) are replaced by small generated folders with the same
    layout, announced in the output. Set by ``make gpu-dry``; never set it for real runs."""
    return os.environ.get(STANDIN_ENV, "") == "1"


def _standin_images(folder: Path, n: int, seed: int, side: int = 64, suffix: str = ".png") -> list[str]:
    """``n`` smooth random colour images (blurred noise), so that resizing and training see
    image-like statistics rather than white noise."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 8, 8, generator=g)
    images = F.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)
    names = []
    for i, image in enumerate(images):
        name = f"standin_{i:04d}{suffix}"
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(folder / name)
        names.append(name)
    return names


def _announce(what: str, where: Path) -> None:
    print(f"STAND-IN DATA ({STANDIN_ENV}=1): {what} replaced by generated images with the same layout in "
          f"{where}; the results of this run say nothing about the real data.", flush=True)


def standin_cyclegan(name: str = "horse2zebra", n: int = 16) -> Path:
    """A generated stand-in of a CycleGAN data set: ``trainA``, ``trainB``, ``testA``,
    ``testB`` with ``n`` images each, in a separate stand-in folder of the cache (never where
    the real data would go)."""
    target = cache_dir() / "standin" / "cyclegan" / name
    if not (target / COMPLETE_MARKER).is_file():
        for i, side in enumerate(("trainA", "trainB", "testA", "testB")):
            _standin_images(target / side, n, seed=100 + i)
        (target / COMPLETE_MARKER).write_text("stand-in\n")
    _announce(f"the {name} archive", target)
    return target


def standin_celeba(n: int = 48, attributes=CELEBA_ATTRIBUTES) -> Path:
    """A generated stand-in of CelebA in torchvision's layout (``celeba/img_align_celeba``,
    ``list_attr_celeba.txt``, ``list_eval_partition.txt``): ``n`` images of 178 x 218
    pixels, attributes drawn at random, a third of them in each split. Returns the root to
    pass to :func:`load_celeba`."""
    root = cache_dir() / "standin" / "celeba-root"
    base = root / "celeba"
    if not (base / COMPLETE_MARKER).is_file():
        from PIL import Image

        folder = base / "img_align_celeba"
        folder.mkdir(parents=True, exist_ok=True)
        g = torch.Generator().manual_seed(7)
        names = []
        for i, image in enumerate(F.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=(218, 178),
                                                mode="bilinear", align_corners=False)):
            name = f"{i + 1:06d}.jpg"
            Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / name)
            names.append(name)
        all_attributes = list(dict.fromkeys([*attributes, "Smiling"]))
        signs = torch.randint(2, (n, len(all_attributes)), generator=g) * 2 - 1
        rows = [f"{name} " + " ".join(f"{int(v):2d}" for v in row) for name, row in zip(names, signs)]
        (base / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(all_attributes) + "\n" + "\n".join(rows) + "\n")
        (base / "list_eval_partition.txt").write_text("".join(f"{name} {i % 3}\n" for i, name in enumerate(names)))
        (base / COMPLETE_MARKER).write_text("stand-in\n")
    _announce("CelebA", root)
    return root


def celeba_root(root) -> Path:
    """The CelebA root a chapter should read: ``root`` itself, or under
    ``GAN_COURSE_STANDIN=1`` (a dry run) the generated stand-in when ``root`` has no CelebA."""
    root = Path(root)
    if standin_requested() and not (root / "celeba" / "list_attr_celeba.txt").exists():
        return standin_celeba()
    return root
