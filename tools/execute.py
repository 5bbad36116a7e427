"""Re-execute chapter notebooks in place, so that their stored outputs are the website's.

Usage (normally through the Makefile: ``make execute`` or ``make execute NB=01``)::

    GAN_COURSE_PROFILE=cpu .venv/bin/python tools/execute.py notebooks/01_minimax.ipynb ...

Each notebook runs top to bottom in a fresh kernel of this Python (the project's virtual
environment), with ``notebooks/`` as working directory. The run stops at the first cell that
raises, and the notebook on disk is left untouched in that case. Widget state is not kept
(``metadata.widgets`` is removed), so the website never tries to load the widget manager
from a CDN; the jshtml animations are the static form of the explorers.

Before saving, each cell's outputs are tidied (``tidy_outputs``): the views of widgets
whose state is not kept (tqdm's progress bars in a kernel) are dropped, since they show
nothing anywhere, and consecutive prints to the same stream are merged into one output,
so that a table printed line by line is one block on the website, not six.

``--cell-times S`` prints, as the run goes, every code cell that took at least S seconds
(its index, wall time and first line), so a long run can be profiled while it runs and a
killed one still tells where the time went; ``--cell-times 0`` lists every cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def kernel_manager() -> KernelManager:
    """A kernel manager whose kernel runs this interpreter, whatever kernelspecs are installed."""
    km = KernelManager(kernel_name="python3")
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ipykernel)",
        language="python",
    )
    return km


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy_outputs(nb) -> int:
    """Drop stateless widget views and merge consecutive stream outputs; return outputs removed."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tidy = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if out.get("output_type") in ("display_data", "execute_result") and WIDGET_VIEW in data \
                    and set(data) <= {WIDGET_VIEW, "text/plain"}:
                removed += 1
                continue
            previous = tidy[-1] if tidy else None
            if (out.get("output_type") == "stream" and previous is not None
                    and previous.get("output_type") == "stream" and previous.get("name") == out.get("name")):
                previous["text"] = previous["text"] + out["text"]
                removed += 1
                continue
            tidy.append(out)
        cell.outputs = tidy
    return removed


def cell_timer(threshold: float):
    """nbclient hooks (on_cell_start, on_cell_executed) that print each code cell taking at
    least ``threshold`` seconds when it ends: index (0-based, as nbformat counts), seconds,
    seconds since the hooks were made (just before the run), and the cell's first line."""
    t0, started = time.perf_counter(), {}

    def on_start(cell, cell_index, **_):
        started[cell_index] = time.perf_counter()

    def on_executed(cell, cell_index, **_):
        now = time.perf_counter()
        took = now - started.get(cell_index, now)
        if took >= threshold:
            line = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:70]
            print(f"    cell {cell_index:3d} {took:8.1f} s  (at {now - t0:7.1f} s)  {line}", flush=True)

    return on_start, on_executed


def execute(path: Path, timeout: int, out: Path | None = None, cell_times: float | None = None) -> float:
    """Execute one notebook in place (or write the executed copy to ``out``); return the wall
    time in seconds. The working directory is the notebook's own folder either way. With
    ``cell_times`` set, cells that take at least that many seconds are reported as they end."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    km = kernel_manager()
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name="python3",
        # True only while executing: with False, nbclient 0.11 raises KeyError as soon as an
        # ipywidgets.Output widget captures output. The state is dropped below before saving.
        store_widget_state=True,
        record_timing=False,  # no per-cell timestamps: keeps diffs of stored notebooks small
        resources={"metadata": {"path": str(path.parent)}},
    )
    if cell_times is not None:
        client.on_cell_start, client.on_cell_executed = cell_timer(cell_times)
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        if km.has_kernel:  # a client given a kernel manager leaves its kernel running
            km.shutdown_kernel()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    tidy_outputs(nb)
    nbformat.validate(nb)
    target = path if out is None else out
    tmp = target.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, target)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    parser.add_argument("--out", type=Path, help="write the executed notebooks into this folder instead of "
                                                 "in place (e.g. dry runs of another profile)")
    parser.add_argument("--cell-times", type=float, metavar="S",
                        help="print each code cell that takes at least S seconds as it ends")
    args = parser.parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)

    profile = os.environ.get("GAN_COURSE_PROFILE", "(unset: auto)")
    total = 0.0
    for path in args.notebooks:
        print(f"executing {path} (GAN_COURSE_PROFILE={profile}) ...", flush=True)
        try:
            elapsed = execute(path.resolve(), args.timeout,
                              None if args.out is None else args.out.resolve() / path.name,
                              args.cell_times)
        except CellExecutionError as err:
            print(f"FAILED {path}; the stored notebook was left as it was.\n{err}", file=sys.stderr)
            return 1
        total += elapsed
        print(f"  {path}: {elapsed:.1f} s", flush=True)
    if len(args.notebooks) > 1:
        print(f"total: {total:.1f} s for {len(args.notebooks)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
