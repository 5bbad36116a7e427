"""Data: toy 2-D Gaussian mixtures and real image data sets as tensors in [-1, 1].

Image data sets (``fashion-mnist``, ``mnist``, ``digits``) are found in this order:

1. an explicit ``root`` argument;
2. the folder named by ``$GAN_COURSE_DATA``;
3. for Fashion-MNIST, Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``; ``apt-get install dataset-fashion-mnist``);
4. the user's cache (``$XDG_CACHE_HOME/gan_course`` or ``~/.cache/gan_course``), where a
   download from the official mirrors is stored.

``digits`` is scikit-learn's bundled 8x8 digits and needs no file at all. Nothing is ever
replaced silently by another data set: when the files are missing and cannot be
downloaded, the error names every place searched and how to obtain the files.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
import tempfile
import urllib.request
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

# Official mirrors (the same as torchvision's). Tests replace them with local file:// URLs.
MIRRORS = {
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
}
DEBIAN_DIRS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")], "mnist": []}
TORCHVISION_NAMES = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}
DATASETS = ("fashion-mnist", "mnist", "digits")


class DataNotFoundError(FileNotFoundError):
    """The image files were found nowhere and could not be downloaded."""


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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) of unsigned bytes into a NumPy array."""
    path = Path(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4:
        raise ValueError(f"{path} is too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {body.size} bytes (truncated download?)")
    return body.reshape(dims).copy()  # writable, independent of the file buffer


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _candidate_folders(base: Path, name: str) -> list[Path]:
    """A root may hold the files directly, in ``<name>/``, or in torchvision's ``<Name>/raw/``."""
    return [base, base / name, base / TORCHVISION_NAMES[name] / "raw"]


def _search_places(name: str, root) -> list[tuple[str, Path]]:
    places: list[tuple[str, Path]] = []
    if root is not None:
        places += [("root argument", p) for p in _candidate_folders(Path(root), name)]
    env = os.environ.get("GAN_COURSE_DATA")
    if env:
        places += [("$GAN_COURSE_DATA", p) for p in _candidate_folders(Path(env), name)]
    places += [("Debian package", p) for p in DEBIAN_DIRS[name]]
    places += [("cache", cache_dir() / name)]
    return places


def _complete(folder: Path, split: str) -> tuple[Path, Path] | None:
    img, lab = (_find_idx(folder, stem) for stem in IDX_FILES[split])
    return (img, lab) if img and lab else None


def download_idx(name: str, split: str, dest: Path | None = None, mirrors=None) -> tuple[Path, Path]:
    """Download the two IDX files of ``split`` into ``dest`` (default: the cache), atomically.

    Each file is written to a temporary name, checked to be a well-formed IDX file of the
    expected length, then renamed into place. Raises ``OSError`` when every mirror fails.
    """
    dest = Path(dest) if dest is not None else cache_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    mirrors = list(mirrors if mirrors is not None else MIRRORS[name])
    out = []
    for stem in IDX_FILES[split]:
        target = dest / f"{stem}.gz"
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{stem}.gz"
            fd, tmp = tempfile.mkstemp(dir=dest, suffix=".part")
            os.close(fd)
            try:
                with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as fh:
                    shutil.copyfileobj(response, fh)
                arr = read_idx(tmp)
                if arr.shape[0] != SPLIT_SIZES[split]:
                    raise ValueError(f"expected {SPLIT_SIZES[split]} records, found {arr.shape[0]}")
                os.replace(tmp, target)
                break
            except (OSError, ValueError, EOFError) as exc:
                errors.append(f"{url}: {exc}")
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        else:
            raise OSError("could not download " + f"{stem}.gz" + "; tried:\n  " + "\n  ".join(errors))
        out.append(target)
    return out[0], out[1]


def _not_found(name: str, split: str, places, download_error: str | None) -> DataNotFoundError:
    lines = [f"{name} ({split} split) was not found. Places searched, in order:"]
    lines += [f"  - {label}: {path}" for label, path in places]
    if download_error:
        lines.append(f"Download into the cache failed: {download_error}")
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


def _load_idx_dataset(name: str, split: str, root, download: bool, mirrors=None):
    places = _search_places(name, root)
    for label, folder in places:
        found = _complete(folder, split)
        if found:
            return read_idx(found[0]), read_idx(found[1]), f"{label}: {folder}"
    error = None
    if download:
        try:
            img, lab = download_idx(name, split, mirrors=mirrors)
            return read_idx(img), read_idx(lab), f"downloaded: {img.parent}"
        except OSError as exc:
            error = str(exc).splitlines()[0] + " (offline?)"
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
                limit: int | None = None, size: int | None = None, mirrors=None) -> ImageData:
    """Load an image data set as tensors scaled to [-1, 1].

    ``name``: ``fashion-mnist`` (default), ``mnist`` or ``digits``; ``split``: ``train`` or
    ``test``; ``limit``: keep the first ``limit`` images; ``size``: output side length (28x28
    images are padded with background to 32, other sizes are resized bilinearly).
    Returns :class:`ImageData` with images (N, 1, H, W) and labels (N,).
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; accepted: {', '.join(DATASETS)}." + _suggest(key, DATASETS))
    if split not in IDX_FILES:
        raise ValueError(f"unknown split {split!r}; accepted: 'train', 'test'.")
    if key == "digits":
        arr, labels, source = _load_digits(split)
        classes = DIGIT_CLASSES
    else:
        arr, labels, source = _load_idx_dataset(key, split, root, download, mirrors)
        classes = FASHION_CLASSES if key == "fashion-mnist" else DIGIT_CLASSES
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
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

CYCLEGAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
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
    root = Path(root)
    folders = [root / f"{split}A", root / f"{split}B"]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        found = sorted(p.name for p in root.iterdir()) if root.is_dir() else "nothing (no such folder)"
        raise FileNotFoundError(f"unpaired data needs both {split}A/ and {split}B/ under {root}; missing "
                                f"{', '.join(missing)}; found: {found}")
    return tuple(_read_image_folder(f, size, limit) for f in folders)


def download_cyclegan_dataset(name: str = "horse2zebra", root=None, url: str | None = None) -> Path:
    """Download and extract one of the CycleGAN data sets (a zip with trainA/trainB/testA/testB).

    Returns the extracted folder; does nothing when it is already there. The archive is
    downloaded to a temporary name and extracted only if it is a valid zip file.
    """
    import zipfile

    root = Path(root) if root is not None else cache_dir() / "cyclegan"
    target = root / name
    if (target / "trainA").is_dir() and (target / "trainB").is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    url = url or CYCLEGAN_URL.format(name=name)
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".zip.part")
    os.close(fd)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as fh:
            shutil.copyfileobj(response, fh)
        if not zipfile.is_zipfile(tmp):
            raise ValueError(f"{url} did not return a zip archive")
        with zipfile.ZipFile(tmp) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"refusing to extract unsafe path {member!r}")
            archive.extractall(root)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if not (target / "trainA").is_dir():
        raise FileNotFoundError(f"the archive from {url} did not contain {name}/trainA")
    return target


CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def load_celeba(root, attributes=CELEBA_ATTRIBUTES, split: str = "train", size: int = 64,
                limit: int | None = None, download: bool = False):
    """CelebA aligned faces with binary attributes, from torchvision's folder layout:
    ``root/celeba/img_align_celeba/*.jpg``, ``list_attr_celeba.txt`` and
    ``list_eval_partition.txt``. Returns (images (N, 3, size, size) in [-1, 1], attributes
    (N, len(attributes)) in {0, 1}). With ``download=True`` missing files are fetched through
    ``torchvision.datasets.CelebA`` (Google Drive; often rate-limited).
    """
    from PIL import Image

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
    split_code = {"train": "0", "valid": "1", "test": "2"}[split]
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
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x, torch.tensor(attrs, dtype=torch.float32)
