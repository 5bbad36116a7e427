"""Data safety (issue 15, items 1-3 and the data parts of 7): verified downloads, atomic
archive extraction, named places used or refused, image/label cross-checks, clear errors.

Every test here failed on the code before the fix; the comment above each says how.
"""

import gzip
import hashlib
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan_course as gc
from gan_course import data

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(not DEBIAN.exists(), reason="Debian's dataset-fashion-mnist is not installed")


def write_idx(folder: Path, split: str, n_images: int, n_labels: int | None = None, seed: int = 0,
              max_label: int = 9):
    """A small well-formed gzipped IDX pair; ``n_labels`` may differ from ``n_images``."""
    rng = np.random.default_rng(seed)
    n_labels = n_images if n_labels is None else n_labels
    images = rng.integers(0, 256, size=(n_images, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, max_label + 1, size=n_labels, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    img_stem, lab_stem = data.IDX_FILES[split]
    with gzip.open(folder / f"{img_stem}.gz", "wb") as fh:
        fh.write(struct.pack(">HBBIII", 0, 8, 3, n_images, 28, 28) + images.tobytes())
    with gzip.open(folder / f"{lab_stem}.gz", "wb") as fh:
        fh.write(struct.pack(">HBBI", 0, 8, 1, n_labels) + labels.tobytes())
    return images, labels


@pytest.fixture
def env(clean_env):
    clean_env.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": [], "mnist": []})
    return clean_env


def pin(monkeypatch, name, folder, split):
    pins = {k: dict(v) for k, v in data.IDX_SHA256.items()}
    for stem in data.IDX_FILES[split]:
        with gzip.open(folder / f"{stem}.gz", "rb") as fh:
            pins[name][stem] = hashlib.sha256(fh.read()).hexdigest()
    monkeypatch.setattr(data, "IDX_SHA256", pins)


def content_sha256(path: Path) -> str:
    with gzip.open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# --- item 2: every download is checked against a pinned SHA-256 -------------------------

@needs_debian
def test_pinned_fashion_digests_are_those_of_the_debian_files():
    # before: no pins at all (AttributeError)
    for stem, digest in data.IDX_SHA256["fashion-mnist"].items():
        assert content_sha256(DEBIAN / f"{stem}.gz") == digest, stem
    assert set(data.IDX_SHA256["mnist"]) == {s for pair in data.IDX_FILES.values() for s in pair}
    assert all(len(d) == 64 and int(d, 16) >= 0 for pins in data.IDX_SHA256.values() for d in pins.values())


def test_mirrors_prefer_https():
    for name, mirrors in data.MIRRORS.items():
        assert mirrors[0].startswith("https://"), name
    assert all(m.startswith("https://") for m in data.CYCLEGAN_MIRRORS)


@needs_debian
def test_mirror_serving_another_data_set_is_refused_and_nothing_is_cached(env):
    # before: Fashion-MNIST was accepted as "mnist", cached, and later loaded from the cache as mnist
    with pytest.raises(data.DataNotFoundError) as err:
        gc.load_images("mnist", "test", mirrors=[DEBIAN.as_uri()])
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in msg
    assert data.IDX_SHA256["mnist"]["t10k-images-idx3-ubyte"] in msg                     # expected
    assert data.IDX_SHA256["fashion-mnist"]["t10k-images-idx3-ubyte"] in msg             # found
    assert not any((data.cache_dir() / "mnist").glob("*"))


@needs_debian
def test_wrong_files_in_the_cache_are_refused_on_load(env):
    # before: a cache filled by an unchecked download was trusted for good
    cache = data.cache_dir() / "mnist"
    cache.mkdir(parents=True)
    for stem in data.IDX_FILES["test"]:
        shutil.copy(DEBIAN / f"{stem}.gz", cache / f"{stem}.gz")
    with pytest.raises(data.DataIntegrityError, match=r"not the official mnist file.*delete it"):
        gc.load_images("mnist", "test", download=False)


def test_a_mirror_with_wrong_data_is_skipped_for_a_good_one(env, tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    _, labels = write_idx(good, "test", data.SPLIT_SIZES["test"], seed=1)
    write_idx(bad, "test", data.SPLIT_SIZES["test"], seed=2)
    pin(env, "mnist", good, "test")
    d = gc.load_images("mnist", "test", mirrors=[bad.as_uri(), good.as_uri()])
    assert torch.equal(d.labels, torch.from_numpy(labels.astype(np.int64)))


def test_download_failure_keeps_every_reason(env, tmp_path):
    # before: only the first line survived ("could not download ...; tried:") and the reasons were lost
    first, second = tmp_path / "nowhere1", tmp_path / "nowhere2"
    with pytest.raises(data.DataNotFoundError) as err:
        gc.load_images("mnist", "test", mirrors=[first.as_uri(), second.as_uri()])
    msg = str(err.value)
    assert first.as_uri() in msg and second.as_uri() in msg and "No such file" in msg


def test_a_download_missing_its_label_file_leaves_nothing(env, tmp_path):
    mirror = tmp_path / "mirror"
    write_idx(mirror, "test", data.SPLIT_SIZES["test"])
    pin(env, "mnist", mirror, "test")
    (mirror / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        gc.load_images("mnist", "test", mirrors=[mirror.as_uri()])
    assert not any((data.cache_dir() / "mnist").glob("*"))


# --- item 3: a named place is used or refused; image and label files are cross-checked ----

def _valid_cache(env, tmp_path):
    mirror = tmp_path / "mirror"
    write_idx(mirror, "test", data.SPLIT_SIZES["test"])
    pin(env, "mnist", mirror, "test")
    assert gc.load_images("mnist", "test", mirrors=[mirror.as_uri()]).source.startswith("downloaded")


def test_an_empty_root_is_an_error_not_a_fallback(env, tmp_path):
    # before: root=<empty folder> silently loaded the cached copy
    _valid_cache(env, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataNotFoundError) as err:
        gc.load_images("mnist", "test", root=empty)
    msg = str(err.value)
    assert "place you named" in msg and str(empty) in msg and "t10k-images-idx3-ubyte" in msg
    assert "drop root=" in msg


def test_a_wrong_gan_course_data_is_an_error_not_a_fallback(env, tmp_path):
    # before: GAN_COURSE_DATA=/nonexistent silently loaded the cached copy
    _valid_cache(env, tmp_path)
    env.setenv("GAN_COURSE_DATA", str(tmp_path / "nonexistent"))
    with pytest.raises(data.DataNotFoundError, match=r"(?s)GAN_COURSE_DATA.*does not exist"):
        gc.load_images("mnist", "test")


def test_a_root_with_half_a_pair_names_the_missing_file(env, tmp_path):
    write_idx(tmp_path / "root", "test", 5)
    (tmp_path / "root" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataNotFoundError, match=r"missing t10k-labels-idx1-ubyte\(\.gz\)"):
        gc.load_images("mnist", "test", root=tmp_path / "root", verify=False)


def test_image_and_label_counts_must_match(env, tmp_path):
    # before: 5 images with 6 labels loaded and failed later inside the DataLoader
    write_idx(tmp_path, "test", 5, n_labels=6)
    with pytest.raises(data.DataIntegrityError, match=r"5 images but .* 6 labels"):
        gc.load_images("mnist", "test", root=tmp_path, verify=False)


def test_labels_must_be_in_range(env, tmp_path):
    # before: label 12 was accepted for a 10-class data set
    write_idx(tmp_path, "test", 50, max_label=12, seed=3)
    with pytest.raises(data.DataIntegrityError, match=r"outside 0\.\.9"):
        gc.load_images("mnist", "test", root=tmp_path, verify=False)


def test_own_files_in_a_root_need_verify_false(env, tmp_path):
    write_idx(tmp_path, "test", 5)
    with pytest.raises(data.DataIntegrityError, match="verify=False"):
        gc.load_images("mnist", "test", root=tmp_path)
    assert len(gc.load_images("mnist", "test", root=tmp_path, verify=False)) == 5


# --- item 7 (data): truncated .gz, limits, CelebA split -------------------------------

def test_truncated_gzip_names_the_file(env, tmp_path):
    # before: a bare EOFError with no path
    write_idx(tmp_path, "test", 50)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(data.DataIntegrityError, match=rf"{path}.*truncated or corrupt gzip"):
        data.read_idx(path)
    with pytest.raises(data.DataIntegrityError, match="truncated or corrupt gzip"):
        gc.load_images("mnist", "test", root=tmp_path, verify=False)


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_bad_limits_are_refused_everywhere(tmp_path, limit):
    # before: unpaired_domains(limit=0) gave empty domains, limit=-3 dropped images silently,
    # load_celeba(limit=0) returned one image, load_image_folders(limit=0) failed inside NumPy
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        data.unpaired_domains("identity", "negative", "digits", limit=limit)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        gc.load_images("digits", limit=limit)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        data.load_image_folders(tmp_path, limit=limit)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        data.load_celeba(tmp_path, limit=limit)


def test_load_celeba_unknown_split_suggests_valid(tmp_path):
    # before: KeyError: 'val'
    with pytest.raises(ValueError, match=r"unknown CelebA split 'val'.*Did you mean 'valid'"):
        data.load_celeba(tmp_path, split="val")


# --- item 1: an archive is extracted completely or not at all ----------------------------

def _png(path: Path, colour=(10, 20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def _archive(tmp_path: Path, name: str, corrupt_last: bool = False) -> Path:
    src = tmp_path / "src"
    members = [f"{name}/{side}/{i}.png" for side in ("trainA", "trainB", "testA", "testB") for i in range(2)]
    for k, m in enumerate(members):
        _png(src / m, (k * 20, 0, 0))
    archive = tmp_path / f"{name}{'-bad' if corrupt_last else ''}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as z:
        for m in members:
            z.write(src / m, m)
    if corrupt_last:
        raw = bytearray(archive.read_bytes())
        with zipfile.ZipFile(archive) as z:
            info = z.getinfo(members[-1])
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        raw[start + info.compress_size // 2] ^= 0xFF                      # one flipped byte: bad CRC-32
        archive.write_bytes(bytes(raw))
    return archive


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failed_extraction_is_never_returned_later(tmp_path, monkeypatch):
    # before: the first call raised BadZipFile after extracting trainA/ and trainB/, and the
    # second call returned the half-extracted folder as if it were complete
    bad = _archive(tmp_path, "tiny", corrupt_last=True)
    monkeypatch.setattr(data, "CYCLEGAN_SHA256", {"tiny": (bad.stat().st_size, _sha(bad))}, raising=False)
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="corrupt"):
        data.download_cyclegan_dataset("tiny", root, url=bad.as_uri())
    assert not (root / "tiny").exists()
    assert sorted(p.name for p in root.iterdir()) == []                # no temporary files left
    with pytest.raises(OSError):                                       # retried, not returned
        data.download_cyclegan_dataset("tiny", root, url=(tmp_path / "missing.zip").as_uri())
    good = _archive(tmp_path, "tiny")
    monkeypatch.setattr(data, "CYCLEGAN_SHA256", {"tiny": (good.stat().st_size, _sha(good))})
    target = data.download_cyclegan_dataset("tiny", root, url=good.as_uri())
    a, b = data.load_image_folders(target, "test", size=None)
    assert a.shape == (2, 3, 8, 8) and b.shape == (2, 3, 8, 8)
    assert data.download_cyclegan_dataset("tiny", root, url="file:///nonexistent") == target


def test_archive_digest_mismatch_names_both_digests(tmp_path):
    good = _archive(tmp_path, "tiny")
    wrong = "0" * 64
    with pytest.raises(OSError) as err:
        data.download_cyclegan_dataset("tiny", tmp_path / "root", url=good.as_uri(), sha256=wrong)
    assert wrong in str(err.value) and _sha(good) in str(err.value)
    assert not (tmp_path / "root" / "tiny").exists()


def test_a_folder_without_the_completion_marker_is_refused(tmp_path):
    for side in ("trainA", "trainB"):
        _png(tmp_path / "root" / "horse2zebra" / side / "0.png")
    with pytest.raises(ValueError, match="partial extraction"):
        data.download_cyclegan_dataset("horse2zebra", tmp_path / "root", url="file:///nonexistent")


def test_unknown_archive_needs_a_digest(tmp_path):
    with pytest.raises(ValueError, match=r"no pinned SHA-256.*horse2zebra.*sha256="):
        data.download_cyclegan_dataset("hors2zebra", tmp_path, url="file:///nonexistent")
