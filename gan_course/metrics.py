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


def pack_interaction(D, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Does a packed discriminator compare the samples of a pack? (Chapter 4.)

    ``D``: a discriminator of packs with an integer attribute ``pack`` = m >= 2, such as
    :class:`gan_course.models.PackedDiscriminator` (consecutive rows form a pack, one logit
    per pack). ``a``, ``b``: (N, d) samples, e.g. from two different modes. Returns (N,):

        Δ_i = L(a_i, ..., a_i) + L(b_i, ..., b_i) - L(a_i, b_i, a_i, ...) - L(b_i, a_i, b_i, ...),

    the logits of the two packs made of copies of one sample minus those of the two packs
    that alternate them. On each side every slot of the pack holds a_i once and b_i once, so
    Δ = 0 exactly (up to rounding) for any D whose logit is a sum of per-slot terms
    sum_k f_k(x_k). Δ < 0 means that D rates packs of one kind of sample lower than mixed
    packs: it penalises a lack of variety, which only a D that compares samples can do.
    """
    m = getattr(D, "pack", None)
    if not isinstance(m, int) or m < 2:
        raise ValueError(f"pack_interaction needs a discriminator of packs with an integer attribute pack >= 2, "
                         f"got pack={m!r}")
    if not (torch.is_tensor(a) and torch.is_tensor(b)) or a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ValueError("a and b must be non-empty tensors of the same shape (N, d), got "
                         f"{tuple(getattr(a, 'shape', ()))} and {tuple(getattr(b, 'shape', ()))}")
    n, d = a.shape

    def packs(*slots):  # (N, d) per slot -> (N * m, d), consecutive rows form one pack
        return torch.stack(slots, dim=1).reshape(n * m, d)

    alternate_ab = packs(*[a if k % 2 == 0 else b for k in range(m)])
    alternate_ba = packs(*[b if k % 2 == 0 else a for k in range(m)])
    rows = torch.cat([packs(*[a] * m), packs(*[b] * m), alternate_ab, alternate_ba])  # (4 N m, d)
    logits = infer(D, rows, batch_size=len(rows)).reshape(4, n)
    return logits[0] + logits[1] - logits[2] - logits[3]


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


@dataclass
class ProbeResult:
    """Result of :func:`ridge_probe`: test accuracy and the penalty chosen on validation data."""

    accuracy: float
    alpha: float
    validation_accuracy: float

    def __str__(self) -> str:
        return f"test accuracy {100 * self.accuracy:.1f}% (alpha {self.alpha:g})"


def ridge_probe(train_features, train_labels, test_features, test_labels, *,
                alphas=(1e-3, 1e-2, 1e-1, 1.0, 10.0), validation: float = 0.2, seed: int = 0) -> ProbeResult:
    """A linear classifier on frozen features, fitted in closed form (Chapter 5).

    Ridge regression of one-hot labels on standardised features (statistics of the training
    features; constant features are left at zero), the class with the largest output wins.
    The penalty is ``alpha * n`` (n training rows), with ``alpha`` chosen from ``alphas`` by
    the accuracy on a held-out ``validation`` fraction of the training rows (split with
    ``seed``), then refitted on all of them. Solved in closed form (Cholesky), in the primal
    or the dual form, whichever matrix is smaller: deterministic, and seconds where an
    iterative logistic regression on thousands of features takes minutes.
    """
    def arr(t):
        return torch.as_tensor(t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t))

    x_tr, x_te = arr(train_features).double(), arr(test_features).double()
    y_tr, y_te = arr(train_labels).long(), arr(test_labels).long()
    if x_tr.ndim != 2 or x_te.ndim != 2 or x_tr.shape[1] != x_te.shape[1]:
        raise ValueError(f"need feature matrices (N, d) and (M, d), got {tuple(x_tr.shape)} and {tuple(x_te.shape)}")
    if len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise ValueError("every feature row needs one label")
    if not 0 < validation < 1 or not alphas or min(alphas) <= 0:
        raise ValueError("validation must be a fraction in (0, 1) and alphas positive numbers")
    n_classes = int(max(y_tr.max(), y_te.max())) + 1

    def fit(x, y, alpha_values):
        # ridge regression, in the primal (d x d) or the dual (n x n) form, whichever is smaller
        mean, std = x.mean(0), x.std(0, correction=0)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        xs = (x - mean) / std
        offset = torch.nn.functional.one_hot(y, n_classes).double().mean(0)
        targets = torch.nn.functional.one_hot(y, n_classes).double() - offset
        n, d = xs.shape
        primal = d <= n
        gram = xs.T @ xs if primal else xs @ xs.T
        rhs = xs.T @ targets if primal else targets
        eye = torch.eye(gram.shape[0], dtype=gram.dtype)
        models = []
        for a in alpha_values:
            sol = torch.cholesky_solve(rhs, torch.linalg.cholesky(gram + a * n * eye))
            models.append((mean, std, sol if primal else xs.T @ sol, offset))
        return models

    def accuracy(model, x, y):
        mean, std, w, offset = model
        return float((((x - mean) / std @ w + offset).argmax(1) == y).double().mean())

    order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(validation * len(x_tr))))
    val, fit_rows = order[:n_val], order[n_val:]
    scores = [accuracy(m, x_tr[val], y_tr[val]) for m in fit(x_tr[fit_rows], y_tr[fit_rows], alphas)]
    best = int(np.argmax(scores))
    model = fit(x_tr, y_tr, [alphas[best]])[0]
    return ProbeResult(accuracy(model, x_te, y_te), float(alphas[best]), scores[best])


def pooled_layer_features(D: "torch.nn.Module", images: torch.Tensor, grid: int = 4,
                          batch_size: int = 500) -> torch.Tensor:
    """The DCGAN paper's probe features: every hidden layer of ``D`` max-pooled to a
    ``grid`` x ``grid`` map, flattened and concatenated (Chapter 5).

    ``D`` has a ``layer_features(x)`` method returning its hidden activations (B, c_i, n_i, n_i)
    (:class:`gan_course.models.DCGANDiscriminator`). Returns (N, sum_i c_i * grid**2), on the
    CPU; D runs in eval mode. Radford et al. (2016) pooled to 4 x 4 and trained an L2-SVM on top.
    """
    if grid < 1:
        raise ValueError(f"grid must be a positive number of cells per side, got {grid}")
    if not hasattr(D, "layer_features"):
        raise TypeError(f"{type(D).__name__} has no layer_features(x) method returning its hidden activations")

    def pooled(x):
        return torch.cat([torch.nn.functional.adaptive_max_pool2d(h, grid).flatten(1) for h in D.layer_features(x)],
                         dim=1)

    return infer(pooled, images.float(), modules=(D,), batch_size=batch_size)


def class_shares(classifier: Classifier, images: torch.Tensor) -> np.ndarray:
    """Fraction of ``images`` that the classifier assigns to each class, shape (K,), summing to 1."""
    pred = classifier.predict(images)
    return np.bincount(pred.numpy(), minlength=classifier.net.n_classes) / len(pred)


def total_variation(p, q) -> float:
    """Total variation distance 1/2 sum |p - q| between two discrete distributions (e.g. class shares)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"need two distributions over the same classes, got shapes {p.shape} and {q.shape}")
    return float(0.5 * np.abs(p - q).sum())


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


# ---------------------------------------------------------------------------------------
# Evaluating generative models (Chapter 12): kernel distance, precision and recall, the
# classifier score, the memorisation test and the spectral measure of checkerboard artifacts
# ---------------------------------------------------------------------------------------


def _features64(features, name: str) -> torch.Tensor:
    """A (N, d) float64 CPU tensor from a tensor or array, with a clear error otherwise."""
    x = features.detach().cpu() if torch.is_tensor(features) else torch.as_tensor(np.asarray(features))
    if x.ndim != 2:
        raise ValueError(f"{name} must be a feature matrix (N, d), got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x.to(torch.float64)


def _kernel_sum(a: torch.Tensor, b: torch.Tensor, kernel, *, skip_diagonal: bool, block: int = 1024) -> float:
    """Sum of kernel(a_i, b_j) over all pairs (i != j when ``skip_diagonal``), in row blocks."""
    total = 0.0
    for start in range(0, len(a), block):
        k = kernel(a[start:start + block], b)                   # (block, M)
        total += float(k.sum())
        if skip_diagonal:
            rows = torch.arange(k.shape[0])
            total -= float(k[rows, rows + start].sum())
    return total


def kernel_distance(features_a, features_b, *, degree: int = 3, gamma: float | None = None,
                    coef: float = 1.0) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy between two feature sets.

    With the polynomial kernel k(x, y) = (gamma <x, y> + coef)^degree, by default the cubic
    kernel with gamma = 1/d and coef = 1, this is the kernel Inception distance (KID) of
    Binkowski et al. (2018), computed in whatever feature space the features come from
    (Chapter 12). For features a (m, d) and b (n, d), m, n >= 2:

        1/(m(m-1)) sum_{i != j} k(a_i, a_j) + 1/(n(n-1)) sum_{i != j} k(b_i, b_j)
        - 2/(m n) sum_{i, j} k(a_i, b_j).

    Leaving out the diagonal terms makes the estimate unbiased: its expectation is the
    squared MMD for every sample size, so it can be negative when the two distributions are
    equal. The kernel matrices are summed in blocks, never stored whole.
    """
    a, b = _features64(features_a, "features_a"), _features64(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two feature sets differ in dimension: {a.shape[1]} and {b.shape[1]}")
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        raise ValueError(f"need at least two samples on each side, got {m} and {n}")
    if degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree}")
    g = 1.0 / a.shape[1] if gamma is None else float(gamma)

    def kernel(x, y):
        return (g * x @ y.T + coef) ** degree

    k_aa = _kernel_sum(a, a, kernel, skip_diagonal=True) / (m * (m - 1))
    k_bb = _kernel_sum(b, b, kernel, skip_diagonal=True) / (n * (n - 1))
    k_ab = _kernel_sum(a, b, kernel, skip_diagonal=False) / (m * n)
    return k_aa + k_bb - 2 * k_ab


def _kth_neighbour_radii(x: torch.Tensor, k: int, block: int = 1024) -> torch.Tensor:
    """Distance of each row of x (N, d) to its k-th nearest other row, (N,)."""
    radii = []
    for start in range(0, len(x), block):
        d = torch.cdist(x[start:start + block], x)             # (block, N), includes self (0)
        radii.append(d.kthvalue(k + 1, dim=1).values)          # k + 1: the first is the point itself
    return torch.cat(radii)


def _ball_counts(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                 block: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """How many balls (centres[j], radii[j]) hold each query, (Q,), and which balls hold
    at least one query, (N,) bool."""
    counts, used = [], torch.zeros(len(centres), dtype=torch.bool)
    for start in range(0, len(queries), block):
        inside = torch.cdist(queries[start:start + block], centres) <= radii[None, :]   # (block, N)
        counts.append(inside.sum(dim=1))
        used |= inside.any(dim=0)
    return torch.cat(counts), used


@dataclass
class PrecisionRecall:
    """Result of :func:`precision_recall`."""

    precision: float   # fraction of generated samples inside the real manifold
    recall: float      # fraction of real samples inside the generated manifold
    density: float     # real balls holding a generated sample, per sample, divided by k
    coverage: float    # fraction of real balls that hold at least one generated sample
    k: int             # neighbourhood size of the manifold estimate
    n_real: int
    n_generated: int

    def __str__(self) -> str:
        return (f"precision {self.precision:.3f}, recall {self.recall:.3f}, density {self.density:.3f}, "
                f"coverage {self.coverage:.3f} (k = {self.k}, {self.n_real} real, "
                f"{self.n_generated} generated)")


def precision_recall(real_features, generated_features, *, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall of generative models (Kynkäänniemi et al., 2019),
    with density and coverage (Naeem et al., 2020) from the same neighbourhoods.

    The manifold of a set of feature vectors is the union of balls centred on each vector,
    with radius the distance to its k-th nearest neighbour in the same set (the paper uses
    k = 3). Precision: the fraction of generated samples that fall inside the real
    manifold (are the samples realistic?). Recall: the fraction of real samples that fall
    inside the generated manifold (does the generator cover the data?). Both in [0, 1].

    One real outlier has a large ball, and precision counts a sample inside it as
    realistic. Density counts *how many* real balls hold each generated sample (divided by
    k, so that about 1 is typical for samples of the data distribution itself, and more
    than 1 is possible); coverage is the fraction of real balls that hold at least one
    generated sample, a recall that uses only the real neighbourhoods.
    ``real_features`` (N, d), ``generated_features`` (M, d), both with more than k rows.
    """
    real = _features64(real_features, "real_features")
    fake = _features64(generated_features, "generated_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"the two feature sets differ in dimension: {real.shape[1]} and {fake.shape[1]}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"need more than k = {k} samples on each side, got {len(real)} and {len(fake)}")
    counts, used = _ball_counts(fake, real, _kth_neighbour_radii(real, k))
    recall_counts, _ = _ball_counts(real, fake, _kth_neighbour_radii(fake, k))
    return PrecisionRecall(precision=float((counts > 0).double().mean()),
                           recall=float((recall_counts > 0).double().mean()),
                           density=float(counts.double().mean() / k),
                           coverage=float(used.double().mean()),
                           k=k, n_real=len(real), n_generated=len(fake))


def score_from_probabilities(probs, *, splits: int = 1) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from class probabilities (N, K), averaged over ``splits``.

    The Inception score's formula (Salimans et al., 2016): high when each sample is
    classified confidently (low-entropy p(y|x)) and the samples spread over the classes
    (high-entropy marginal p(y)). Between 1 and K. With ``splits`` > 1 the samples are cut
    into that many equal parts and the scores of the parts averaged, as in the paper.
    """
    p = _features64(probs, "probs")
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError("probs must be class probabilities: non-negative rows that sum to 1 "
                         "(apply softmax to logits first)")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must lie between 1 and the number of samples ({len(p)}), got {splits}")
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)
        # p log(p / marginal), with 0 log 0 = 0
        kl = torch.where(part > 0, part * (part.clamp_min(1e-300).log() - marginal.clamp_min(1e-300).log()),
                         torch.zeros_like(part)).sum(1)
        scores.append(float(kl.mean().exp()))
    return float(np.mean(scores))


def classifier_score(classifier: Classifier, images: torch.Tensor, *, splits: int = 1) -> float:
    """The Inception-score idea with the book's classifier instead of Inception (Chapter 12).

    exp(E_x KL(p(y|x) || p(y))) with p(y|x) the classifier's softmax; see
    :func:`score_from_probabilities`. Not comparable with published Inception scores.
    """
    with torch.no_grad():
        probs = torch.cat([torch.softmax(classifier.net(b.float().cpu()), 1) for b in images.split(500)])
    return score_from_probabilities(probs, splits=splits)


@dataclass
class MemorisationTest:
    """Result of :func:`memorisation_test`: nearest-neighbour distances to the training set."""

    generated: np.ndarray   # distance of each generated sample to its nearest training image
    heldout: np.ndarray     # the same for held-out real images (new by construction)
    threshold: float        # the `quantile` of the held-out distances
    quantile: float
    copies: float           # fraction of generated samples closer to the training set than threshold

    @property
    def ratio(self) -> float:
        """Median distance of generated samples over that of held-out images (about 1 or more: no copying)."""
        return float(np.median(self.generated) / np.median(self.heldout))

    @property
    def suspicious(self) -> bool:
        """True when clearly more generated samples than held-out images sit that close (3 x)."""
        return self.copies > 3 * self.quantile

    def __str__(self) -> str:
        return (f"median nearest-training distance: generated {np.median(self.generated):.2f}, "
                f"held-out {np.median(self.heldout):.2f} (ratio {self.ratio:.2f}); "
                f"{100 * self.copies:.1f}% of generated samples closer than the "
                f"{100 * self.quantile:g}% quantile of held-out images ({self.threshold:.2f})")


def memorisation_test(generated: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor, *,
                      quantile: float = 0.01) -> MemorisationTest:
    """Compare the nearest-training-image distances of generated samples and held-out images.

    Held-out images are new by construction, so their distances to the training set show
    how close a *new* image typically comes. A generator that copies training images has
    many samples closer than almost any held-out image: ``copies``, the fraction of
    generated samples below the ``quantile`` of the held-out distances, is then far above
    ``quantile`` itself. Distances are Euclidean in pixel space (images of equal shape).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie strictly between 0 and 1, got {quantile}")
    d_gen = nearest_neighbours(generated, train, k=1)[0][:, 0].double().numpy()
    d_held = nearest_neighbours(heldout, train, k=1)[0][:, 0].double().numpy()
    threshold = float(np.quantile(d_held, quantile))
    return MemorisationTest(d_gen, d_held, threshold, quantile, float((d_gen < threshold).mean()))


def _image_batch(images, name: str = "images") -> torch.Tensor:
    x = images.detach().cpu() if torch.is_tensor(images) else torch.as_tensor(np.asarray(images))
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}")
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"{name} need an even height and width (the highest frequency is a period of 2 "
                         f"pixels), got {tuple(x.shape[-2:])}")
    return x.to(torch.float64)


def power_spectrum(images) -> np.ndarray:
    """Mean power spectrum |DFT|^2 of images (N, C, H, W) after removing each image's mean, (H, W).

    Shifted so that frequency 0 is at the centre (numpy's fftshift convention): the highest
    frequencies, patterns with a period of 2 pixels, are in the first row and column.
    """
    x = _image_batch(images)
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2).mean(dim=(0, 1))   # (H, W)
    return torch.fft.fftshift(power).numpy()


def checkerboard_energy(images) -> float:
    """Fraction of the images' spectral energy at the highest spatial frequency (Chapter 12).

    A transposed convolution whose kernel size is not divisible by its stride (2) writes
    alternate output pixels from different numbers of inputs (Odena et al., 2016): the
    pattern repeats every 2 pixels, so its energy sits at the Nyquist frequencies (H/2, 0),
    (0, W/2) and (H/2, W/2) of the DFT: alternating rows, columns and the checkerboard.
    Returned: the power at those three frequencies over the total power without the mean
    (frequency 0), summed over all images; 0 for smooth images, 1 for a pure checkerboard.
    """
    x = _image_batch(images)
    h, w = x.shape[-2:]
    power = torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True)).abs().pow(2)   # (N, C, H, W)
    total = float(power.sum())
    if total == 0:
        return 0.0
    nyquist = power[..., h // 2, 0] + power[..., 0, w // 2] + power[..., h // 2, w // 2]
    return float(nyquist.sum()) / total
