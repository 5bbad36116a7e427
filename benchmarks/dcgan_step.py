"""Benchmark: the package's DCGAN training step against a plain hand-written PyTorch loop.

Both train identical networks (same initial weights), with the same batch size, optimiser
and data, alternating in one process so that both see the same machine state. Reports
images per second for each and the ratio package / plain (1.0 = no overhead).

    .venv/bin/python benchmarks/dcgan_step.py                   # CPU, float32
    .venv/bin/python benchmarks/dcgan_step.py --device cuda --amp --channels-last --compile

Run by ``make benchmark``; not part of the tests.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F

import gan_course as gc
from gan_course.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator


def plain_loop(G, D, opt_g, opt_d, real_batches, z_dim, dev, steps, amp, scaler):
    """The loop as one writes it by hand (pytorch/examples' DCGAN style, with logits)."""
    for _ in range(steps):
        real = next(real_batches)
        b = real.shape[0]
        # update D
        opt_d.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            fake = G(torch.randn(b, z_dim, device=dev))
            loss_d = (F.binary_cross_entropy_with_logits(D(real).float(), torch.ones(b, device=dev))
                      + F.binary_cross_entropy_with_logits(D(fake.detach()).float(), torch.zeros(b, device=dev)))
        scaler.scale(loss_d).backward()
        scaler.step(opt_d)
        scaler.update()
        # update G (non-saturating loss)
        opt_g.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss_g = F.binary_cross_entropy_with_logits(D(fake).float(), torch.ones(b, device=dev))
        scaler.scale(loss_g).backward()
        scaler.step(opt_g)
        scaler.update()
    return loss_d.item() + loss_g.item()


def package_loop(G, D, opt_g, opt_d, real_batches, z_dim, dev, steps, precision, check_every):
    step = lambda: gc.train.gan_step(G, D, opt_g, opt_d, real_batches,  # noqa: E731
                                     lambda n: torch.randn(n, z_dim, device=dev), precision=precision)
    history = gc.train.fit(step, steps, log_every=steps, check_every=check_every, progress=False)
    return history.last("loss_d") + history.last("loss_g")


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--z-dim", type=int, default=100)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA only)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile both networks")
    parser.add_argument("--check-every", type=int, default=1,
                        help="fit's check of losses and gradients for NaN/inf before the optimiser steps: every "
                             "N steps (1, the default, syncs with the device at every optimiser step)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    dev = torch.device(args.device)
    torch.manual_seed(0)
    cfg = DCGANConfig(z_dim=args.z_dim, image_size=args.size, channels=1, width=args.width)
    nets = {"plain": (DCGANGenerator(cfg), DCGANDiscriminator(cfg))}
    nets["package"] = tuple(copy.deepcopy(m) for m in nets["plain"])
    memory = torch.channels_last if args.channels_last else torch.contiguous_format
    data = torch.rand(2048, 1, args.size, args.size, device=dev) * 2 - 1
    opts, batches = {}, {}
    for name, (G, D) in nets.items():
        G.to(dev, memory_format=memory)
        D.to(dev, memory_format=memory)
        if args.compile:
            G, D = torch.compile(G), torch.compile(D)
            nets[name] = (G, D)
        opts[name] = tuple(torch.optim.Adam(m.parameters(), 2e-4, betas=(0.5, 0.999)) for m in (G, D))
        batches[name] = gc.train.batches(data.contiguous(memory_format=memory), args.batch,
                                         rng=torch.Generator().manual_seed(1), device=dev)
    amp = args.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler(dev.type, enabled=False)  # bfloat16 needs no loss scaling
    precision = gc.MixedPrecision(dev, enabled=amp)

    def run(name, steps):
        G, D = nets[name]
        opt_g, opt_d = opts[name]
        sync(dev)
        start = time.perf_counter()
        if name == "plain":
            plain_loop(G, D, opt_g, opt_d, batches[name], args.z_dim, dev, steps, amp, scaler)
        else:
            package_loop(G, D, opt_g, opt_d, batches[name], args.z_dim, dev, steps, precision, args.check_every)
        sync(dev)
        return args.batch * steps / (time.perf_counter() - start)

    for name in nets:                      # warm-up (and compilation)
        run(name, 3)
    rates = {"plain": [], "package": []}
    for r in range(args.rounds):
        order = ("plain", "package") if r % 2 == 0 else ("package", "plain")
        for name in order:
            rates[name].append(run(name, args.steps))
    plain, package = statistics.median(rates["plain"]), statistics.median(rates["package"])
    result = {
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "torch": torch.__version__, "python": platform.python_version(),
        "batch": args.batch, "width": args.width, "size": args.size, "amp": amp,
        "channels_last": args.channels_last, "compile": args.compile, "check_every": args.check_every,
        "plain_images_per_s": round(plain, 1), "package_images_per_s": round(package, 1),
        "ratio": round(package / plain, 3),
    }
    print(f"{result['device']}, batch {args.batch}, width {args.width}, {args.size}px, amp={amp}, "
          f"channels_last={args.channels_last}, compile={args.compile}, check_every={args.check_every}")
    print(f"  plain loop : {plain:8.1f} images/s  (rounds: {', '.join(f'{x:.0f}' for x in rates['plain'])})")
    print(f"  gan_course : {package:8.1f} images/s  (rounds: {', '.join(f'{x:.0f}' for x in rates['package'])})")
    print(f"  ratio package/plain = {package / plain:.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
