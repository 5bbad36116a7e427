import contextlib

import pytest
import torch

import gan_course as gc


def test_profile_from_environment(clean_env):
    for name in ("smoke", "cpu", "gpu"):
        clean_env.setenv("GAN_COURSE_PROFILE", name)
        assert gc.profile() == name
    clean_env.setenv("GAN_COURSE_PROFILE", " CPU ")
    assert gc.profile() == "cpu"


def test_profile_auto_follows_cuda(clean_env):
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    assert gc.profile() == "cpu"
    clean_env.setattr(torch.cuda, "is_available", lambda: True)
    assert gc.profile() == "gpu"


def test_unknown_profile_names_what_is_accepted(clean_env):
    clean_env.setenv("GAN_COURSE_PROFILE", "smok")
    with pytest.raises(ValueError) as err:
        gc.profile()
    msg = str(err.value)
    assert "'smok'" in msg and "smoke, cpu, gpu" in msg and "Did you mean 'smoke'" in msg


def test_budget_picks_value_of_profile(clean_env):
    for name, want in (("smoke", 20), ("cpu", 3000), ("gpu", 30000)):
        clean_env.setenv("GAN_COURSE_PROFILE", name)
        assert gc.budget(smoke=20, cpu=3000, gpu=30000) == want
    assert gc.budget(smoke=(1, 2), cpu=(3, 4), profile_name="cpu") == (3, 4)


def test_budget_without_value_for_profile_raises(clean_env):
    clean_env.setenv("GAN_COURSE_PROFILE", "gpu")
    with pytest.raises(ValueError, match=r"no value for the profile in force \('gpu'\).*smoke=20, cpu=3000"):
        gc.budget(smoke=20, cpu=3000)
    with pytest.raises(ValueError, match="unknown profile"):
        gc.budget(smoke=1, cpu=1, gpu=1, profile_name="fast")


def test_device_choice_and_override(clean_env):
    clean_env.setattr(torch.cuda, "is_available", lambda: False)
    assert gc.device().type in ("cpu", "mps")
    assert gc.device("cpu") == torch.device("cpu")
    clean_env.setenv("GAN_COURSE_DEVICE", "cpu")
    assert gc.device() == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        gc.device("cuda")


def test_seed_everything_reproduces():
    gc.seed_everything(3)
    a = torch.randn(5)
    gen = gc.seed_everything(3)
    assert torch.equal(a, torch.randn(5))
    assert torch.equal(torch.randn(3, generator=gen), torch.randn(3, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError):
        gc.seed_everything(-1)


def test_autocast_is_noop_on_cpu():
    ctx = gc.autocast("cpu")
    assert isinstance(ctx, contextlib.nullcontext)
    with ctx:
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
    assert not gc.grad_scaler("cpu").is_enabled()


def test_setup_and_provenance(clean_env, capsys):
    clean_env.setenv("GAN_COURSE_PROFILE", "smoke")
    run = gc.setup(seed=7)
    assert run.profile == "smoke" and run.seed == 7 and run.device.type in ("cpu", "cuda", "mps")
    info = gc.provenance()
    out = capsys.readouterr().out
    for key in ("gan_course", "torch", "python", "profile", "device", "elapsed_s"):
        assert key in info and key in out
    assert info["profile"] == "smoke" and info["torch"] == torch.__version__
    assert info["elapsed_s"] >= 0


def test_import_does_not_pull_widgets_or_pick_a_device():
    import subprocess
    import sys

    code = ("import sys, gan_course; "
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'; "
            "assert gan_course.runtime._RUN is None; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_threads_variable(clean_env):
    before = torch.get_num_threads()
    try:
        clean_env.setenv("GAN_COURSE_THREADS", "1")
        gc.setup(seed=0, quiet=True)
        assert torch.get_num_threads() == 1
        clean_env.setenv("GAN_COURSE_THREADS", "two")
        with pytest.raises(ValueError, match="positive integer"):
            gc.setup(seed=0, quiet=True)
    finally:
        torch.set_num_threads(before)


def test_steps_are_capped_but_sizes_are_not(clean_env):
    clean_env.setenv("GAN_COURSE_PROFILE", "gpu")
    assert gc.steps(smoke=20, cpu=3000, gpu=30000) == 30000
    clean_env.setenv("GAN_COURSE_MAX_STEPS", "3")
    assert gc.steps(smoke=20, cpu=3000, gpu=30000) == 3
    assert gc.budget(smoke=20, cpu=3000, gpu=30000) == 30000     # sizes keep the profile's value
    assert gc.provenance(print_it=False)["max_steps"] == 3
    clean_env.setenv("GAN_COURSE_MAX_STEPS", "0")
    with pytest.raises(ValueError, match="GAN_COURSE_MAX_STEPS must be a positive integer"):
        gc.steps(smoke=1, cpu=1, gpu=1)
    clean_env.delenv("GAN_COURSE_MAX_STEPS")
    with pytest.raises(ValueError, match="use budget"):
        gc.steps(smoke=[0], cpu=[0, 1], gpu=[0, 1])
