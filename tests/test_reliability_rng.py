"""Item 8 of issue 15: the public functions the chapters call, other than those whose job is to
draw random numbers from a seed or generator they are given, leave the global random state
(torch's CPU generator, NumPy's and Python's ``random``) exactly as they found it, so that
running a check, a metric or a figure does not shift a learner's later random draws.

Covered here (the checks have their own test in test_checks_fuzz.py, the reference classifier
in test_reliability.py): metrics, viz, widgets, latent, theory, losses, the data loaders and
transforms that need no download, gc.infer / frozen_copy / count_parameters / steps / budget /
profile / provenance / map_processes / claim, and train.fit with the step functions, batches,
ema_update and linear_decay when every random draw goes through the rng they are given.
Not covered, by design: model constructors (their initial weights come from torch's global
generator; the chapters seed it first), gc.setup and seed_everything (their job is to seed),
batches and the step functions with ``rng=None`` (documented to draw from the global generator).
"""

import random

import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import data, latent, losses, metrics, theory, train, viz, widgets
from gan_course.models import CoupledGenerators, DCGANConfig, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gan_course.models import StarGenerator


def global_state():
    return torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate()


def _no_draw(item):
    return item * 2


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Models, data and a classifier, built before any state is recorded."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    cache = tmp_path_factory.mktemp("classifier")
    clf = metrics.reference_classifier("digits", steps=5, cache=str(cache), verbose=False)
    digits = gc.load_images("digits", limit=400, size=32)
    mlp_g, mlp_d = MLPGenerator(z_dim=2, data_dim=2, hidden=(8,)), MLPDiscriminator(data_dim=2, hidden=(8,))
    cfg = DCGANConfig(z_dim=8, image_size=32, channels=1, width=4)
    return dict(
        gen=gen, clf=clf, digits=digits, mlp_g=mlp_g, mlp_d=mlp_d, cfg=cfg, dcgan_g=DCGANGenerator(cfg),
        star=StarGenerator(3, width=4, n_blocks=1), coupled=CoupledGenerators(z_dim=8, width=4),
        images=torch.rand(20, 1, 32, 32, generator=gen) * 2 - 1, grid=gc.grid_of_gaussians(),
        mixture1d=theory.Mixture1D(means=(-1.0, 1.0), stds=(0.5, 0.5), weights=(0.5, 0.5)),
    )


def _fit_with_explicit_randomness(i):
    """A short DCGAN-free game whose every draw goes through rng: fit, gan_step, batches, the guard."""
    gen = torch.Generator().manual_seed(1)
    G, D = i["mlp_g"], i["mlp_d"]
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    real = train.batches(i["grid"], 16, rng=gen)
    schedule = train.linear_decay(opt_g, 4)
    train.fit(lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2, generator=gen)), 4,
              schedulers=[schedule], check_every=2, progress=False)
    train.ema_update(gc.frozen_copy(G), G, 0.9)


X = theory.grid(-3, 3, 101)
CASES = {
    # metrics
    "metrics.classifier_frechet_distance": lambda i: metrics.classifier_frechet_distance(
        i["clf"], i["digits"].images[:150], i["digits"].images[150:300]),
    "metrics.frechet_distance": lambda i: metrics.frechet_distance(np.eye(4)[[0, 1, 2, 3, 0, 1]], np.eye(4)[[1] * 6]),
    "metrics.per_class_accuracy": lambda i: metrics.per_class_accuracy(i["clf"], i["digits"].images[:50],
                                                                      i["digits"].labels[:50]),
    "metrics.linear_probe": lambda i: metrics.linear_probe(i["digits"].images[:100].flatten(1),
                                                           i["digits"].labels[:100],
                                                           i["digits"].images[100:].flatten(1),
                                                           i["digits"].labels[100:], max_iter=50),
    "metrics.mode_coverage": lambda i: metrics.mode_coverage(i["grid"].sample(100, i["gen"]), i["grid"]),
    "metrics.nearest_neighbours": lambda i: metrics.nearest_neighbours(i["images"][:5], i["images"], k=2),
    "metrics.pixel_agreement": lambda i: metrics.pixel_agreement(i["images"][:10], i["images"][10:]),
    "metrics.foreground_agreement": lambda i: metrics.foreground_agreement(i["images"][:10], i["images"][10:]),
    "metrics.l1_error": lambda i: metrics.l1_error(i["images"][:10], i["images"][10:]),
    # figures
    "viz.image_grid": lambda i: viz.image_grid(i["images"], nrow=5, title="x"),
    "viz.curves": lambda i: viz.curves({"loss_d": [1.0, 0.5, 0.7, 0.6], "loss_g": [2.0, 1.0, 1.5, 1.2]}, smooth=2),
    "viz.samples_2d": lambda i: viz.samples_2d(i["grid"].sample(200, i["gen"]), mixture=i["grid"]),
    "viz.decision_surface": lambda i: viz.decision_surface(i["mlp_d"], mixture=i["grid"], n=21),
    "viz.densities_1d": lambda i: viz.densities_1d(X, theory.gaussian_pdf(X), theory.gaussian_pdf(X, 1.0)),
    "viz.animate": lambda i: viz.animate(viz.curves({"x": [1.0, 2.0]}), lambda k: None, frames=2),
    # widgets (the explorers with a seed draw from a generator of their own)
    "widgets.minimax_explorer": lambda i: widgets.minimax_explorer(i["mixture1d"]),
    "widgets.InterpolationExplorer": lambda i: widgets.InterpolationExplorer(i["dcgan_g"], torch.zeros(8),
                                                                             torch.ones(8), steps=3),
    "widgets.DomainExplorer": lambda i: widgets.DomainExplorer(i["star"], i["images"][:4], ["a", "b", "c"]),
    "widgets.LatentExplorer": lambda i: widgets.LatentExplorer(i["dcgan_g"], 8, dims=(0, 1), n=4, nrow=4),
    "widgets.PairExplorer": lambda i: widgets.PairExplorer(i["coupled"], 8, n=2).resample(),
    # latent space, theory, losses
    "latent.slerp / interpolate / arithmetic": lambda i: (latent.slerp(torch.ones(4), -torch.ones(4) + 0.1, 0.3),
                                                          latent.interpolate(torch.zeros(4), torch.ones(4), 3,
                                                                             mode="spherical"),
                                                          latent.arithmetic(*torch.eye(3))),
    "theory (divergences, optimum, C(G) of samples)": lambda i: (
        theory.js_divergence(theory.gaussian_pdf(theory.grid(), 0, 1), theory.gaussian_pdf(theory.grid(), 1, 1),
                             theory.grid()),
        theory.value_at_optimum(theory.gaussian_pdf(theory.grid()), theory.gaussian_pdf(theory.grid(), 2),
                                theory.grid()),
        theory.c_of_samples(np.linspace(-2, 2, 500), i["mixture1d"]),
        theory.generator_loss_gradients(np.linspace(0.01, 0.99, 5))),
    "losses": lambda i: (losses.discriminator_loss(torch.zeros(4), torch.ones(4)),
                         losses.generator_loss("nonsaturating")(torch.zeros(4)),
                         losses.cycle_consistency_loss(torch.zeros(3), torch.ones(3))),
    # data that needs no download
    "gc.load_images(digits, limit)": lambda i: gc.load_images("digits", limit=30),
    "data.paired_task": lambda i: data.paired_task("edges", "digits", "test", size=32, limit=10),
    "data.unpaired_domains": lambda i: data.unpaired_domains("identity", "negative", "digits", limit=10),
    "data.domain_transform": lambda i: data.domain_transform("flip")(i["images"]),
    "gc.grid_of_gaussians / ring_of_gaussians": lambda i: (gc.grid_of_gaussians(), gc.ring_of_gaussians()),
    # helpers
    "gc.infer": lambda i: gc.infer(i["dcgan_g"], torch.zeros(6, 8), batch_size=4),
    "gc.frozen_copy / count_parameters": lambda i: gc.count_parameters(gc.frozen_copy(i["dcgan_g"])),
    "gc.steps / budget / profile / provenance": lambda i: (gc.steps(smoke=1, cpu=2, gpu=3),
                                                           gc.budget(smoke=1, cpu=2, gpu=3), gc.profile(),
                                                           gc.provenance(print_it=False)),
    "gc.map_processes": lambda i: gc.map_processes(_no_draw, [1, 2, 3], processes=1),
    "gc.claim": lambda i: gc.claim("two is more than one", 2 > 1, evidence="2 > 1"),
    # training with explicit generators
    "train.fit + gan_step + batches(rng) + linear_decay + ema_update": _fit_with_explicit_randomness,
}


@pytest.mark.parametrize("case", list(CASES))
def test_public_functions_leave_the_global_random_state_alone(case, inputs, capsys):
    torch.manual_seed(2024)
    np.random.seed(2024)
    random.seed(2024)
    before = global_state()
    CASES[case](inputs)
    after = global_state()
    assert torch.equal(before[0], after[0]), f"{case} changed torch's global generator"
    assert np.array_equal(before[1], after[1]), f"{case} changed NumPy's global generator"
    assert before[2] == after[2], f"{case} changed Python's random module"
