"""What every model shares (gan_course/models/common.py): inference, frozen copies, the label
rule, parameter counts, and the constructor options that replace layer surgery."""

import copy

import pytest
import torch
from torch import nn

import gan_course as gc
from gan_course.models import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    PatchDiscriminator,
    SemiSupervisedDiscriminator,
    UNetGenerator,
    check_labels,
    count_parameters,
    frozen_copy,
    infer,
)
from gan_course.models.stargan import one_hot

CFG = DCGANConfig(z_dim=8, width=4)


# --- infer: eval mode, chunks, modes restored, CPU results ---

def test_infer_equals_eval_mode_forward_in_one_batch_and_restores_modes():
    torch.manual_seed(0)
    G = DCGANGenerator(CFG)
    G.train()
    G.head.eval()                                   # a submodule in its own mode must keep it
    z = torch.randn(23, 8)
    out = infer(G, z, batch_size=5)                 # 5 chunks, the last one of 3 rows
    assert G.training and not G.head.training and G.stem.training
    reference = copy.deepcopy(G).eval()
    with torch.no_grad():
        assert torch.allclose(out, reference(z), atol=1e-6)
    assert out.device.type == "cpu" and not out.requires_grad
    # training mode with one chunk: batch norm uses the statistics of the batch
    train_out = infer(G, z, mode="train", batch_size=len(z))
    with torch.no_grad():
        assert torch.allclose(train_out, copy.deepcopy(G).train()(z), atol=1e-6)
    assert not torch.allclose(train_out, out, atol=1e-3)


def test_infer_methods_functions_and_tuples():
    torch.manual_seed(0)
    D = SemiSupervisedDiscriminator(10, config=CFG)          # dropout: eval mode must switch it off
    x = torch.rand(7, 1, 32, 32) * 2 - 1
    features = infer(D.features, x, batch_size=3)
    assert features.shape == (7, CFG.feature_dim) and D.training
    assert torch.equal(infer(D, x), infer(D, x))             # no dropout: deterministic
    G1, G2 = DCGANGenerator(CFG), DCGANGenerator(CFG)
    z = torch.randn(4, 8)
    a, b = infer(lambda z: (G1(z), G2(z)), z, modules=(G1, G2))
    assert a.shape == b.shape == (4, 1, 32, 32) and G1.training and G2.training
    with pytest.raises(TypeError, match="modules="):
        infer(lambda z: G1(z), z)
    with pytest.raises(ValueError, match="same number of rows"):
        infer(lambda z, y: z, z, torch.zeros(3), modules=(G1,))
    with pytest.raises(ValueError, match="mode"):
        infer(G1, z, mode="test")


def test_frozen_copy_is_a_detached_snapshot():
    torch.manual_seed(0)
    G = DCGANGenerator(CFG)
    snap = frozen_copy(G)
    assert G.training and not snap.training and not any(p.requires_grad for p in snap.parameters())
    with torch.no_grad():
        next(G.parameters()).add_(1.0)                      # training moves G, not the snapshot
    assert not torch.equal(next(G.parameters()), next(snap.parameters()))
    with pytest.raises(TypeError, match="nn.Module"):
        frozen_copy(G.state_dict())


# --- one rule for labels ---

def test_check_labels_accepts_any_integer_dtype_and_refuses_floats_and_bools():
    for dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64):
        y = check_labels(torch.tensor([0, 2, 1], dtype=dtype), 3)
        assert y.dtype == torch.int64 and y.tolist() == [0, 2, 1]
    for bad in (torch.tensor([0.0, 1.0]), torch.tensor([True, False]), [0, 1]):
        with pytest.raises(TypeError, match=r"integer tensor of class indices 0..2 \(3 classes\)"):
            check_labels(bad, 3)
    with pytest.raises(ValueError, match=r"0..2 \(3 domains\), got values from 0 to 3"):
        check_labels(torch.tensor([0, 3]), 3, kind="domains")
    assert torch.equal(one_hot(torch.tensor([2, 0], dtype=torch.uint8), 3), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))


def test_count_parameters_counts_shared_and_trainable_once():
    trunk = nn.Linear(3, 4)
    both = nn.ModuleList([nn.Sequential(trunk, nn.Linear(4, 2)), nn.Sequential(trunk, nn.Linear(4, 2))])
    assert count_parameters(both) == 16 + 2 * 10
    assert gc.count_parameters(frozen_copy(both)) == 0       # nothing left to train


# --- options instead of layer surgery ---

@pytest.mark.parametrize("norm, layer", [("batch", nn.BatchNorm2d), ("instance", nn.InstanceNorm2d),
                                         ("layer", nn.GroupNorm), ("none", None)])
def test_dcgan_discriminator_norm_option(norm, layer):
    D = DCGANDiscriminator(CFG, norm=norm)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    assert D(x).shape == (4,) and D.features(x).shape == (4, CFG.feature_dim)
    norms = [m for m in D.modules() if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))]
    assert len(norms) == (CFG.n_up - 1 if layer else 0) and all(isinstance(m, layer) for m in norms)
    convs = [m for m in D.body.modules() if isinstance(m, nn.Conv2d)]
    assert all((c.bias is not None) == (norm == "none") for c in convs[1:])   # a bias where no norm follows
    if norm != "batch":                                       # no batch statistics: each image on its own
        D.train()
        with torch.no_grad():
            assert torch.allclose(D(x)[:2], D(x[:2]), atol=1e-5)


def test_dcgan_generator_without_batch_norm_and_bad_norms():
    G = DCGANGenerator(CFG, norm="none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert G(torch.randn(3, 8)).shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match="norm must be one of 'batch', 'none'"):
        DCGANGenerator(CFG, norm="layer")
    with pytest.raises(ValueError, match="norm"):
        DCGANDiscriminator(CFG, norm="spectral")


def test_patch_discriminator_without_norm_sees_only_its_patch():
    torch.manual_seed(0)
    D = PatchDiscriminator(1, width=8, n_layers=2, norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in D.modules())
    x = torch.randn(1, 1, 32, 32, requires_grad=True)
    D(x)[0, 0, 0, 0].backward()
    seen = x.grad[0, 0].abs() > 0
    rows, cols = seen.any(1).nonzero(), seen.any(0).nonzero()
    assert int(rows.max()) < 31 and int(cols.max()) < 31    # the corner score ignores the far corner


def test_unet_out_channels_default_to_channels():
    G = UNetGenerator(3, width=4)
    assert G.out_channels == 3 and G(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    assert UNetGenerator(1, out_channels=3, width=4)(torch.zeros(1, 1, 32, 32)).shape == (1, 3, 32, 32)
