"""Metrics of sample quality, each following a stated protocol.

Mode coverage on the 2-D mixtures follows the protocol of the mode-collapse literature
(Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN): draw 2,500 samples; a sample is
*high quality* when it lies within three standard deviations of its nearest mode; a mode
is *covered* when at least one high-quality sample is nearest to it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .models.common import infer


@dataclass
class ModeCoverage:
    """Result of :func:`mode_coverage`."""

    modes: int            # covered modes
    n_modes: int          # modes of the mixture
    high_quality: float   # fraction of samples within n_std standard deviations of a mode
    reverse_kl: float     # KL(mode histogram of high-quality samples || uniform)
    counts: np.ndarray    # high-quality samples per mode

    def __str__(self) -> str:
        return (f"{self.modes}/{self.n_modes} modes, {100 * self.high_quality:.1f}% high quality, "
                f"reverse KL {self.reverse_kl:.3f}")


def mode_coverage(samples, mixture, n_std: float = 3.0) -> ModeCoverage:
    """Modes covered, fraction of high-quality samples and reverse KL to uniform.

    ``samples``: (N, 2) points (the protocol uses N = 2,500); ``mixture``: an object with
    ``means`` (K, 2) and ``std`` such as :func:`gan_course.data.grid_of_gaussians`.
    """
    x = samples.detach().float().cpu() if torch.is_tensor(samples) else torch.as_tensor(samples, dtype=torch.float32)
    means = mixture.means.float().cpu()
    if x.ndim != 2 or x.shape[1] != means.shape[1]:
        raise ValueError(f"samples must have shape (N, {means.shape[1]}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("samples is empty: mode coverage needs at least one sample")
    if not torch.isfinite(x).all():
        raise ValueError("samples contain NaN or inf")
    dist = torch.cdist(x, means)                  # (N, K)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= n_std * mixture.std
    counts = torch.bincount(nearest[good], minlength=means.shape[0]).numpy()
    covered = int((counts > 0).sum())
    total = counts.sum()
    if total == 0:
        rkl = math.inf
    else:
        p = counts / total
        nz = p > 0
        rkl = float(np.sum(p[nz] * np.log(p[nz] * len(p))))
    return ModeCoverage(covered, int(means.shape[0]), float(good.float().mean()), rkl, counts)


# ---------------------------------------------------------------------------------------
# Image metrics (Chapters 5-11): a reference classifier, Fréchet distance, neighbours
# ---------------------------------------------------------------------------------------


@dataclass
class Classifier:
    """A trained :class:`gan_course.models.SmallConvNet` with its provenance."""

    net: "torch.nn.Module"
    dataset: str
    test_accuracy: float
    path: str
    trained_now: bool

    def __str__(self) -> str:
        how = "trained now" if self.trained_now else f"loaded from {self.path}"
        return f"{self.dataset} classifier: test accuracy {100 * self.test_accuracy:.2f}% ({how})"

    def predict(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Predicted labels (N,) of images (N, C, 32, 32) in [-1, 1]."""
        return infer(self.net, images.float(), batch_size=batch_size).argmax(1)

    def features(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Penultimate-layer features (N, 128): the space of the Fréchet distance."""
        return infer(self.net.features, images.float(), batch_size=batch_size)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, n_classes: int, steps: int, seed: int = 0,
                     batch_size: int = 128, flip: bool = False) -> "torch.nn.Module":
    """Train a :class:`~gan_course.models.SmallConvNet` on (images (N, C, 32, 32), labels (N,)).

    Adam with a one-cycle learning-rate schedule; ``flip`` adds random horizontal flips.
    Returns the network in eval mode.
    """
    from .models.classifier import SmallConvNet

    gen = torch.Generator().manual_seed(seed)
    # initialisation and dropout draw from torch's global generator: seed it inside a fork so
    # that the caller's random state is the same after this call as before it
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallConvNet(channels=images.shape[1], n_classes=n_classes)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
        net.train()
        for _ in range(steps):
            idx = torch.randint(len(images), (batch_size,), generator=gen)
            x = images[idx]
            if flip:
                mirror = torch.rand(batch_size, generator=gen) < 0.5
                x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
            loss = torch.nn.functional.cross_entropy(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def accuracy(net: "torch.nn.Module", images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images whose predicted class (by ``net`` in eval mode) equals the label."""
    pred = infer(net, images.float(), batch_size=1000).argmax(1)
    return float((pred == labels).float().mean())


def _train_classifier(dataset: str, steps: int, seed: int):
    from .data import load_images

    train_set = load_images(dataset, "train", size=32)
    test_set = load_images(dataset, "test", size=32)
    # light augmentation: random horizontal flips for clothing; none for digits
    net = train_classifier(train_set.images, train_set.labels, len(train_set.classes), steps, seed,
                           flip=dataset == "fashion-mnist")
    return net, accuracy(net, test_set.images, test_set.labels)


def reference_classifier(dataset: str = "fashion-mnist", steps: int | None = None, seed: int = 0,
                         cache: str | None = None, verbose: bool = True) -> Classifier:
    """The reference classifier of ``dataset`` (32x32 images), trained once and cached.

    The weights are cached under the user's cache folder with a SHA-256 checksum and the
    test accuracy in a JSON file beside them; a missing or corrupt file (checksum mismatch,
    unreadable) is retrained, with a message. ``steps`` defaults to the profile's budget
    (smoke: a few steps, only to prove the code runs; cpu/gpu: about three epochs).
    """
    import json
    from pathlib import Path

    from . import checkpoint
    from .data import cache_dir
    from .models.classifier import SmallConvNet
    from .runtime import budget

    steps = steps if steps is not None else budget(smoke=30, cpu=1500, gpu=1500)
    folder = Path(cache) if cache is not None else cache_dir() / "classifiers"
    stem = folder / f"{dataset}-32px-{steps}steps-seed{seed}"
    weights, meta_path = stem.with_suffix(".pt"), stem.with_suffix(".json")
    if weights.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            state = checkpoint.load(weights, expected_sha256=meta["sha256"])
            with torch.random.fork_rng(devices=[]):      # construction draws initial weights
                net = SmallConvNet(channels=meta["channels"], n_classes=meta["n_classes"])
            net.load_state_dict(state)
            net.eval()
            result = Classifier(net, dataset, meta["test_accuracy"], str(weights), False)
            if verbose:
                print(result)
            return result
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            if verbose:
                print(f"cached classifier {weights} is unusable ({exc}); retraining")
    elif verbose:
        print(f"no cached {dataset} classifier for {steps} steps; training it (once)")
    net, acc = _train_classifier(dataset, steps, seed)
    digest = checkpoint.save(net.state_dict(), weights)
    meta_path.write_text(json.dumps({"sha256": digest, "test_accuracy": acc, "steps": steps, "seed": seed,
                                     "channels": net.channels, "n_classes": net.n_classes}))
    result = Classifier(net, dataset, acc, str(weights), True)
    if verbose:
        print(result)
    return result


class SampleSizeWarning(UserWarning):
    """A metric was computed from too few samples to mean much."""


def _feature_matrix(features, name: str) -> np.ndarray:
    if torch.is_tensor(features):
        features = features.detach().cpu()
    try:
        return np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric (N, d) array or tensor, got {type(features).__name__} "
                         f"({exc})") from None


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, d) and (M, d):

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

    with the trace of the matrix square root computed from the eigenvalues of the symmetric
    matrix S_a^(1/2) S_b S_a^(1/2), which has the same spectrum as S_a S_b.

    The estimate is biased upwards by sampling noise: for N samples on each side of unit
    Gaussian features in d dimensions the bias is close to d (d + 4) / (2N) (measured); for
    d = 128, two samples of the *same* distribution give about 66 at N = 129, 8.5 at
    N = 1,000 and 2.1 at N = 4,000. With N <= d on either side the covariance estimates are
    singular and a :class:`SampleSizeWarning` is issued; compare values only at equal N,
    against a floor computed at that N. Raises ``ValueError`` for NaN or infinite features.
    """
    a, b = _feature_matrix(features_a, "features_a"), _feature_matrix(features_b, "features_b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or a.shape[1] == 0:
        raise ValueError(f"need two feature matrices (N, d) and (M, d) with d >= 1, got {a.shape} and {b.shape}")
    for name, x in (("features_a", a), ("features_b", b)):
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise ValueError(f"{name} has {int(bad.sum())} of {len(x)} rows with NaN or inf (first: row "
                             f"{int(np.argmax(bad))}); the Fréchet distance is undefined. Non-finite features "
                             "usually mean non-finite images, e.g. from a diverged generator.")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need at least two samples on each side to estimate a covariance, got {len(a)} and {len(b)}")
    dim = a.shape[1]
    if min(len(a), len(b)) <= dim:
        warnings.warn(SampleSizeWarning(
            f"Fréchet distance from {len(a)} and {len(b)} samples of {dim}-dimensional features: with no more "
            f"samples than dimensions (N <= {dim}) the covariance estimates are singular and the value is mostly "
            f"sampling bias. Use more than {dim} samples on each side (10x, {10 * dim}, for a bias near 5% of "
            "the total variance) and compare against a floor computed with the same N."), stacklevel=2)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False).reshape(dim, dim), np.cov(b, rowvar=False).reshape(dim, dim)
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def classifier_frechet_distance(classifier: Classifier, real: torch.Tensor, generated: torch.Tensor) -> float:
    """Fréchet distance between real and generated images in the classifier's feature space."""
    return frechet_distance(classifier.features(real), classifier.features(generated))


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, k: int = 1, batch_size: int = 256):
    """The k nearest reference images of each query in pixel space (Euclidean).

    Returns (distances, indices), both (N, k). Used to check that a generator does not
    simply reproduce training images.
    """
    if queries.shape[1:] != reference.shape[1:]:
        raise ValueError(f"queries {tuple(queries.shape[1:])} and reference {tuple(reference.shape[1:])} "
                         "must have the same image shape")
    ref = reference.reshape(len(reference), -1).float()
    dists, idxs = [], []
    for start in range(0, len(queries), batch_size):
        q = queries[start:start + batch_size].reshape(-1, ref.shape[1]).float()
        d = torch.cdist(q, ref)
        top = d.topk(k, dim=1, largest=False)
        dists.append(top.values)
        idxs.append(top.indices)
    return torch.cat(dists), torch.cat(idxs)


def linear_probe(train_features, train_labels, test_features, test_labels, max_iter: int = 2000) -> float:
    """Test accuracy of a logistic-regression classifier trained on frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def arr(t):
        return t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)

    scaler = StandardScaler().fit(arr(train_features))
    model = LogisticRegression(max_iter=max_iter)
    model.fit(scaler.transform(arr(train_features)), arr(train_labels))
    return float(model.score(scaler.transform(arr(test_features)), arr(test_labels)))


def per_class_accuracy(classifier: Classifier, images: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Accuracy of the classifier on images whose intended class is ``labels``, per class (K,).

    For class-conditional samples: how often the independent classifier recognises the class
    that the generator was asked for. NaN for classes that do not occur in ``labels``.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    pred = classifier.predict(images)
    k = classifier.net.n_classes
    out = np.full(k, np.nan)
    for c in range(k):
        mask = labels == c
        if mask.any():
            out[c] = float((pred[mask] == c).float().mean())
    return out


def l1_error(output: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute pixel error between two image batches of the same shape (images in [-1, 1])."""
    if output.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(output.shape)} vs {tuple(target.shape)}")
    return float((output.float() - target.float()).abs().mean())


def domain_classifier(domains: dict, steps: int, seed: int = 0, held_out: float = 0.2) -> Classifier:
    """An independent classifier of *which domain* an image belongs to (Chapters 8-9).

    ``domains`` maps domain names to image tensors (N, C, 32, 32). A fraction ``held_out``
    of each domain is kept aside to report the accuracy. Used to score translations: an
    image translated to domain k should be classified as k.
    """
    names = list(domains)
    train_x, train_y, test_x, test_y = [], [], [], []
    for k, name in enumerate(names):
        x = domains[name]
        cut = int(len(x) * (1 - held_out))
        train_x.append(x[:cut])
        test_x.append(x[cut:])
        train_y.append(torch.full((cut,), k, dtype=torch.long))
        test_y.append(torch.full((len(x) - cut,), k, dtype=torch.long))
    net = train_classifier(torch.cat(train_x), torch.cat(train_y), len(names), steps, seed)
    acc = accuracy(net, torch.cat(test_x), torch.cat(test_y))
    return Classifier(net, "domains: " + ", ".join(names), acc, "(not cached)", True)


def pixel_agreement(images_a: torch.Tensor, images_b: torch.Tensor, threshold: float = 0.0) -> float:
    """CoGAN's pixel agreement ratio: the fraction of pixels on which two image batches agree
    after binarising both at ``threshold`` (images in [-1, 1]; 0 is mid-grey)."""
    if images_a.shape != images_b.shape:
        raise ValueError(f"shapes differ: {tuple(images_a.shape)} vs {tuple(images_b.shape)}")
    return float(((images_a > threshold) == (images_b > threshold)).float().mean())


def foreground_agreement(images_a: torch.Tensor, images_b: torch.Tensor, threshold: float = 0.0,
                         background: bool | None = None) -> float:
    """A stricter pixel agreement: agreement on the pixels that are foreground in either image
    (Chapter 10), i.e. the intersection over union of the two binarised foreground masks.

    Both batches (N, C, H, W) in [-1, 1] are binarised at ``threshold``. ``background`` is the
    binary value of the background (False: dark, as for images and edge maps; True: bright, as
    for negatives); by default the majority value over both batches. Pixels that are background
    in both images, which agree trivially, are left out. Returns NaN when no pixel is foreground.
    """
    if images_a.shape != images_b.shape:
        raise ValueError(f"shapes differ: {tuple(images_a.shape)} vs {tuple(images_b.shape)}")
    bits_a, bits_b = images_a > threshold, images_b > threshold
    if background is None:
        background = bool(torch.cat([bits_a.flatten(), bits_b.flatten()]).float().mean() > 0.5)
    fg_a, fg_b = bits_a != background, bits_b != background
    union = int((fg_a | fg_b).sum())
    return float((fg_a & fg_b).sum()) / union if union else math.nan
