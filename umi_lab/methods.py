"""The method registry: every training method of the study as one frozen ``Method`` entry.

A method says which role datasets it trains, in which stages and from which initialisation
(``plan``), which trained adapter (or full model) plays each agent role at inference (``serving``),
which agent drives it (``agent``: ``multi`` = planner/caller/summarizer, ``backbone`` = one model
writing thought + action, ``multitask`` = one model prompted as each role in turn), and how tables
label and order it. Training, serving, evaluation, ablations and tables read these entries; adding a
method is one ``register(Method(...))``.

>>> get_method("single_llm").adapters
('backbone',)
>>> [j.role for j in get_method("alpha_umi").plan]
['backbone', 'planner', 'caller', 'summarizer']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from umi_lab.errors import DataError

AGENT_ROLES = ("planner", "caller", "summarizer")
AGENT_KINDS = ("multi", "backbone", "multitask")
INITS = ("base", "copy", "merge")
REFERENCE = "alpha_umi"  # the study's own method: the default of configs and runs, the paired tests' reference


@dataclass(frozen=True)
class RoleJob:
    """One trainer run: train adapter ``role`` (stage 1 or 2) on the dataset ``data`` (default: ``role``).

    ``init`` is ``base`` (a fresh LoRA on the base model), ``copy`` (keep training a copy of the adapter
    ``source`` trained earlier in this run) or ``merge`` (a fresh LoRA on the base with ``source`` merged in).

    >>> RoleJob(2, "planner", "copy").dataset
    'planner'
    """

    stage: int
    role: str
    init: str = "base"
    source: str | None = None
    data: str | None = None

    def __post_init__(self):
        if self.init not in INITS:
            raise DataError(f"unknown init {self.init!r}; expected one of {', '.join(INITS)}", field="init")
        if self.init != "base" and not self.source:
            object.__setattr__(self, "source", "backbone")

    @property
    def dataset(self) -> str:
        """The role dataset this job trains on (``train_<dataset>.json``)."""
        return self.data or self.role


@dataclass(frozen=True)
class Method:
    """One method of the study. Example::

        Method("alpha_umi", label="α-UMi", plan=(RoleJob(1, "backbone"), RoleJob(2, "planner", "copy"), ...),
               serving={"planner": "planner", "caller": "caller", "summarizer": "summarizer"})
    """

    name: str
    label: str
    plan: tuple[RoleJob, ...]
    serving: dict[str, str]
    agent: str = "multi"
    latex_label: str | None = None
    order: int = 100
    description: str = ""
    variants: dict[str, str] = field(default_factory=dict)  # stage-2 init -> sibling method (alpha_umi <-> merge)

    def __post_init__(self):
        if self.agent not in AGENT_KINDS:
            raise DataError(f"unknown agent kind {self.agent!r}; expected one of {', '.join(AGENT_KINDS)}",
                            field="agent")
        trained = [j.role for j in self.plan]
        if not trained or len(set(trained)) != len(trained):
            raise DataError(f"method {self.name!r}: the plan must train each adapter once", field="plan")
        for j, job in enumerate(self.plan):
            if job.source is not None and job.source not in trained[:j]:
                raise DataError(f"method {self.name!r}: {job.role} starts from {job.source!r}, not trained before it",
                                field="plan")
        for role, adapter in self.serving.items():
            if adapter not in trained:
                raise DataError(f"method {self.name!r}: role {role} is served by untrained {adapter!r}",
                                field="serving")
        missing = [r for r in AGENT_ROLES if r not in self.serving] if self.agent != "backbone" else \
            ([] if "backbone" in self.serving else ["backbone"])
        if missing:
            raise DataError(f"method {self.name!r}: no adapter serves {', '.join(missing)}", field="serving")

    @property
    def adapters(self) -> tuple[str, ...]:
        """The adapters (or full models) a finished run holds, in training order."""
        return tuple(j.role for j in self.plan)

    @property
    def datasets(self) -> tuple[str, ...]:
        """The role datasets the method trains on, in order of first use."""
        return tuple(dict.fromkeys(j.dataset for j in self.plan))

    @property
    def init(self) -> str:
        """The stage-2 initialisation (``copy``/``merge``), or ``base`` when nothing starts from stage 1."""
        inits = [j.init for j in self.plan if j.init != "base"]
        return inits[0] if inits else "base"

    @property
    def merged_base(self) -> bool:
        """Whether a LoRA run of this method writes ``RUN_DIR/base`` (stage 1 merged into the base)."""
        return any(j.init == "merge" for j in self.plan)

    def role_map(self) -> dict[str, str]:
        """Agent role → adapter, including ``backbone`` when the method trains one.

        >>> get_method("single_llm_multitask").role_map()["caller"]
        'multitask'
        """
        out = dict(self.serving)
        if "backbone" in self.adapters:
            out.setdefault("backbone", "backbone")
        return out

    def latex(self) -> str:
        """The label for LaTeX tables."""
        return self.latex_label or self.label


_REGISTRY: dict[str, Method] = {}


def register(method: Method, *, replace: bool = False) -> Method:
    """Add a method (``replace=True`` to redefine one). Example: ``register(Method("toy", ...))``."""
    if method.name in _REGISTRY and not replace:
        raise DataError(f"method {method.name!r} is already registered", field="method")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method (tests use this to clean up a toy entry)."""
    _REGISTRY.pop(name, None)


def get_method(name: str) -> Method:
    """The registered method ``name``; ``DataError`` naming the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise DataError(f"unknown method {name!r}; expected one of {', '.join(method_names())}",
                        field="method") from None


def method_names() -> tuple[str, ...]:
    """Registered method names in table order. Example: ``"alpha_umi" in method_names()``."""
    return tuple(sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].order, n)))


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, registered methods first in table order, then the others as given.

    >>> ordered(["mine", "alpha_umi", "single_llm"])
    ['single_llm', 'alpha_umi', 'mine']
    """
    present = list(dict.fromkeys(names))
    rank = {n: m.order for n, m in {**_REGISTRY, **_ZERO_SHOT}.items()}  # untrained rows by their order too
    known = sorted((n for n in present if n in rank), key=lambda n: (rank[n], n))
    return known + [n for n in present if n not in rank]


def default_method(agent: str = "multi") -> str:
    """The method a run, agent or command without one is taken to be: ``REFERENCE`` when its agent kind is
    ``agent``, else the first registered method (table order) driven by that agent kind.

    >>> default_method(), default_method("backbone")
    ('alpha_umi', 'single_llm')
    """
    if agent not in AGENT_KINDS:
        raise DataError(f"unknown agent kind {agent!r}; expected one of {', '.join(AGENT_KINDS)}", field="agent")
    if REFERENCE in _REGISTRY and _REGISTRY[REFERENCE].agent == agent:
        return REFERENCE
    for name in method_names():
        if _REGISTRY[name].agent == agent:
            return name
    raise DataError(f"no registered method has the agent kind {agent!r}", field="method")


def with_init(name: str, init: str | None) -> str:
    """The method that is ``name`` with stage-2 initialisation ``init`` (``alpha_umi`` + merge →
    ``alpha_umi_merge``); ``name`` itself when ``init`` is None, already its own, or does not apply.

    >>> with_init("alpha_umi", "merge")
    'alpha_umi_merge'
    """
    m = get_method(name)
    if init is None or m.init in ("base", init):
        return name
    if init not in m.variants:
        raise DataError(f"method {name!r} has no {init!r} initialisation", field="init")
    return m.variants[init]


class MethodNames(Sequence):
    """A live, ordered view of the registered names (``choices=`` of a CLI, ``in`` checks)."""

    def __getitem__(self, i):
        return method_names()[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(method_names())

    def __contains__(self, name) -> bool:
        return name in _REGISTRY

    def __repr__(self) -> str:
        return repr(method_names())


METHODS = MethodNames()
_STAGE2 = ("planner", "caller", "summarizer")
_ROLES = {r: r for r in _STAGE2}

register(Method("single_llm", "Single-LLM", (RoleJob(1, "backbone"),),
                {"backbone": "backbone", **dict.fromkeys(_STAGE2, "backbone")}, agent="backbone", order=10,
                description="one model trained on backbone data writes thought, action and answer"))
register(Method("single_llm_multitask", "Single-LLM (multi-task)", (RoleJob(1, "multitask"),),
                dict.fromkeys(_STAGE2, "multitask"), agent="multitask", order=20,
                description="one adapter trained on planner + caller + summarizer data plays every role"))
register(Method("multi_llm_one_stage", "Multi-LLM one-stage", tuple(RoleJob(1, r) for r in _STAGE2), _ROLES,
                order=30, description="three role adapters trained directly from the base"))
register(Method("alpha_umi", "α-UMi", (RoleJob(1, "backbone"), *(RoleJob(2, r, "copy") for r in _STAGE2)), _ROLES,
                latex_label=r"$\alpha$-UMi", order=40, variants={"merge": "alpha_umi_merge"},
                description="GLPFT: stage 1 backbone, stage 2 role adapters continued from it"))
register(Method("alpha_umi_merge", "α-UMi (init=merge)",
                (RoleJob(1, "backbone"), *(RoleJob(2, r, "merge") for r in _STAGE2)), _ROLES,
                latex_label=r"$\alpha$-UMi (init=merge)", order=50, variants={"copy": "alpha_umi"},
                description="GLPFT with stage 1 merged into the base and fresh stage-2 adapters"))


# ---------------------------------------------------------------- untrained (zero-shot) rows


@dataclass(frozen=True)
class ZeroShotMethod:
    """A row of the ablation that trains nothing: the base model serves every role through one prompt
    (Single-LLM format; its own chat template when the tokenizer has one, ``chat_template=None``).
    Kept apart from the trained methods: ``method_names()`` lists only those; ``is_zero_shot`` and
    ``zero_shot_names`` know these.

    >>> get_zero_shot("zero_shot").agent
    'backbone'
    """

    name: str
    label: str
    latex_label: str | None = None
    order: int = 5
    description: str = ""
    chat_template: bool | None = None
    agent: str = "backbone"

    def latex(self) -> str:
        """The label for LaTeX tables."""
        return self.latex_label or self.label


_ZERO_SHOT: dict[str, ZeroShotMethod] = {}


def register_zero_shot(method: ZeroShotMethod, *, replace: bool = False) -> ZeroShotMethod:
    """Add an untrained row. Example: ``register_zero_shot(ZeroShotMethod("zs_plain", "plain", chat_template=False))``."""
    if (method.name in _ZERO_SHOT or method.name in _REGISTRY) and not replace:
        raise DataError(f"method {method.name!r} is already registered", field="method")
    _ZERO_SHOT[method.name] = method
    return method


def is_zero_shot(name: str) -> bool:
    """Whether ``name`` is an untrained (zero-shot) row. ``is_zero_shot("alpha_umi")`` is False."""
    return isinstance(name, str) and name in _ZERO_SHOT


def get_zero_shot(name: str) -> ZeroShotMethod:
    """The untrained row ``name``; ``DataError`` naming the known ones otherwise."""
    if not is_zero_shot(name):
        raise DataError(f"unknown zero-shot method {name!r}; expected one of {', '.join(_ZERO_SHOT)}", field="method")
    return _ZERO_SHOT[name]


def zero_shot_names() -> tuple[str, ...]:
    """Registered untrained rows in table order. Example: ``"zero_shot" in zero_shot_names()``."""
    return tuple(sorted(_ZERO_SHOT, key=lambda n: (_ZERO_SHOT[n].order, n)))


def grid_method_names() -> tuple[str, ...]:
    """Every name an ablation grid accepts: the untrained rows, then the trained methods."""
    return zero_shot_names() + method_names()


register_zero_shot(ZeroShotMethod("zero_shot", "Zero-shot (untrained)", order=5,
                                  description="the base model untrained, prompted through its chat template "
                                              "(a floor for a tiny model, a baseline for an instruct model)"))
