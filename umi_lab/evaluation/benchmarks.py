"""The benchmark registry: one entry per benchmark, nothing else in the package knows benchmark names.

A ``Benchmark`` says where its items come from and how they are scored:

- ``static(ctx)``: static samples (one per planner decision, ``static_eval.static_samples`` shape),
  scored by ``score_static`` (default: the official-compatible ``static_eval.evaluate_predictions``);
- ``tasks(ctx, limit)`` + ``environment(ctx)``: real-time tasks (``Dialogue`` with the user turn) and a
  function ``task -> ToolRegistry``; ``score(trajs, tasks, ctx)`` adds benchmark metrics to
  ``agent.trajectory_stats`` and writes per-task verdicts into each trajectory's ``meta``.

``BenchmarkContext`` carries what an entry may need: the run's prompt family, the evaluation settings, the
run config and, resolved on first use, the ToolWorld data the run trained on (``ctx.toolworld()``, with
its manifest's world seed). Adding a benchmark is one ``register_benchmark(Benchmark(...))`` call.

Example::

    register_benchmark(Benchmark("toy", "two arithmetic tasks", tasks=my_tasks,
                                 environment=lambda ctx: lambda task: CalculatorRegistry(), score=my_score))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.evaluation.settings import EvalSettings
from umi_lab.io import data_root, read_jsonl
from umi_lab.protocol.dialogue import Dialogue, Turn, load_dialogues


@dataclass
class BenchmarkContext:
    """What a benchmark entry may read. ``toolworld()`` resolves (once) the ToolWorld data: the settings'
    explicit folder, else the run's, else ``$UMI_LAB_TOOLWORLD``, else the default data set."""

    family: str = "toolbench"
    settings: EvalSettings = field(default_factory=EvalSettings)
    run_config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def toolworld(self):
        """The verified ``ToolWorldData`` (recorded in ``provenance["toolworld"]``)."""
        from umi_lab.toolworld.manifest import resolve_toolworld

        if "_toolworld" not in self.__dict__:
            data = resolve_toolworld(self.settings.toolworld, self.run_config)
            seed = self.settings.world_seed
            if seed is not None and seed != data.world_seed:
                raise DataError(f"world_seed {seed} set, but the data was generated with seed {data.world_seed}",
                                file=str(data.path / "manifest.json"), field="world_seed")
            self.__dict__["_toolworld"] = data
            self.provenance["toolworld"] = data.record()
        return self.__dict__["_toolworld"]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: a name, a description, and the callables of the protocols it supports."""

    name: str
    description: str
    static: Callable[[BenchmarkContext], list[dict[str, Any]]] | None = None
    tasks: Callable[[BenchmarkContext, int | None], list[Dialogue]] | None = None
    environment: Callable[[BenchmarkContext], Callable[[Dialogue], Any]] | None = None
    score: Callable[[list, list[Dialogue], BenchmarkContext], dict[str, Any]] | None = None
    score_static: Callable[..., dict[str, Any]] | None = None

    @property
    def modes(self) -> tuple[str, ...]:
        """``("static", "realtime")`` or the subset it supports, static first."""
        return tuple(m for m, ok in (("static", self.static), ("realtime", self.tasks and self.environment)) if ok)


REGISTRY: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark, *, replace: bool = False) -> Benchmark:
    """Add a benchmark (``replace=True`` to overwrite one). Example: ``register_benchmark(Benchmark(...))``."""
    if not benchmark.modes:
        raise ValueError(f"benchmark {benchmark.name!r} defines neither static samples nor tasks + environment")
    if benchmark.name in REGISTRY and not replace:
        raise ValueError(f"benchmark {benchmark.name!r} is already registered")
    REGISTRY[benchmark.name] = benchmark
    return benchmark


def unregister_benchmark(name: str) -> None:
    """Remove a benchmark (tests register toy ones). Example: ``unregister_benchmark("toy")``."""
    REGISTRY.pop(name, None)


def get_benchmark(name: str, mode: str | None = None) -> tuple[Benchmark, str]:
    """The entry and the mode to run (default: its first); errors name the field. Example:
    ``get_benchmark("gsm8k")`` → ``(Benchmark(...), "realtime")``."""
    if name not in REGISTRY:
        raise DataError(f"unknown benchmark {name!r}; expected one of {', '.join(REGISTRY)}", field="benchmark")
    b = REGISTRY[name]
    mode = mode or b.modes[0]
    if mode not in b.modes:
        raise DataError(f"{name} has no {mode} protocol (modes: {', '.join(b.modes)})", field="mode")
    return b, mode


class _Modes(Mapping):
    """``BENCHMARKS``: a live read-only view name → modes of the registry."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return REGISTRY[name].modes

    def __iter__(self) -> Iterator[str]:
        return iter(list(REGISTRY))

    def __len__(self) -> int:
        return len(REGISTRY)


BENCHMARKS: Mapping[str, tuple[str, ...]] = _Modes()


# ------------------------------------------------------------------------------------------------ data
def shared_file(rel: str) -> Path:
    """A file of the shared public data (``$UMI_LAB_DATA``); a clear error when absent."""
    root = data_root()
    if root is None:
        raise DataError("shared data folder not found; set UMI_LAB_DATA", field="benchmark")
    path = root / rel
    if not path.exists():
        raise DataError("benchmark data not found", file=str(path))
    return path


def _toolbench_ood(ctx: BenchmarkContext) -> list[dict[str, Any]]:
    from umi_lab.static_eval import static_samples

    path = shared_file("alpha_umi_toolbench/test/out_of_domain.json")
    return static_samples(load_dialogues(path), "toolbench", file=str(path))


def _toolalpaca(name: str) -> Callable[[BenchmarkContext], list[dict[str, Any]]]:
    def samples(ctx: BenchmarkContext) -> list[dict[str, Any]]:
        from umi_lab.sources.toolalpaca import load_toolalpaca, toolalpaca_samples

        cases, _report = load_toolalpaca(shared_file(f"toolalpaca/{name}"))
        return toolalpaca_samples(cases)
    return samples


def _toolworld_static(split: str):
    def samples(ctx: BenchmarkContext) -> list[dict[str, Any]]:
        from umi_lab.static_eval import static_samples

        path = ctx.toolworld().file(split)
        return static_samples(load_dialogues(path), ctx.family, file=str(path))
    return samples


def _toolworld_tasks(split: str):
    def tasks(ctx: BenchmarkContext, limit: int | None) -> list[Dialogue]:
        dialogues = load_dialogues(ctx.toolworld().file(split))[:limit]
        return [Dialogue(d.tools, d.instruction, [Turn("user", d.conversations[0].value)], d.extra) for d in dialogues]
    return tasks


def _toolworld_env(ctx: BenchmarkContext):
    from umi_lab.toolworld import ToolWorld

    return ToolWorld(ctx.toolworld().world_seed).env_for


def _gsm8k_tasks(ctx: BenchmarkContext, limit: int | None) -> list[Dialogue]:
    from umi_lab.tools.calculator import CalculatorRegistry

    path = shared_file("gsm8k/test.jsonl")
    tools = CalculatorRegistry().tool_docs()
    tasks = []
    for i, rec in enumerate(read_jsonl(path)[:limit]):
        if not isinstance(rec, dict) or not isinstance(rec.get("question"), str) or "####" not in str(
                rec.get("answer", "")):
            raise DataError("expected question and an answer with '####'", file=str(path), record=i, field="answer")
        answer = rec["answer"].rsplit("####", 1)[1].strip().replace(",", "")
        tasks.append(Dialogue(tools, rec["question"], [Turn("user", rec["question"])],
                              {"id": f"gsm8k-test-{i:05d}", "answer": answer, "source": "gsm8k"}))
    return tasks


def _math_tasks(ctx: BenchmarkContext, limit: int | None) -> list[Dialogue]:
    from umi_lab.sources.maths import math_tasks

    path = shared_file("math/test.jsonl")
    records = read_jsonl(path)
    tasks, _report = math_tasks(records[:limit] if limit else records, file=str(path))
    return tasks


def _calculator_env(ctx: BenchmarkContext):
    from umi_lab.tools.calculator import CalculatorRegistry

    return lambda task: CalculatorRegistry()


def _sandbox_env(ctx: BenchmarkContext):
    from umi_lab.tools.sandbox import PythonRegistry

    return lambda task: PythonRegistry()


def _cache(ctx: BenchmarkContext):
    from umi_lab.tools.cache_replay import CacheReplay

    return CacheReplay(shared_file("toolbench_example"))


def _builtin() -> None:
    from umi_lab.evaluation.realtime import score_answers, score_cache_hits, score_toolworld

    for b in (
        Benchmark("toolbench-ood", "α-UMi ToolBench out-of-domain static test (shared data)", static=_toolbench_ood),
        Benchmark("toolalpaca-real", "ToolAlpaca real-API evaluation cases, static", static=_toolalpaca("eval_real.json")),
        Benchmark("toolalpaca-sim", "ToolAlpaca simulated-API evaluation cases, static",
                  static=_toolalpaca("eval_simulated.json")),
        Benchmark("toolworld-id", "ToolWorld in-domain test of the run's ToolWorld data",
                  static=_toolworld_static("test_in_domain"), tasks=_toolworld_tasks("test_in_domain"),
                  environment=_toolworld_env, score=score_toolworld),
        Benchmark("toolworld-ood", "ToolWorld out-of-domain test (held-out tools and category)",
                  static=_toolworld_static("test_out_of_domain"), tasks=_toolworld_tasks("test_out_of_domain"),
                  environment=_toolworld_env, score=score_toolworld),
        Benchmark("gsm8k", "GSM8K test with the calculator; answers graded", tasks=_gsm8k_tasks,
                  environment=_calculator_env, score=score_answers),
        Benchmark("math", "MATH test with the Python sandbox; answers graded", tasks=_math_tasks,
                  environment=_sandbox_env, score=score_answers),
        Benchmark("toolbench-cache", "ToolBench example tasks replayed from the response cache",
                  tasks=lambda ctx, limit: _cache(ctx).tasks()[:limit], environment=lambda ctx: _cache(ctx).env_for,
                  score=score_cache_hits),
    ):
        register_benchmark(b, replace=True)


# --------------------------------------------------------------------------------------- compatibility
def static_benchmark_samples(benchmark: str, family: str = "toolbench", *, ctx: BenchmarkContext | None = None
                             ) -> list[dict[str, Any]]:
    """The static samples of a benchmark (``family`` is the run's prompt family, used for ToolWorld).

    Example: ``len(static_benchmark_samples("toolbench-ood"))`` → 1547.
    """
    b, _ = get_benchmark(benchmark, "static")
    return b.static(ctx or BenchmarkContext(family))


def realtime_tasks(benchmark: str, limit: int | None = None, *, ctx: BenchmarkContext | None = None) -> list[Dialogue]:
    """Tasks (user turn only, answer/task in ``extra``) of a real-time benchmark.

    Example: ``realtime_tasks("gsm8k", limit=5)[0].extra["answer"]``.
    """
    b, _ = get_benchmark(benchmark, "realtime")
    return b.tasks(ctx or BenchmarkContext(), limit)


def env_factory(benchmark: str, settings: EvalSettings | None = None, *, ctx: BenchmarkContext | None = None):
    """A function ``task -> ToolRegistry`` for a real-time benchmark. Example: ``env_factory("gsm8k")(task)``."""
    b, _ = get_benchmark(benchmark, "realtime")
    return b.environment(ctx or BenchmarkContext(settings=settings or EvalSettings()))


_builtin()
