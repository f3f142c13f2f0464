"""Evaluation settings and the decoding profiles (``greedy``, the default, and ``official``).

``official`` follows the α-UMi release (X-PLUG/Multi-LLM-Agent), read from its inference code:

- real time (``ToolBench-multiLLM``'s collaborative agent): sampling at temperature 0.5, 512 new tokens,
  prompts cut on the left to a 4,096-token context minus the new tokens minus 8 (3,576), the planner asked
  again, up to 5 times in all, while its output is empty (blank, ``.`` or ``,``), and observations cut at
  1,024 characters with ``...`` appended (``--max_observation_length 1024``, ``truncate``);
- static (``GLPFT/inference_utils/toolbench/infer_pipeline.py``): 512 new tokens, prompts cut on the left
  at 3,750 tokens (``--max_input_length 3750``), and the caller / summarizer histories end with
  ``planner: <thought></s>`` (the official static inference writes that speaker; training data says
  ``assistant:``); the planner output is cut and the outputs composed by the official inference's rules
  (``compat="official"``, ``protocol.predictions``). The official static pass samples with the checkpoint's own generation config
  (``do_sample=True``, no temperature given); ours stays greedy so static numbers are reproducible.

Every evaluation records the profile it ran with (``config.json`` ``settings.decoding`` and
``metrics.json`` ``decoding``). Example: ``EvalSettings.for_profile("official", "realtime")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from umi_lab.search import SearchConfig
from umi_lab.serving import GenerationSettings

DECODING_PROFILES = ("greedy", "official")
TRIAL_SEED_STRIDE = 100_003  # trials' seeds stay apart from the agent's per-round seeds
OFFICIAL_REALTIME = {"temperature": 0.5, "max_new_tokens": 512, "max_prompt_tokens": 4096 - 512 - 8,
                     "planner_attempts": 5, "max_observation_chars": 1024}
OFFICIAL_STATIC = {"max_new_tokens": 512, "max_prompt_tokens": 3750, "second_stage_speaker": "planner",
                   "compat": "official"}


@dataclass
class EvalSettings:
    """Evaluation knobs: decoding, agent limits, the grader's sympy time limit and ``checkpoint_every``
    (items per chunk saved to the partial file; None: 4 generation batches).

    ``decoding`` names the profile the settings were built from (recorded with every evaluation);
    ``planner_attempts`` (1: no retry) and ``max_observation_chars`` (None: keep all) are the agent's
    official-profile knobs; ``second_stage_speaker`` is who the static caller / summarizer history says
    spoke the thought (``assistant`` as in training, ``planner`` as the official static inference);
    ``compat`` how static outputs are read (``default``: the protocol grammar; ``official``: the official
    inference's cut and composition rules).
    ``toolworld``: a ToolWorld folder overriding the one the run trained on; ``world_seed`` is taken from
    the folder's manifest (None until resolved; a value set here must agree with it).
    ``search`` (real time): ``chain`` (the greedy chain) or ``dfsdt`` (the official tree search with
    ``search_width`` children per node and ``max_nodes`` steps per task, ``umi_lab.search``); ``trials``:
    sampled runs per task (each with its own seed, ``trial_seed``; recorded per trial, for pass^k; needs
    sampling).
    """

    generation: GenerationSettings = field(default_factory=GenerationSettings)
    max_steps: int = 8
    repeat_limit: int = 3
    world_seed: int | None = None
    grade_timeout_s: float = 3.0
    checkpoint_every: int | None = None
    decoding: str = "greedy"
    planner_attempts: int = 1
    max_observation_chars: int | None = None
    second_stage_speaker: str = "assistant"
    compat: str = "default"
    toolworld: str | None = None
    search: str = "chain"
    search_width: int = 2
    max_nodes: int = 200
    trials: int = 1

    def __post_init__(self):
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        if self.decoding not in DECODING_PROFILES:
            raise ValueError(f"unknown decoding profile {self.decoding!r}; expected one of {DECODING_PROFILES}")
        if self.planner_attempts < 1 or (self.max_observation_chars is not None and self.max_observation_chars < 1):
            raise ValueError("planner_attempts and max_observation_chars must be >= 1")
        if self.second_stage_speaker not in ("assistant", "planner"):
            raise ValueError("second_stage_speaker must be 'assistant' or 'planner'")
        if self.compat not in ("default", "official"):
            raise ValueError("compat must be 'default' or 'official'")
        self.search_config()  # validates search, search_width and max_nodes
        if self.trials < 1:
            raise ValueError("trials must be >= 1")

    def search_config(self, trial: int = 0) -> SearchConfig | None:
        """The agent's search for one trial (None: the chain), seeded like the trial's decoding.
        Example: ``EvalSettings(search="dfsdt").search_config().width`` → 2."""
        config = SearchConfig(self.search, width=self.search_width, max_nodes=self.max_nodes,
                              seed=self.trial_seed(trial))
        return config if self.search != "chain" else None

    def trial_seed(self, trial: int) -> int:
        """Trial ``j`` decodes with seed ``generation.seed + j * TRIAL_SEED_STRIDE`` (apart from the agent's
        per-round seeds ``+ round``). Example: ``EvalSettings().trial_seed(1)`` → 100003."""
        return self.generation.seed + trial * TRIAL_SEED_STRIDE

    @property
    def suffix(self) -> str:
        """What the evaluation folder's readable name adds for a non-default search or several trials (the
        folder is keyed by all settings, ``umi_lab.eval_folders.readable_name``).
        Example: ``EvalSettings(search="dfsdt", trials=4).suffix`` → ``-dfsdt-k4``."""
        return ("-dfsdt" if self.search == "dfsdt" else "") + (f"-k{self.trials}" if self.trials > 1 else "")

    @property
    def chunk_size(self) -> int:
        """Items per checkpointed chunk. Example: ``EvalSettings().chunk_size`` → 32."""
        return self.checkpoint_every or 4 * self.generation.batch_size

    @classmethod
    def smoke(cls) -> EvalSettings:
        """Tiny budgets for a quick end-to-end check."""
        return cls(GenerationSettings(max_new_tokens=16, batch_size=8), max_steps=2)

    @classmethod
    def for_profile(cls, decoding: str = "greedy", mode: str = "static", *, smoke: bool = False) -> EvalSettings:
        """The settings of a decoding profile for a mode (``static`` / ``realtime``), optionally smoke-sized.

        >>> s = EvalSettings.for_profile("official", "realtime")
        >>> (s.generation.temperature, s.generation.max_new_tokens, s.planner_attempts, s.max_observation_chars)
        (0.5, 512, 5, 1024)
        """
        base = cls.smoke() if smoke else cls()
        return base.with_profile(decoding, mode)

    def with_profile(self, decoding: str, mode: str) -> EvalSettings:
        """A copy with ``decoding``'s settings for ``mode`` applied (``greedy`` changes nothing).

        Smoke budgets stay small: a profile never raises ``max_new_tokens`` above a smaller value already set
        by ``smoke()``. Example: ``EvalSettings().with_profile("official", "static").generation.max_new_tokens``.
        """
        if decoding not in DECODING_PROFILES:
            raise ValueError(f"unknown decoding profile {decoding!r}; expected one of {DECODING_PROFILES}")
        if decoding == "greedy":
            return replace(self, decoding="greedy")
        smoke_cap = self.generation.max_new_tokens if self.generation.max_new_tokens < 64 else None
        if mode == "realtime":
            p = OFFICIAL_REALTIME
            gen = replace(self.generation, temperature=p["temperature"], max_new_tokens=p["max_new_tokens"],
                          max_prompt_tokens=p["max_prompt_tokens"])
            out = replace(self, generation=gen, decoding="official", planner_attempts=p["planner_attempts"],
                          max_observation_chars=p["max_observation_chars"])
        else:
            p = OFFICIAL_STATIC
            gen = replace(self.generation, temperature=0.0, max_new_tokens=p["max_new_tokens"],
                          max_prompt_tokens=p["max_prompt_tokens"])
            out = replace(self, generation=gen, decoding="official", second_stage_speaker=p["second_stage_speaker"],
                          compat=p["compat"])
        if smoke_cap is not None:
            out.generation.max_new_tokens = smoke_cap
        return out
