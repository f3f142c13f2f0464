"""The α-UMi text protocol, in one home.

* ``dialogue``: the data model (``Tool``, ``Turn``, ``Dialogue``, ``StepRecord``, ``RecordedTrajectory``,
  load/save);
* ``grammar``: ``Decision``, the parsers (``parse_decision``, ``parse_call``, ``parse_backbone``, the
  ``official_*`` rules) and the composers that write planner / caller / backbone text;
* ``prompts``: role templates, ``PromptStyle`` and every history renderer;
* ``predictions``: official-shape static prediction strings (``compose_prediction``, ``backbone_prediction``);
* ``records``: reading the decisions and calls a trajectory recorded.

``python -m umi_lab parse {planner,caller,backbone} [--compat official] TEXT`` prints what ``grammar.parse``
reads, as one JSON object.
"""

from umi_lab.protocol.dialogue import (
    DECISIONS,
    TURN_ROLES,
    Dialogue,
    RecordedTrajectory,
    StepRecord,
    Tool,
    Turn,
    load_dialogues,
    load_trajectories,
    save_dialogues,
    save_trajectories,
)
from umi_lab.protocol.grammar import (
    DECISION_MARKS,
    EOS,
    INVALID_ACTS_AS,
    Decision,
    Parsed,
    acted_decision,
    clean_candidate,
    compose_backbone,
    compose_call,
    compose_planner,
    official_backbone_step,
    official_planner_decision,
    official_step,
    parse,
    parse_backbone,
    parse_call,
    parse_decision,
)
from umi_lab.protocol.predictions import (
    backbone_prediction,
    backbone_step,
    compose_prediction,
    planner_decision,
)

__all__ = [
    "DECISIONS", "TURN_ROLES", "Dialogue", "RecordedTrajectory", "StepRecord", "Tool", "Turn", "load_dialogues",
    "load_trajectories", "save_dialogues", "save_trajectories", "DECISION_MARKS", "EOS", "INVALID_ACTS_AS",
    "Decision", "Parsed", "acted_decision", "backbone_prediction", "clean_candidate", "compose_backbone",
    "compose_call", "compose_planner", "compose_prediction", "official_backbone_step", "official_planner_decision",
    "official_step", "parse", "parse_backbone", "parse_call", "parse_decision", "backbone_step", "planner_decision",
]
