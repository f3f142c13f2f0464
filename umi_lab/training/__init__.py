"""GLPFT (global-to-local progressive fine-tuning) and its baselines, with TRL ``SFTTrainer`` and PEFT.

The methods and their training plans live in the registry (``umi_lab.methods``); this package runs them:

* ``data``   role samples → tokens (prompt masked, left truncation, the tokenizer's own BOS convention),
             the dialogue-level subsample every method of a study shares;
* ``stages`` one role's ``SFTConfig``, the trainable model, the loss recorder, library versions;
* ``run``    ``train(config)``: the plan end to end into a content-addressed, locked, resumable run folder
             (``umi_lab.rundir.RunDir``);
* ``cli``    ``python -m umi_lab train``, its flags generated from the typed config.

>>> from umi_lab.training import GLPFTConfig, train
>>> train(GLPFTConfig(method="single_llm", model="tiny-test", data="data/toolworld", out="runs/s"))  # doctest: +SKIP
"""

from umi_lab.training.cli import add_cli, config_from_args
from umi_lab.training.data import (
    EncodeStats,
    build_dataset,
    dialogue_id,
    encode_sample,
    load_role_data,
    method_roles,
    prompt_ids,
    subsample_dialogues,
)
from umi_lab.training.run import TrainingInterrupted, config_identity, run_info, train
from umi_lab.training.stages import LossRecorder, build_role_model, library_versions, stage_config
from umi_lab.training_config import (
    INITS,
    METHODS,
    SCHEDULE_PRESETS,
    GLPFTConfig,
    GLPFTStageConfig,
    LoRASettings,
    Schedule,
    StageSchedule,
)


def method_plan(method: str) -> list:
    """The trainer runs of a method, in order (from the registry).

    >>> [j.role for j in method_plan("alpha_umi")]
    ['backbone', 'planner', 'caller', 'summarizer']
    """
    from umi_lab.methods import get_method

    return list(get_method(method).plan)


__all__ = ["GLPFTConfig", "GLPFTStageConfig", "LoRASettings", "Schedule", "StageSchedule", "SCHEDULE_PRESETS",
           "METHODS", "INITS", "LossRecorder", "EncodeStats", "encode_sample", "build_dataset", "load_role_data",
           "method_roles", "method_plan", "dialogue_id", "subsample_dialogues", "prompt_ids", "stage_config",
           "build_role_model", "library_versions", "train", "run_info", "config_identity", "TrainingInterrupted",
           "add_cli", "config_from_args"]
