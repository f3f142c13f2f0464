"""Shared helpers for the benchmark scripts: environment info, memory and FLOP/s probes, result files.

Every benchmark prints ONE JSON object on stdout and writes ``<out_dir>/<name>.json`` and ``<name>.md``
(device, library versions, date, the exact command, then the numbers).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets, matched on the CUDA device name.
GPU_PEAK_BF16 = {
    "H200": 989e12,
    "H100 SXM": 989e12,
    "H100 80GB HBM3": 989e12,
    "H100 PCIe": 756e12,
    "H100 NVL": 835e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
}
def library_versions() -> dict[str, str | None]:
    """Versions of the libraries the benchmarks use (None when one is missing): the same record a training
    run writes into ``versions.json``.

    >>> "torch" in library_versions()
    True
    """
    from umi_lab.training import library_versions as versions

    return versions()


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error.

    >>> resolve_device("cpu")
    'cpu'
    """
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda asked for, but torch sees no CUDA device")
    if requested not in ("cpu", "cuda"):
        raise SystemExit(f"error: unknown device {requested!r} (expected auto, cpu or cuda)")
    return requested


def device_info(device: str) -> dict[str, Any]:
    """What the numbers were measured on: CPU model/cores/load, or the GPU's name and memory."""
    import torch

    info: dict[str, Any] = {"device": device, "platform": platform.platform(),
                            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        info["load_average_1m"] = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu_name=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    cuda=torch.version.cuda)
    return info


def under_load(info: dict[str, Any]) -> bool:
    """True when the 1-minute load average says other work shared the CPU cores during the run."""
    load, cores = info.get("load_average_1m"), info.get("cpu_count") or 1
    return load is not None and load > 0.5 * cores


def gpu_peak_flops(name: str) -> float | None:
    """Dense bf16 peak FLOP/s of a known GPU, matched on its name; None when unknown.

    >>> gpu_peak_flops("NVIDIA H100 80GB HBM3")
    989000000000000.0
    """
    for key, value in GPU_PEAK_BF16.items():
        if key in name:
            return value
    return None


def cpu_peak_flops(n: int = 1024, repeats: int = 5, dtype: str = "float32") -> float:
    """Estimate the CPU's attainable FLOP/s with a square matmul (best of ``repeats``); an estimate, not a spec.

    >>> cpu_peak_flops(n=128, repeats=1) > 0
    True
    """
    import torch

    a = torch.randn(n, n, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, dtype=getattr(torch, dtype))
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def current_rss_bytes() -> int:
    """Resident set size of this process now (Linux ``/proc/self/statm``; falls back to the peak)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``resource.getrusage``; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class PeakMemory:
    """Peak memory over a ``with`` block: CUDA max allocated, or on CPU the peak RSS sampled every ``interval``.

    ``getrusage`` only knows the process-lifetime peak, so a sampling thread gives per-stage CPU peaks.

    >>> with PeakMemory("cpu") as m:
    ...     _ = bytearray(10_000_000)
    >>> m.peak_bytes > 0
    True
    """

    device: str = "cpu"
    interval: float = 0.005
    peak_bytes: int = 0
    start_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __enter__(self) -> PeakMemory:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start_bytes = torch.cuda.memory_allocated()
        else:
            self.start_bytes = self.peak_bytes = current_rss_bytes()
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            self.peak_bytes = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())


def sync(device: str) -> None:
    """Wait for queued GPU work so wall-clock timings are honest (no-op on CPU)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def gib(n_bytes: float) -> float:
    """Bytes → GiB, rounded to 3 decimals. ``gib(2**30)`` → 1.0."""
    return round(n_bytes / 2**30, 3)


def command_line() -> str:
    """The exact command that produced a result, as a shell would take it back."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in ("OMP_NUM_THREADS", "UMI_LAB_DATA") if k in os.environ]
    return " ".join([*env, *(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])])


def header(name: str, device: str) -> dict[str, Any]:
    """The common head of every result: benchmark name, UTC date, command, device and library versions."""
    info = device_info(device)
    return {"benchmark": name, "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command_line(), "device": info, "versions": library_versions(),
            "cpu_under_load": device == "cpu" and under_load(info)}


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table from a list of dicts (columns default to the first row's keys).

    >>> print(markdown_table([{"a": 1, "b": 2.5}]))
    | a | b |
    |---|---|
    | 1 | 2.5 |
    """
    if not rows:
        return "(no rows)\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 1e4 else str(v)
    return str(v)


def model_folder(name: str) -> str:
    """Folder of the embedded model ``tiny``/``tiny-test`` for a benchmark, or ``name`` unchanged (a path).

    The backbone's cache key covers the pretraining corpus, so every change to the ToolWorld data means a
    rebuild (many minutes on a busy CPU). Speed does not depend on the weights, so the benchmarks reuse the
    newest complete build of the same preset (same architecture and tokenizer size) when one exists, and
    build only when none does. Example: ``model_folder("tiny")``.
    """
    from umi_lab.backbone import TINY_NAMES, _cache_root, resolve_model

    if name not in TINY_NAMES:
        return name
    builds = sorted(_cache_root().glob(f"tiny-{TINY_NAMES[name]}-*/build_report.json"),
                    key=lambda p: p.stat().st_mtime)
    return str(builds[-1].parent) if builds else resolve_model(name)


def run_main(main) -> int:
    """Run a benchmark's ``main()``; bad input (``DataError``) prints ``error: <file>: record N: field F: ...``
    and exits 2, as the project's CLI does. Example: ``raise SystemExit(run_main(main))``."""
    from umi_lab.errors import DataError

    try:
        return int(main() or 0)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def quiet():
    """Send library chatter (trainer logs, progress bars) to stderr so stdout carries only the result JSON.

    >>> with quiet():
    ...     print("to stderr")
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    try:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
    except ImportError:
        pass
    with contextlib.redirect_stdout(sys.stderr):
        yield


def write_results(name: str, result: dict[str, Any], body_md: str, out_dir: str | os.PathLike | None = None) -> Path:
    """Write ``<out_dir>/<name>.json`` and ``<name>.md`` and print the JSON object on stdout.

    ``body_md`` is the benchmark's own Markdown (tables, targets); the header lines are added here.
    Example: ``write_results("bench_splitting", {"speedup": 7.1}, "| ... |")``.
    """
    from umi_lab.io import atomic_write_text, write_json

    out = Path(out_dir) if out_dir else RESULTS_DIR
    write_json(out / f"{name}.json", result)
    dev = result["device"]
    where = dev.get("gpu_name") or f"CPU {dev.get('cpu_model', '?')} ({dev.get('cpu_count')} cores)"
    load = (f" — **taken under load** (1-min load average {dev.get('load_average_1m')} on {dev.get('cpu_count')} "
            "cores shared with other jobs; re-run on a quiet machine for clean numbers)"
            if result.get("cpu_under_load") else "")
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v)
    md = (f"# {name}\n\n- date (UTC): {result['date_utc']}\n- device: {where}{load}\n- versions: {versions}\n"
          f"- command: `{result['command']}`\n\n{body_md.rstrip()}\n")
    atomic_write_text(out / f"{name}.md", md)
    print(json.dumps(result))
    return out / f"{name}.json"
