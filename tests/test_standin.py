"""Stand-in data for dry runs of the gpu profile: only when asked (GAN_COURSE_STANDIN=1),
announced, in the real data's layout, and never where the real data goes."""

import pytest
import torch

import gan_course as gc


def test_without_the_variable_nothing_is_replaced(clean_env, tmp_path):
    assert not gc.data.standin_requested()
    assert gc.data.celeba_root(tmp_path) == tmp_path
    with pytest.raises(ValueError, match="no pinned SHA-256"):
        gc.data.download_cyclegan_dataset("not-a-data-set", root=tmp_path)


def test_cyclegan_stand_in_has_the_layout_and_says_so(clean_env, tmp_path, capsys):
    clean_env.setenv("GAN_COURSE_STANDIN", "1")
    root = gc.data.download_cyclegan_dataset("horse2zebra", root=tmp_path / "real")
    assert "STAND-IN DATA" in capsys.readouterr().out
    assert not (tmp_path / "real").exists()                       # the real place is left alone
    assert "standin" in root.parts and root.name == "horse2zebra"
    a, b = gc.data.load_image_folders(root, "train", size=32)
    ta, tb = gc.data.load_image_folders(root, "test", size=32, limit=4)
    assert a.shape == (16, 3, 32, 32) and ta.shape == (4, 3, 32, 32)
    assert -1 <= float(a.min()) and float(a.max()) <= 1 and not torch.equal(a, b)


def test_celeba_stand_in_reads_like_celeba(clean_env, tmp_path, capsys):
    clean_env.setenv("GAN_COURSE_STANDIN", "1")
    root = gc.data.celeba_root(tmp_path / "nowhere")
    assert "STAND-IN DATA" in capsys.readouterr().out
    x, attrs = gc.data.load_celeba(root, split="train", size=32)
    xt, _ = gc.data.load_celeba(root, split="test", size=32)
    assert x.shape == (16, 3, 32, 32) and attrs.shape == (16, len(gc.data.CELEBA_ATTRIBUTES))
    assert set(attrs.unique().tolist()) == {0.0, 1.0} and len(xt) == 16
