"""A small resumable training run, used by tests/test_resume.py (not collected by pytest).

    python tests/resume_run.py CHECKPOINT OUT [--sleep SECONDS] [--no-checkpoint]

Trains a tiny DCGAN with batch norm, Adam, CycleGAN's linear-decay schedule, a shuffled
iterator of real batches, noise from its own generator, an image pool and snapshots, for
STEPS steps, saving every EVERY steps; prints "step k" as each step starts; writes the
final weights, optimiser states and history to OUT.
"""

import argparse
import sys
import time

import torch

import gan_course as gc
from gan_course import train
from gan_course.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator, ImagePool

STEPS, EVERY = 40, 6


def build(seed: int = 0):
    """Every object of the run, built the same way on each start (as a notebook cell does)."""
    torch.manual_seed(seed)
    cfg = DCGANConfig(z_dim=8, width=4)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    data = torch.rand(50, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    rng = torch.Generator().manual_seed(2)
    real = train.batches(data, 8, rng=rng)
    noise_rng = torch.Generator().manual_seed(3)
    pool = ImagePool(4, seed=4)
    schedulers = [train.linear_decay(opt_g, STEPS), train.linear_decay(opt_d, STEPS)]
    return G, D, opt_g, opt_d, real, rng, noise_rng, pool, schedulers


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--no-checkpoint", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    G, D, opt_g, opt_d, real, rng, noise_rng, pool, schedulers = build()
    count = {"step": 0}

    def noise(n):
        return torch.randn(n, 8, generator=noise_rng)

    def pooled_d(x):
        return D(x)

    def step():
        print(f"step {count['step']}", flush=True)
        count["step"] += 1
        if args.sleep:
            time.sleep(args.sleep)
        out = train.gan_step(G, D, opt_g, opt_d, real, noise)
        pool.query(torch.randn(2, 1, 32, 32))          # the pool's state moves with the run
        out["global_draw"] = torch.rand(())             # so does torch's global generator
        return out

    ck = None if args.no_checkpoint else train.Checkpoint(args.checkpoint, every=EVERY, G=G, D=D, opt_g=opt_g,
                                                          opt_d=opt_d, real=real, rng=rng, noise_rng=noise_rng,
                                                          pool=pool)
    history = train.fit(step, STEPS, snapshot_at=[0, 20, STEPS], snapshot_fn=lambda: gc.frozen_copy(G),
                        schedulers=schedulers, progress=False, checkpoint=ck)
    gc.checkpoint.save({"G": G.state_dict(), "D": D.state_dict(), "opt_g": opt_g.state_dict(),
                        "opt_d": opt_d.state_dict(), "steps": history.steps, "values": history.values,
                        "snapshots": {str(k): v.state_dict() for k, v in history.snapshots.items()},
                        "pool": pool.state_dict(), "lr": [s.get_last_lr()[0] for s in schedulers]}, args.out)
    print("done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
