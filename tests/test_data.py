import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import data

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def write_idx(folder: Path, split: str, n: int, seed: int = 0, compress: bool = True, corrupt: bool = False):
    """Write a tiny but well-formed IDX pair (images 28x28, labels) like the real files."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    img_stem, lab_stem = data.IDX_FILES[split]
    img_bytes = struct.pack(">HBBIII", 0, 8, 3, n, 28, 28) + images.tobytes()
    lab_bytes = struct.pack(">HBBI", 0, 8, 1, n) + labels.tobytes()
    if corrupt:
        img_bytes = img_bytes[:-10]
    for stem, payload in ((img_stem, img_bytes), (lab_stem, lab_bytes)):
        if compress:
            with gzip.open(folder / f"{stem}.gz", "wb") as fh:
                fh.write(payload)
        else:
            (folder / stem).write_bytes(payload)
    return images, labels


@pytest.fixture
def no_debian(clean_env):
    clean_env.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": [], "mnist": []})
    return clean_env


def test_ring_and_grid_protocol_defaults():
    ring, grid = gc.ring_of_gaussians(), gc.grid_of_gaussians()
    assert ring.n_modes == 8 and ring.std == 0.01
    assert torch.allclose(ring.means.norm(dim=1), torch.ones(8))
    assert grid.n_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    x = grid.sample(5000, rng=torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, grid.means).min(dim=1)     # std 0.05, spacing 2: the nearest mean is the own one
    assert nearest.values.mean().item() == pytest.approx(0.05 * np.sqrt(np.pi / 2), rel=0.05)  # Rayleigh mean
    assert torch.bincount(nearest.indices, minlength=25).min() > 150       # every mode, 200 expected each
    assert ring.sample(10).shape == (10, 2)


def test_digits_scaled_and_split():
    train, test = gc.load_images("digits"), gc.load_images("digits", "test")
    assert train.images.shape == (1500, 1, 8, 8) and len(test) == 297
    assert train.images.min() == -1 and train.images.max() == 1
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) == set(range(10))
    assert gc.load_images("digits", size=32).images.shape[-1] == 32


@pytest.mark.skipif(not DEBIAN.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package(clean_env):
    d = gc.load_images("fashion-mnist", "test")
    assert d.images.shape == (10000, 1, 28, 28) and d.images.dtype == torch.float32
    assert d.images.min() == -1 and d.images.max() == 1
    assert d.source.startswith("Debian package")
    assert d.classes[9] == "Ankle boot" and torch.bincount(d.labels).tolist() == [1000] * 10
    assert gc.load_images("fashion-mnist", "test", limit=16, size=32).images.shape == (16, 1, 32, 32)


def pin(monkeypatch, name, folder, split):
    """Pin the digests of the synthetic files in ``folder`` as if they were the official ones."""
    pins = {k: dict(v) for k, v in data.IDX_SHA256.items()}
    for stem in data.IDX_FILES[split]:
        pins[name][stem] = hashlib.sha256(data._read_idx_bytes(folder / f"{stem}.gz")).hexdigest()
    monkeypatch.setattr(data, "IDX_SHA256", pins)


def test_named_place_first_then_env_then_cache(no_debian, tmp_path):
    root, env, cache = tmp_path / "root", tmp_path / "env", tmp_path / "cache" / "gan_course" / "mnist"
    imgs_root, _ = write_idx(root, "test", 5, seed=1)
    write_idx(env / "mnist", "test", 6, seed=2, compress=False)
    write_idx(cache, "test", 7, seed=3)
    no_debian.setenv("GAN_COURSE_DATA", str(env))
    d = gc.load_images("mnist", "test", root=root, download=False, verify=False)
    assert len(d) == 5 and d.source.startswith("root argument")
    expected = torch.from_numpy(imgs_root.astype(np.float32)) / 127.5 - 1
    assert torch.allclose(d.images[:, 0], expected)
    assert len(gc.load_images("mnist", "test", download=False, verify=False)) == 6  # env beats cache
    no_debian.delenv("GAN_COURSE_DATA")
    assert len(gc.load_images("mnist", "test", download=False, verify=False)) == 7  # the cache last


def test_torchvision_layout_is_found(no_debian, tmp_path):
    write_idx(tmp_path / "FashionMNIST" / "raw", "train", 4)
    assert len(gc.load_images("fashion-mnist", root=tmp_path, download=False, verify=False)) == 4


def test_download_path_with_local_mirror(no_debian, tmp_path):
    mirror = tmp_path / "mirror"
    images, labels = write_idx(mirror, "test", data.SPLIT_SIZES["test"], seed=4)
    pin(no_debian, "mnist", mirror, "test")
    bad_mirror = tmp_path / "missing"
    d = gc.load_images("mnist", "test", mirrors=[bad_mirror.as_uri(), mirror.as_uri()])
    assert d.source.startswith("downloaded") and len(d) == 10000
    assert torch.equal(d.labels, torch.from_numpy(labels.astype(np.int64)))
    cached = data.cache_dir() / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    # second load comes from the cache (verified again), no download
    assert gc.load_images("mnist", "test", mirrors=[]).source.startswith("cache")


def test_download_rejects_truncated_file_and_leaves_nothing(no_debian, tmp_path):
    mirror = tmp_path / "mirror"
    write_idx(mirror, "test", 100, corrupt=True)
    with pytest.raises(data.DataNotFoundError) as err:
        gc.load_images("mnist", "test", mirrors=[mirror.as_uri()])
    assert "Download into the cache failed" in str(err.value) and "truncated" in str(err.value)
    assert list((data.cache_dir() / "mnist").glob("*")) == []


def test_missing_data_offline_error_names_everything(no_debian, tmp_path):
    no_debian.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": [tmp_path / "nodebian"], "mnist": []})
    with pytest.raises(data.DataNotFoundError) as err:
        gc.load_images("fashion-mnist", mirrors=[(tmp_path / "offline").as_uri()])
    msg = str(err.value)
    for needle in ("Debian package", str(tmp_path / "nodebian"), "cache", str(tmp_path / "offline"),
                   "apt-get install dataset-fashion-mnist", "GAN_COURSE_DATA", "No other data set"):
        assert needle in msg, needle
    with pytest.raises(data.DataNotFoundError, match="download=False"):
        gc.load_images("mnist", download=False)


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match=r"unknown data set 'fashon-mnist'.*fashion-mnist, mnist, digits.*Did you mean"):
        gc.load_images("fashon-mnist")
    with pytest.raises(ValueError, match="unknown split"):
        gc.load_images("digits", "validation")


def test_read_idx_rejects_non_idx(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"hello world")
    with pytest.raises(ValueError, match=f"{p}.*not an IDX"):
        data.read_idx(p)


def test_resize_pads_28_to_32_with_background():
    x = torch.zeros(2, 1, 28, 28)
    y = data.resize_images(x, 32)
    assert y.shape == (2, 1, 32, 32) and y[0, 0, 0, 0] == -1 and y[0, 0, 2, 2] == 0
    assert data.resize_images(x, 64).shape == (2, 1, 64, 64)
    with pytest.raises(ValueError):
        data.resize_images(torch.zeros(28, 28), 32)
