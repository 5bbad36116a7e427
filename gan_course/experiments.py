"""Train a chapter's model at full scale from the command line, on one process or several.

    python -m gan_course.experiments dcgan --data fashion-mnist --steps 20000 --out runs/dcgan
    python -m gan_course.experiments cyclegan --data horse2zebra --size 256 --batch 1 \\
        --steps 200000 --out runs/h2z
    torchrun --nproc_per_node=4 -m gan_course.experiments cyclegan --data horse2zebra \\
        --size 256 --batch 4 --steps 50000 --out runs/h2z

The same package code as the notebooks (models, ``train.dcgan``'s ``gan_step`` and
``cyclegan_step``, ``fit``), with the settings of the papers by default. ``--batch`` is the
global batch: under ``torchrun`` each of the N processes takes ``batch / N`` rows and the
gradients are averaged (:mod:`gan_course.distributed`), so N processes take the steps one
process would take with the whole batch. Rank 0 logs and writes ``OUT/run.pt`` (the
resumable checkpoint, every ``--checkpoint-every`` steps: start the same command again after
an interruption and it continues), ``OUT/final.pt`` (the players' weights) and
``OUT/history.json``.

``--data synthetic`` trains on generated stand-in images of the requested size (uniform noise
in [-1, 1], seeded): for trying a configuration, a dry run or a test, never in place of data
that is missing (missing data is an error).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from . import checkpoint, data, distributed, train
from .models import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
)
from .runtime import MixedPrecision

GRAYSCALE = ("fashion-mnist", "mnist", "digits")


def _synthetic(n: int, channels: int, size: int, seed: int) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _images(args) -> torch.Tensor:
    if args.data == "synthetic":
        return _synthetic(args.limit or 512, args.channels, args.size, args.seed + 101)
    if args.data not in GRAYSCALE:
        raise SystemExit(f"--data for dcgan: one of {', '.join(GRAYSCALE)} or synthetic, got {args.data!r}")
    images = data.load_images(args.data, "train", size=args.size, limit=args.limit).images
    return images


def _domains(args) -> tuple[torch.Tensor, torch.Tensor]:
    if args.data == "synthetic":
        n = args.limit or 256
        return (_synthetic(n, args.channels, args.size, args.seed + 101),
                _synthetic(n, args.channels, args.size, args.seed + 202))
    if args.data in data.DOMAIN_TRANSFORMS:      # Fashion-MNIST against one derived domain (Chapter 8)
        pair = data.unpaired_domains("identity", args.data, size=args.size, limit=args.limit)
        return pair.a, pair.b
    folder = Path(args.data)
    if not folder.is_dir():
        folder = data.download_cyclegan_dataset(args.data)
    return data.load_image_folders(folder, "train", size=args.size, limit=args.limit)


def _optimizer(params, args) -> torch.optim.Optimizer:
    """Adam(lr, betas=(0.5, 0.999)) as in the DCGAN and CycleGAN papers; plain SGD on request."""
    params = list(params)
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr)
    return torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))


def build(args, ctx: distributed.Context):
    """Players, optimisers, schedulers, batches and the step function of the chosen game."""
    torch.manual_seed(args.seed)
    rng = torch.Generator().manual_seed(args.seed + 1)
    if args.game == "dcgan":
        images = _images(args)
        cfg = DCGANConfig(z_dim=args.z_dim, image_size=args.size, channels=images.shape[1], width=args.width)
        G, D = ctx.prepare(DCGANGenerator(cfg, norm=args.norm), DCGANDiscriminator(cfg, norm=args.norm))
        opt_g, opt_d = _optimizer(G.parameters(), args), _optimizer(D.parameters(), args)
        real = ctx.batches(images, args.batch, rng=rng)
        noise_rng = torch.Generator().manual_seed(args.seed + 2)
        noise = ctx.noise(lambda n: torch.randn(n, args.z_dim, generator=noise_rng))
        precision = MixedPrecision(ctx.device, enabled=args.amp)
        players = {"G": G, "D": D}
        state = {**players, "opt_g": opt_g, "opt_d": opt_d, "real": real, "rng": rng, "noise_rng": noise_rng}

        def step():
            return train.gan_step(G, D, opt_g, opt_d, real, noise, precision=precision)
        return players, state, [], step
    a, b = _domains(args)
    channels = a.shape[1]
    G_ab, G_ba = (ResnetGenerator(channels, width=args.width, n_blocks=args.n_blocks) for _ in range(2))
    D_a, D_b = (PatchDiscriminator(channels, width=args.width, n_layers=3, norm="instance") for _ in range(2))
    G_ab, G_ba, D_a, D_b = ctx.prepare(G_ab, G_ba, D_a, D_b)
    params_g = [*G_ab.parameters(), *G_ba.parameters()]
    params_d = [*D_a.parameters(), *D_b.parameters()]
    opt_g, opt_d = _optimizer(params_g, args), _optimizer(params_d, args)
    schedulers = [train.linear_decay(opt_g, args.steps), train.linear_decay(opt_d, args.steps)]
    rng_b = torch.Generator().manual_seed(args.seed + 3)
    batches_a, batches_b = ctx.batches(a, args.batch, rng=rng), ctx.batches(b, args.batch, rng=rng_b)
    pools = None if args.pool == 0 else (ImagePool(args.pool, seed=args.seed + ctx.rank),
                                         ImagePool(args.pool, seed=args.seed + 1000 + ctx.rank))
    precision = MixedPrecision(ctx.device, enabled=args.amp)
    players = {"G_ab": G_ab, "G_ba": G_ba, "D_a": D_a, "D_b": D_b}
    state = {**players, "opt_g": opt_g, "opt_d": opt_d, "batches_a": batches_a, "batches_b": batches_b,
             "rng": rng, "rng_b": rng_b}
    if pools is not None:
        # each process keeps its own pool, of its own generated images; rank 0's are saved
        state.update(pool_a=pools[0], pool_b=pools[1])

    def step():
        return train.cyclegan_step(G_ab, G_ba, D_a, D_b, opt_g, opt_d, batches_a, batches_b, pools=pools,
                                   lambda_cycle=args.lambda_cycle, precision=precision)
    return players, state, schedulers, step


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gan_course.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("game", choices=["dcgan", "cyclegan"])
    parser.add_argument("--data", required=True,
                        help="dcgan: fashion-mnist, mnist, digits or synthetic; cyclegan: a CycleGAN data set name "
                             "(horse2zebra, ...; downloaded and verified), a folder with trainA/trainB, a derived "
                             "domain of Fashion-MNIST (negative, flip, edges, rotate90) or synthetic")
    parser.add_argument("--out", required=True, type=Path, help="folder for run.pt, final.pt, history.json")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch", type=int, default=None, help="global batch (dcgan 128, cyclegan 1)")
    parser.add_argument("--size", type=int, default=None, help="image side (dcgan 32 or 64; cyclegan 256)")
    parser.add_argument("--width", type=int, default=None, help="base width (dcgan 64, cyclegan 64)")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"],
                        help="adam (the papers'; default) or plain sgd")
    parser.add_argument("--z-dim", type=int, default=100)
    parser.add_argument("--norm", default="batch", choices=["batch", "none"], help="dcgan normalisation")
    parser.add_argument("--n-blocks", type=int, default=9, help="cyclegan residual blocks (9 at 256 px)")
    parser.add_argument("--lambda-cycle", type=float, default=10.0)
    parser.add_argument("--pool", type=int, default=50, help="cyclegan image pool size (0: none)")
    parser.add_argument("--channels", type=int, default=3, help="channels of --data synthetic")
    parser.add_argument("--limit", type=int, default=None, help="use the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--log-every", type=int, default=100, help="record the losses every N steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    defaults = {"dcgan": {"batch": 128, "size": 32, "width": 64},
                "cyclegan": {"batch": 1, "size": 256, "width": 64}}[args.game]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.game == "dcgan" and args.data in GRAYSCALE:
        args.channels = 1
    return args


def main(argv=None) -> int:
    args = parse(argv)
    ctx = distributed.init()
    players, state, schedulers, step_fn = build(args, ctx)
    if ctx.is_main:
        args.out.mkdir(parents=True, exist_ok=True)
        print(f"{args.game} on {args.data}: {args.steps} steps, global batch {args.batch} over "
              f"{ctx.world_size} process(es) on {ctx.device}", flush=True)
    ctx.barrier()
    ck = ctx.checkpoint(args.out / "run.pt", every=args.checkpoint_every, **state)
    if ctx.is_main and ck.exists():
        print(f"continuing from step {checkpoint.load(ck.path)['step']} ({ck.path})", flush=True)
    start = time.perf_counter()
    with ctx.average_gradients():
        history = train.fit(step_fn, args.steps, schedulers=schedulers, log_every=args.log_every,
                            progress=ctx.is_main and not args.quiet, checkpoint=ck, desc=args.game)
    if ctx.is_main:
        checkpoint.save({name: m.state_dict() for name, m in players.items()}, args.out / "final.pt")
        (args.out / "history.json").write_text(json.dumps({"steps": history.steps, **history.values}))
        last = {k: round(v[-1], 4) for k, v in history.values.items() if v}
        print(f"done: {args.steps} steps in {time.perf_counter() - start:.1f} s this session; last values {last}",
              flush=True)
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
