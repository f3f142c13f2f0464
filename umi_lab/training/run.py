"""``train``: a method's plan end to end into a content-addressed, locked, always-resumable run folder."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from umi_lab.errors import DataError
from umi_lab.methods import get_method
from umi_lab.rundir import RunDir, data_fingerprint, model_fingerprint, run_identity
from umi_lab.training.data import build_dataset, load_role_data, subsample_dialogues
from umi_lab.training.stages import (
    LossRecorder,
    RunHistory,
    build_role_model,
    known_deprecations_silenced,
    run_versions,
    stage_config,
)
from umi_lab.training_config import GLPFTConfig


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the run is marked ``interrupted``; rerunning the same command resumes it."""


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def config_identity(config: GLPFTConfig, model_path: str | None = None) -> dict[str, Any]:
    """The identity of the run ``config`` describes (see ``umi_lab.rundir.run_identity``); ``model_path`` is the
    resolved model folder (default: ``config.model`` itself). Example: ``config_identity(cfg)["method"]``."""
    return run_identity(config.to_dict(), model=model_fingerprint(model_path or config.model),
                        data=data_fingerprint(config.data))


@contextmanager
def _quiet(run: RunDir, verbose: bool):
    """Route transformers/TRL/datasets logs and known deprecation warnings into ``RUN/train.log``."""
    if verbose or not _is_main():
        yield
        return
    from transformers.utils import logging as hf_logging

    handler = logging.FileHandler(run.path / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("transformers", "trl", "peft", "datasets", "accelerate")]
    saved = [(lg, lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    import datasets

    old_verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_info()
    hf_logging.disable_progress_bar()  # "Loading weights" bars; datasets' map/filter bars below
    datasets_bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    for lg in loggers:
        lg.handlers = [handler]
        lg.propagate = False
        lg.setLevel(logging.INFO)
    with known_deprecations_silenced():
        logging.captureWarnings(True)
        try:
            yield
        finally:
            logging.captureWarnings(False)
            for lg, handlers, propagate, level in saved:
                lg.handlers, lg.propagate = handlers, propagate
                lg.setLevel(level)
            hf_logging.set_verbosity(old_verbosity)
            hf_logging.enable_progress_bar()
            if datasets_bars:
                datasets.enable_progress_bars()
            handler.close()


def _load_data(config: GLPFTConfig, datasets_needed: Sequence[str]):
    """The method's role data, subsampled at the dialogue level from the dialogues of every base role dataset
    present (so that all methods of one data folder and seed draw the same dialogues)."""
    folder = Path(config.data)
    universe = [r for r in ("backbone", "planner", "caller", "summarizer")
                if (folder / f"train_{r}.json").is_file() or (folder / "train.json").is_file()]
    wanted = list(dict.fromkeys([*universe, *datasets_needed]))
    data, fingerprints = load_role_data(config.data, wanted, family=config.family, compat=config.compat)
    kept, ids = subsample_dialogues(data, config.effective()["max_dialogues"], config.sample_seed)
    used = {role: kept[role] for role in datasets_needed}
    return used, fingerprints, ids


def train(config: GLPFTConfig, *, callbacks: Sequence[TrainerCallback] = (), progress: bool = True,
          verbose: bool = False, say: Callable[[str], None] = print) -> Path:
    """Run a training method end to end and return the run directory.

    The folder is ``config.out`` when it is new or holds this same configuration (then a finished run is
    reused and an interrupted one resumes from its last complete checkpoint); a different configuration
    goes to ``<out>-<hash8>`` (said). While training, the folder is locked against a second writer.

    >>> train(GLPFTConfig(method="single_llm", model="tiny-test", data=folder, out="runs/x", smoke=True))  # doctest: +SKIP
    """
    from umi_lab.backbone import load_tokenizer, resolve_model

    if not config.out:
        raise DataError("no output directory given", field="out")
    if not config.data:
        raise DataError("no data folder given", field="data")
    model_path = resolve_model(config.model)
    identity = config_identity(config, model_path)
    run = RunDir.for_config(config.out, identity, say=say if _is_main() else (lambda s: None))
    if run.status() == "done":
        say(f"run: {run.path} already trained with this configuration (reused)")
        return run.path
    with (run.lock() if _is_main() else _nolock()):
        return _train_locked(config, run, identity, model_path, callbacks, progress, verbose, say,
                             load_tokenizer(model_path))


@contextmanager
def _nolock():
    yield


def _train_locked(config, run: RunDir, identity, model_path, callbacks, progress, verbose, say, tokenizer) -> Path:
    method = get_method(config.method)
    resuming = run.status() in ("running", "failed", "interrupted")
    if resuming:
        say(f"run: resuming {run.path} (status was {run.status()})")
    data, fingerprints, dialogue_ids = _load_data(config, method.datasets)
    max_length = _fit_context(model_path, config.effective()["max_length"])
    datasets, stats = {}, {}
    for role in method.datasets:
        datasets[role], st = build_dataset(data[role], tokenizer, style=config.prompt_style, max_length=max_length,
                                           min_prompt_tokens=config.min_prompt_tokens, file=f"{config.data}:{role}")
        stats[role] = st.to_dict()
    if _is_main():
        run.write_meta(config={**config.to_dict(), "out": str(run.path), "model_name_or_path": model_path},
                       identity=identity, fingerprints=fingerprints, versions=run_versions(),
                       data_stats={"max_length": max_length, "dialogues": len(dialogue_ids),
                                   "dialogue_ids": dialogue_ids, **stats})
        run.set_status("running")
    try:
        with _quiet(run, verbose), known_deprecations_silenced():
            _run_plan(config, run, method, model_path, tokenizer, datasets, max_length, callbacks, progress, say)
    except KeyboardInterrupt:
        if _is_main():
            run.set_status("interrupted", "stopped by the user (Ctrl-C)")
        raise TrainingInterrupted(f"training interrupted; run the same command again to resume {run.path}") from None
    except BaseException as e:
        if _is_main():
            run.set_status("failed", f"{type(e).__name__}: {e}"[:2000])
        raise
    if _is_main():
        shutil.rmtree(run.path / "work", ignore_errors=True)
        run.set_status("done")
    return run.path


def _run_plan(config, run: RunDir, method, model_path, tokenizer, datasets, max_length, callbacks, progress, say):
    from trl import SFTTrainer

    user_callbacks = list(callbacks)
    lora = config.lora.enabled
    for k, job in enumerate(method.plan, 1):
        final = run.role_output(job.role, lora=lora)
        if final.is_dir():
            continue
        base, init = model_path, None
        if job.init == "merge" and lora:
            base = str(_merged_base(run, model_path, job.source))
        elif job.init != "base":  # copy (and, for full fine-tuning, merge: both continue the full model)
            init = str(run.role_output(job.source, lora=lora))
        checkpoint = run.last_complete_checkpoint(job.role, say=say) if _is_main() else None
        _barrier()
        if not _is_main():
            checkpoint = run.last_complete_checkpoint(job.role, say=lambda s: None)
        if _is_main():
            dropped = run.trim_history(job.role, int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0)
            if dropped:
                say(f"  loss history: dropped {dropped} unreadable line(s)")
        if progress and _is_main():
            say(f"[{k}/{len(method.plan)}] stage {job.stage}: {job.role} "
                f"({len(datasets[job.dataset])} samples{', from ' + Path(checkpoint).name if checkpoint else ''})")
        model = build_role_model(config, base, init)
        recorder = RunHistory(run, stage=job.stage, role=job.role) if _is_main() else LossRecorder()
        for cb in user_callbacks:
            if isinstance(cb, LossRecorder):
                cb.stage, cb.role = job.stage, job.role
        args = stage_config(config, job.role, job.stage, run.work_dir(job.role), progress=progress,
                            max_length=max_length)
        with _tracking_dir(run.path / "tracking" / job.role, config.report_to):  # the tracker reads it at init
            trainer = SFTTrainer(model=model, args=args, train_dataset=datasets[job.dataset],
                                 processing_class=tokenizer, callbacks=[recorder, *user_callbacks])
        _one_quiet_bar(trainer, progress and _is_main())
        trainer.train(resume_from_checkpoint=checkpoint)
        _save_role(run, trainer, job.role, lora)
        del trainer, model


def _save_role(run: RunDir, trainer, role: str, lora: bool) -> None:
    """Save the trained role atomically. Every rank calls ``trainer.save_model`` (sharded FSDP2 / ZeRO-3
    weights are gathered collectively; only rank 0 writes, adapter or full model plus tokenizer) into one
    staging folder; rank 0 then renames it into place and removes the role's checkpoints."""
    staging = run.role_staging(role, lora=lora)
    if _is_main():
        shutil.rmtree(staging, ignore_errors=True)  # left by a run killed while saving
    _barrier()
    trainer.save_model(str(staging))
    if _is_main():
        (staging / "training_args.bin").unlink(missing_ok=True)  # the run's config.json says how it trained
        run.publish_role(role, lora=lora)
        shutil.rmtree(run.work_dir(role), ignore_errors=True)
    _barrier()


@contextmanager
def _tracking_dir(folder: Path, report_to: str):
    """Point TensorBoard/trackio at ``RUN/tracking/<role>`` (not the checkpoint folder, removed after a role)."""
    if report_to == "none":
        yield
        return
    keys = {"TENSORBOARD_LOGGING_DIR": str(folder), "TRACKIO_DIR": str(folder.parent)}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _one_quiet_bar(trainer, show: bool) -> None:
    """One tqdm.auto bar per stage and no per-step log dicts on the console (they are in the loss history)."""
    from transformers import PrinterCallback, ProgressCallback

    class QuietBar(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if show:
        trainer.add_callback(QuietBar())


def _fit_context(model_path: str, max_length: int) -> int:
    """``max_length`` capped at the model's context window (recorded in ``data_stats.json``)."""
    from transformers import AutoConfig

    context = getattr(AutoConfig.from_pretrained(model_path), "max_position_embeddings", None)
    return min(max_length, context) if context else max_length


def _merged_base(run: RunDir, model_path: str, source: str = "backbone") -> Path:
    """``RUN_DIR/base``: the base with the stage-1 adapter merged in (built once, by the main process)."""
    from peft import PeftModel

    from umi_lab.backbone import load_backbone
    from umi_lab.rundir import atomic_save

    out = run.path / "base"
    if not out.is_dir() and _is_main():
        base, tokenizer = load_backbone(model_path, device="cpu", dtype="float32")
        merged = PeftModel.from_pretrained(base, str(run.role_output(source))).merge_and_unload()

        def save(tmp):
            merged.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        atomic_save(save, out)
    _barrier()
    return out


def run_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What serving needs to load a run (``RunDir(run_dir).info()``).

    >>> run_info("runs/alpha")["adapters"]["planner"]  # doctest: +SKIP
    'runs/alpha/adapters/planner'
    """
    return RunDir(run_dir).info()

