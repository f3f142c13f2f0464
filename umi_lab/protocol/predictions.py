"""Official-shape static prediction strings from model outputs (what ``static_eval`` scores).

``compose_prediction`` writes the multi-agent prediction (``asssitant: P</s>caller: C`` …),
``backbone_prediction`` the same from a Single-LLM output; ``backbone_step`` reads a raw backbone output
as the evaluators' ``(plan, action, input, answer)``. ``compat="default"`` reads the outputs with the
protocol grammar so the official scorer scores exactly what the agent does; ``compat="official"``
copies the official inference / ``evaluate-backbone.py``.
"""

from __future__ import annotations

from umi_lab.protocol.grammar import (
    EOS,
    Decision,
    acted_decision,
    check_compat,
    clean_candidate,
    compose_call,
    compose_planner,
    official_backbone_step,
    official_planner_decision,
    parse_backbone,
    parse_call,
    parse_conclusion,
    parse_decision,
)


def backbone_step(text: str, compat: str = "default") -> tuple[str, str | None, str | None, str | None]:
    """A backbone output as the evaluators' ``(plan, action, input, answer)``: ``official_backbone_step`` under
    ``compat="official"``, else ``parse_backbone``'s reading (an invalid output is a call of ``none``).

    >>> backbone_step("Conclusion: 42"), backbone_step("Conclusion: 42", "official")
    (('finish', None, None, '42'), ('call', 'none', '{}', None))
    """
    if compat == "official":
        return official_backbone_step(text)
    p = parse_backbone(text)
    if p.decision is Decision.GIVE_UP:
        return "give up", None, None, None
    if p.decision is Decision.CONCLUSION:
        return "finish", None, None, p.answer
    return "call", p.tool or "none", p.arguments or "{}", None



def planner_decision(planner_out: str, compat: str = "default") -> tuple[str, str]:
    """The decision label the static pipeline acts on (``caller``/``conclusion``/``give up``) and the planner
    turn text: ``parse_decision`` with the invalid policy, or the official inference rule.

    >>> planner_decision("no mark"), planner_decision("no mark", "official")
    (('caller', 'no mark Next: caller.'), ('caller', 'no markNext: caller.'))
    """
    check_compat(compat)
    if compat == "official":
        return official_planner_decision(planner_out)
    p = parse_decision(planner_out)
    return acted_decision(p.decision).label, p.text


def compose_prediction(planner_out: str, caller_out: str | None = None, summarizer_out: str | None = None,
                       *, compat: str = "default") -> str:
    """The multi-agent prediction string in the official shape (with its ``asssitant: `` misspelling).

    Give up → the planner turn alone; conclusion → ``asssitant: P</s>conclusion: S``;
    caller → ``asssitant: P</s>caller: C``. A missing caller/summarizer output counts as ``none``.
    ``compat="default"`` reads the outputs with the protocol grammar (an invalid planner output acts as
    caller; the call and answer written canonically, an unparseable call as ``none``), so
    ``official_step`` scores exactly what the agent would do; ``"official"`` copies the official
    inference (the raw caller/summarizer texts after ``clean_candidate``).

    >>> compose_prediction("Find it. Next: caller.", "Action : f\\nAction Input: {}")
    'asssitant: Find it. Next: caller.</s>caller: Action: f\\nAction Input: {}'
    """
    check_compat(compat)
    planner_out = clean_candidate(planner_out)
    label, cut = planner_decision(planner_out, compat)
    decision = Decision.coerce(label)
    if compat == "official":
        call, answer = clean_candidate(caller_out or ""), clean_candidate(summarizer_out or "")
    else:
        c = parse_call(caller_out or "")
        call = c.text if c.tool is not None else "none"
        answer = parse_conclusion(summarizer_out or "").answer
    if decision is Decision.GIVE_UP:
        return cut
    if decision is Decision.CONCLUSION:
        return f"asssitant: {cut}{EOS}conclusion: {answer}"
    return f"asssitant: {cut}{EOS}caller: {call}"


def backbone_prediction(output: str, compat: str = "default") -> str:
    """A backbone output as an official-shape multi-agent prediction string (scored by ``official_step``
    to the plan, action, input and answer that ``parse_backbone(output, compat)`` reads).

    >>> backbone_prediction("Look.\\nAction: f\\nAction Input: {}")
    'asssitant: Look. Next: caller.</s>caller: Action: f\\nAction Input: {}'
    """
    p = parse_backbone(output, compat)
    if p.decision is Decision.GIVE_UP:
        return compose_prediction(compose_planner(p.thought, Decision.GIVE_UP))
    if p.decision is Decision.CONCLUSION:
        return compose_prediction(compose_planner(p.thought, Decision.CONCLUSION), summarizer_out=p.answer)
    call = compose_call(p.tool, p.arguments) if p.tool not in (None, "none") else ""
    return compose_prediction(compose_planner(p.thought, Decision.CALLER), caller_out=call)
