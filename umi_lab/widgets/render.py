"""The replay's HTML: pure functions returning strings with every piece of agent or data text escaped, shared
by the ipywidgets replayer, the standalone page (``umi_lab.replay``) and browser-free tests. Decisions and calls
are the recorded ones (``umi_lab.protocol.records``); nothing here parses model text beyond that."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, StepRecord, Tool, Turn
from umi_lab.protocol.grammar import INVALID_ACTS_AS, Decision, parse_decision
from umi_lab.protocol.records import TurnInfo, align_steps, turn_infos
from umi_lab.widgets.tracks import ReplayTrack

ROLE_COLOURS = {"user": "#4b5563", "assistant": "#1d4ed8", "caller": "#b45309", "observation": "#047857",
                "conclusion": "#7c3aed"}
ROLE_LABELS = {"user": "user", "assistant": "planner", "caller": "caller", "observation": "observation",
               "conclusion": "summarizer: final answer"}
LONG_OBSERVATION = 300
CSS = """
.umi-view{display:flex;gap:10px;align-items:flex-start;font-family:sans-serif;font-size:13px}
.umi-col{flex:1;min-width:0;border:1px solid #ddd;border-radius:6px;padding:6px}
.umi-col h4{margin:2px 0 6px 0}
.umi-tools code{word-break:break-all}
.umi-tools{flex:0 0 24%;max-height:520px;overflow:auto;border:1px solid #ddd;border-radius:6px;padding:6px}
.umi-turn{border-left:4px solid var(--c);padding:3px 6px;margin:4px 0;background:#fafafa}
.umi-turn.current{background:#fff7d6}
.umi-role{font-weight:bold;color:var(--c);font-size:11px;text-transform:uppercase}
.umi-turn pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:12px}
.umi-badge{display:inline-block;border-radius:3px;padding:0 4px;font-size:11px;margin-left:4px;background:#e5e7eb}
.umi-ok{background:#d1fae5}.umi-bad{background:#fee2e2}
.umi-meta{color:#6b7280;font-size:11px}
"""


def esc(text: Any) -> str:
    """HTML-escape any value (quotes too): ``esc("<b>")`` → ``'&lt;b&gt;'``."""
    return html.escape(str(text), quote=True)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return text


def _align_steps(track: ReplayTrack) -> list[StepRecord | None]:
    """Pair each turn with the model call that produced it (``umi_lab.protocol.records.align_steps``)."""
    return align_steps(track.dialogue, track.steps)


def _infos(track: ReplayTrack) -> list[TurnInfo]:
    return turn_infos(track.dialogue, track.steps)


def _gold_marks(track: ReplayTrack, gold: ReplayTrack | None, infos: list[TurnInfo] | None = None) -> list[str]:
    """Per turn: an HTML badge comparing the n-th recorded decision / call with the gold dialogue's
    (an ``invalid`` decision never equals gold)."""
    marks = [""] * len(track.dialogue.conversations)
    if gold is None:
        return marks
    gold_infos = _infos(gold)
    gold_turns = gold.dialogue.conversations
    gold_decisions = [i.decision for t, i in zip(gold_turns, gold_infos) if t.role == "assistant"]
    gold_calls = [i.tool for t, i in zip(gold_turns, gold_infos) if t.role == "caller"]
    n_dec = n_call = 0
    for i, (turn, info) in enumerate(zip(track.dialogue.conversations, infos or _infos(track))):
        if turn.role == "assistant":
            ref = gold_decisions[n_dec] if n_dec < len(gold_decisions) else None
            mine = info.decision
            n_dec += 1
        elif turn.role == "caller":
            ref = gold_calls[n_call] if n_call < len(gold_calls) else None
            mine = info.tool
            n_call += 1
        else:
            continue
        shown = ref.label if isinstance(ref, Decision) else ref
        if ref is None:
            marks[i] = '<span class="umi-badge umi-bad">gold: (none)</span>'
        elif ref == mine and mine is not Decision.INVALID:
            marks[i] = '<span class="umi-badge umi-ok">= gold</span>'
        else:
            marks[i] = f'<span class="umi-badge umi-bad">gold: {esc(shown)}</span>'
    return marks


def render_turn_html(turn: Turn, *, step: StepRecord | None = None, mark: str = "", current: bool = False,
                     info: TurnInfo | None = None) -> str:
    """One turn as escaped HTML: role in its colour, rationale, call with pretty arguments, observation
    (inside ``<details>`` when long) or final answer. Decisions and calls are the recorded ones (``info``,
    from ``umi_lab.protocol.records.turn_infos``; computed from ``step`` or the turn when not given).

    Example: ``render_turn_html(Turn("caller", "Action: f\\nAction Input: {\\"x\\": 1}"))``.
    """
    colour = ROLE_COLOURS.get(turn.role, "#111827")
    label = ROLE_LABELS.get(turn.role, turn.role)
    body: list[str] = []
    if info is None:
        info = turn_infos(Dialogue([], "", [turn]), [step] if step is not None else [])[0]
    if turn.role == "assistant":
        decision = info.decision
        rationale = parse_decision(turn.value).thought if decision is not None else turn.value
        body.append(f'<div class="umi-rationale"><pre>{esc(rationale)}</pre></div>')
        badge = ("no decision" if decision is None else
                 f"invalid (acted as {INVALID_ACTS_AS.label})" if decision is Decision.INVALID else f"Next: {decision.label}")
        body.append(f'<span class="umi-badge umi-decision">{esc(badge)}</span>')
    elif turn.role == "caller":
        if info.tool is None:
            body.append(f'<div class="umi-call">unparsed call:<pre>{esc(turn.value)}</pre></div>')
        else:
            body.append(f'<div class="umi-call">call <code class="umi-tool">{esc(info.tool)}</code>'
                        f'<pre class="umi-args">{esc(_pretty(info.arguments or "{}"))}</pre></div>')
    elif turn.role == "observation":
        text = _pretty(turn.value)
        if len(text) > LONG_OBSERVATION:
            body.append(f"<details><summary>{esc(text[:80])}… ({len(text)} characters)</summary>"
                        f"<pre>{esc(text)}</pre></details>")
        else:
            body.append(f"<pre>{esc(text)}</pre>")
    elif turn.role == "conclusion":
        body.append(f'<div class="umi-answer"><pre>{esc(turn.value)}</pre></div>')
    else:
        body.append(f"<pre>{esc(turn.value)}</pre>")
    meta = ""
    if step is not None:
        meta = (f'<div class="umi-meta">{esc(step.role)}: {step.prompt_tokens} prompt / {step.generated_tokens} '
                f"generated tokens, {step.latency_s:.2f} s")
        if step.error:
            meta += f' <span class="umi-badge umi-bad">error: {esc(step.error)}</span>'
        meta += "</div>"
    cls = "umi-turn current" if current else "umi-turn"
    return (f'<div class="{cls}" data-role="{esc(turn.role)}" style="--c:{colour}">'
            f'<span class="umi-role">{esc(label)}</span>{mark}{"".join(body)}{meta}</div>')


def turn_fragments(track: ReplayTrack, gold: ReplayTrack | None = None) -> list[str]:
    """Every turn of a track rendered once (not marked current), for cumulative display."""
    steps, infos = _align_steps(track), _infos(track)
    marks = _gold_marks(track, gold, infos)
    return [render_turn_html(t, step=s, mark=m, info=i)
            for t, s, m, i in zip(track.dialogue.conversations, steps, marks, infos)]


def render_step_html(track: ReplayTrack, step: int, *, gold: ReplayTrack | None = None) -> str:
    """One column: the conversation up to turn ``step`` (clamped), the newest turn highlighted, and the
    outcome once finished. Example: ``render_step_html(load_tracks("t.jsonl")[0], 3)``.
    """
    turns = track.dialogue.conversations
    n = len(turns)
    k = max(0, min(step, n - 1))
    steps, infos = _align_steps(track), _infos(track)
    marks = _gold_marks(track, gold, infos)
    parts = [render_turn_html(turns[i], step=steps[i], mark=marks[i], current=(i == k and step < n), info=infos[i])
             for i in range(min(k + 1, n))]
    title = f"{esc(track.label)} <span class=\"umi-meta\">task {esc(track.task_id)} · turn {min(step, n - 1) + 1}/{n}</span>"
    return (f'<div class="umi-col" data-label="{esc(track.label)}"><h4>{title}</h4>'
            f'{"".join(parts)}{footer_html(track) if step >= n - 1 else ""}</div>')


def footer_html(track: ReplayTrack) -> str:
    """The end-of-run line: outcome and number of model calls with errors."""
    if track.outcome is None:
        return '<div class="umi-meta">end of dialogue</div>'
    errors = sum(1 for s in track.steps if s.error)
    return (f'<div class="umi-meta">outcome: <b>{esc(track.outcome)}</b>, {len(track.steps)} model calls, '
            f"{errors} with errors</div>")


def render_tools_html(tools: Sequence[Tool]) -> str:
    """The task's tool documentation (name, description, parameters), escaped."""
    items = []
    for t in tools:
        params = "".join(f"<li><code>{esc(k)}</code>: {esc(v)}</li>" for k, v in t.input.items())
        items.append(f"<div class=\"umi-tooldoc\"><code>{esc(t.Name)}</code><div>{esc(t.function)}</div>"
                     f"<ul>{params}</ul></div>")
    return f'<div class="umi-tools"><h4>tools ({len(tools)})</h4>{"".join(items) or "none"}</div>'


def render_view_html(tracks: Sequence[ReplayTrack], step: int, *, gold: ReplayTrack | None = None,
                     with_css: bool = True) -> str:
    """The whole step view: tool docs beside one column per track (methods side by side) plus gold.

    Example: ``render_view_html([alpha_track, single_track], 2, gold=gold_track)``.
    """
    if not tracks:
        raise DataError("nothing to replay", field="trajectories")
    cols = [render_step_html(t, step, gold=gold) for t in tracks]
    if gold is not None:
        cols.append(render_step_html(gold, step))
    head = f"<style>{CSS}</style>" if with_css else ""
    instruction = esc(tracks[0].dialogue.instruction)
    return (f'{head}<div class="umi-task"><b>task:</b> {instruction}</div>'
            f'<div class="umi-view">{render_tools_html(tracks[0].dialogue.tools)}{"".join(cols)}</div>')
