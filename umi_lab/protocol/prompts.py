"""The one prompt renderer, shared by role splitting, training and inference.

Templates for the four roles (backbone, planner, caller, summarizer) in three families:
``toolbench`` (the official alpha-UMi texts, read off ``train-example/train_*.json``), ``toolalpaca``
(the same without the give-up option) and ``maths`` (ours, for GSM8K with a calculator and MATH with a
python tool). ``role_input`` renders the ``input`` field of a role sample; ``model_prompt`` turns that
input into the exact text the model sees, at training time *and* at inference time. All four toolbench
templates, the backbone's included, reproduce ``train-example/train_*.json`` exactly (``tests/test_splitting.py``).
``role_renderer`` / ``role_renderers`` give the same text with the tool docs rendered once per tool list.

The official code prepends ``"system: "`` to the input when training but not at inference. We keep one
``PromptStyle`` object for both sides, so the two can only differ when a user asks for it explicitly.
"""

from __future__ import annotations

import functools
import json
import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from umi_lab.protocol.dialogue import Tool, Turn
from umi_lab.protocol.grammar import EOS, Decision, compose_backbone, strip_mark

ROLES = ("backbone", "planner", "caller", "summarizer")
FAMILIES = ("toolbench", "toolalpaca", "maths")
EOS_MARK = EOS

_DOCS_HEAD = "You have assess to the following apis:\n{doc}\nThe conversation history is:\n{history}\n"
_ACTION_FMT = ("Action: the name of api that should be called in this step, should be exactly in [{tool_names}],\n"
               "Action Input: the api call request.")

TEMPLATES: dict[str, dict[str, str]] = {
    "toolbench": {
        "backbone": _DOCS_HEAD + "You should answer the action of next step in the following format:\n"
        "The thought to solve the question,\n" + _ACTION_FMT + "\n"
        "Once you think the question is finished, output conclusion: the final answer of the question "
        "or give up if you think you cannot answer this question.\n",
        "planner": _DOCS_HEAD + "You are the assistant to plan what to do next and whether is caller's or "
        "conclusion's turn to answer.\nAnswer with a following format:\n"
        "The thought of the next step, followed by Next: caller or conclusion or give up.",
        "caller": _DOCS_HEAD + "The thought of this step is:\n{thought}\n"
        "Base on the thought make an api call in the following format:\n" + _ACTION_FMT,
        "summarizer": "Make a conclusion based on the conversation history:\n{history}",
    },
}
TEMPLATES["toolalpaca"] = {
    **TEMPLATES["toolbench"],
    "backbone": _DOCS_HEAD + "You should answer the action of next step in the following format:\n"
    "The thought to solve the question,\n" + _ACTION_FMT + "\n"
    "Once you think the question is finished, output conclusion: the final answer of the question.\n",
    "planner": _DOCS_HEAD + "You are the assistant to plan what to do next and whether is caller's or "
    "conclusion's turn to answer.\nAnswer with a following format:\n"
    "The thought of the next step, followed by Next: caller or conclusion.",
}
TEMPLATES["maths"] = {
    "backbone": "You can use the following tools to solve a maths problem:\n{doc}\nThe conversation history is:\n"
    "{history}\nAnswer the next step in the following format:\nThe reasoning of this step,\n"
    "Action: the tool to call, exactly one of [{tool_names}],\nAction Input: the tool arguments as JSON.\n"
    "Once the problem is solved, output conclusion: the final answer.\n",
    "planner": "You can use the following tools to solve a maths problem:\n{doc}\nThe conversation history is:\n"
    "{history}\nYou are the planner: reason about the next step, then say whose turn it is.\n"
    "Answer with the reasoning of the next step, followed by Next: caller or conclusion or give up.",
    "caller": "You can use the following tools to solve a maths problem:\n{doc}\nThe conversation history is:\n"
    "{history}\nThe thought of this step is:\n{thought}\nWrite the tool call for this thought in the format:\n"
    "Action: the tool to call, exactly one of [{tool_names}],\nAction Input: the tool arguments as JSON.",
    "summarizer": "Give the final answer to the problem based on the conversation history:\n{history}",
}

# What follows the rendered template: the speaker tag the model continues from.
SUFFIX = {"backbone": " assistant: ", "planner": " assistant: ", "caller": " caller: ",
          "summarizer": " conclusion: "}


def render_docs(tools: Iterable[Tool | dict]) -> str:
    """Tool documentation as the official code writes it: ``json.dumps(tool) + "\\n"`` per tool.

    >>> render_docs([{"Name": "a", "function": "f", "input": {}}])
    '{"Name": "a", "function": "f", "input": {}}\\n'
    """
    return "".join(json.dumps(t.to_dict() if isinstance(t, Tool) else t) + "\n" for t in tools)


def tool_names(tools: Iterable[Tool | dict]) -> str:
    """Tool names joined by ``", "``."""
    return ", ".join(t.Name if isinstance(t, Tool) else t["Name"] for t in tools)


def piece(role: str, value: str) -> str:
    """``role: value`` as the history strings write it (observations carry no ``</s>``).

    >>> piece("observation", "42"), piece("planner", "t")
    ('observation: 42', 'planner: t</s>')
    """
    return f"{role}: {value}" + ("" if role == "observation" else EOS_MARK)


def history_piece(turn: Turn | dict) -> str:
    """One turn as it appears in the history string (observations carry no ``</s>``).

    >>> history_piece({"from": "observation", "value": "42"})
    'observation: 42'
    """
    role, value = (turn.role, turn.value) if isinstance(turn, Turn) else (turn["from"], turn["value"])
    return piece(role, value)


def history_string(turns: Iterable[Turn | dict]) -> str:
    """The standard history string (planner, caller, summarizer): the turns' pieces concatenated."""
    return "".join(history_piece(t) for t in turns)


def backbone_target(turns: Sequence[Turn], i: int) -> tuple[str | None, str]:
    """``(decision, text)`` of assistant turn ``i`` as the backbone writes it; decision None when there is
    none (official rule: a give-up mark, else the role of the next turn).

    >>> backbone_target([Turn("assistant", "ok.\\n Next: conclusion."), Turn("conclusion", "42")], 0)
    ('conclusion', 'ok.\\nconclusion: 42')
    """
    value = turns[i].value
    nxt = turns[i + 1] if i + 1 < len(turns) else None
    if Decision.GIVE_UP.mark in value:
        return "give_up", compose_backbone(strip_mark(value, Decision.GIVE_UP), Decision.GIVE_UP)
    if nxt is not None and nxt.role == "caller":
        return "caller", strip_mark(value, Decision.CALLER) + "\n" + nxt.value
    if nxt is not None and nxt.role == "conclusion":
        return "conclusion", compose_backbone(strip_mark(value, Decision.CONCLUSION), Decision.CONCLUSION,
                                              answer=nxt.value)
    return None, value


def backbone_piece(turns: Sequence[Turn], i: int) -> str:
    """What turn ``i`` adds to the backbone's history: user and observation turns as usual, an assistant
    turn as ``assistant: <backbone target></s>``, caller and conclusion turns nothing."""
    role = turns[i].role
    if role == "assistant":
        return piece("assistant", backbone_target(turns, i)[1])
    return piece(role, turns[i].value) if role in ("user", "observation") else ""


def backbone_history(turns: Iterable[Turn | dict]) -> str:
    """The backbone's (Single-LLM) history string (official backbone rule).

    >>> backbone_history([{"from": "user", "value": "q"}, {"from": "assistant", "value": "t Next: caller."},
    ...                   {"from": "caller", "value": "Action: f\\nAction Input: {}"}, {"from": "observation", "value": "1"}])
    'user: q</s>assistant: t\\nAction: f\\nAction Input: {}</s>observation: 1'
    """
    turns = [t if isinstance(t, Turn) else Turn.from_dict(t) for t in turns]
    return "".join(backbone_piece(turns, i) for i in range(len(turns)))


def history_with_thought(history: str, thought: str, *, speaker: str = "assistant") -> str:
    """A history string continued by the planner's ``thought`` (for the caller / summarizer prompt).

    ``speaker="planner"`` is the official static inference quirk. ``history_with_thought("", "t")`` →
    ``'assistant: t</s>'``.
    """
    return history + piece(speaker, thought)


def role_input(role: str, tools: Iterable[Tool | dict], history: str, *, thought: str = "",
               family: str = "toolbench") -> str:
    """Render a role sample's ``input``: template with docs/history/thought, plus the role's speaker suffix.

    >>> role_input("summarizer", [], "user: hi</s>")
    'Make a conclusion based on the conversation history:\\nuser: hi</s> conclusion: '
    """
    if family not in TEMPLATES:
        raise ValueError(f"unknown prompt family {family!r}; expected one of {', '.join(TEMPLATES)}")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    tools = list(tools)
    body = TEMPLATES[family][role].format(doc=render_docs(tools), history=history, thought=thought,
                                          tool_names=tool_names(tools))
    return body + SUFFIX[role]


def role_renderer(role: str, tools: Iterable[Tool | dict], *, family: str = "toolbench",
                  literal_replace: bool = False) -> Callable[..., str]:
    """``role_input`` for one tool list, with the docs and tool names rendered once (for splitting at scale).

    The returned ``render(history, thought="")`` equals ``role_input(role, tools, history, thought=thought,
    family=family)``. With ``literal_replace`` it instead reproduces the official scripts' chained
    ``str.replace`` ({doc}, {tool_names}, then {history}, then {thought} for the caller), which also
    substitutes placeholders that happen to occur inside tool docs or history text.

    >>> render = role_renderer("summarizer", [])
    >>> render("user: hi</s>") == role_input("summarizer", [], "user: hi</s>")
    True
    """
    return role_renderers(tools, family=family, literal_replace=literal_replace, roles=(role,))[role]


def role_renderers(tools: Iterable[Tool | dict], *, family: str = "toolbench", literal_replace: bool = False,
                   roles: Iterable[str] = ROLES) -> dict[str, Callable[..., str]]:
    """``role_renderer`` for several roles at once, rendering the tool docs a single time.

    >>> sorted(role_renderers([]))
    ['backbone', 'caller', 'planner', 'summarizer']
    """
    if family not in TEMPLATES:
        raise ValueError(f"unknown prompt family {family!r}; expected one of {', '.join(TEMPLATES)}")
    roles = tuple(roles)
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    tools = list(tools)
    fixed = {"doc": render_docs(tools), "tool_names": tool_names(tools)}
    return {role: _make_renderer(TEMPLATES[family][role], SUFFIX[role], fixed, role == "caller", literal_replace)
            for role in roles}


@functools.lru_cache(maxsize=64)
def _parse_template(template: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((literal, name) for literal, name, _spec, _conv in string.Formatter().parse(template))


def _make_renderer(template: str, suffix: str, fixed: dict[str, str], fill_thought: bool,
                   literal_replace: bool) -> Callable[..., str]:
    if literal_replace:
        base = template.replace("{doc}", fixed["doc"]).replace("{tool_names}", fixed["tool_names"])

        def render_replace(history: str, thought: str = "") -> str:
            text = base.replace("{history}", history)
            return (text.replace("{thought}", thought) if fill_thought else text) + suffix

        return render_replace
    # The template as literal text (docs and names filled in) around the {history} / {thought} slots.
    pieces: list[str] = [""]
    slots: list[str] = []
    for literal, name in _parse_template(template):
        pieces[-1] += literal
        if name is None:
            continue
        if name in fixed:
            pieces[-1] += fixed[name]
        else:
            slots.append(name)
            pieces.append("")
    pieces[-1] += suffix
    if slots == ["history"]:
        head, tail = pieces
        return lambda history, thought="": head + history + tail
    if slots == ["history", "thought"]:
        head, mid, tail = pieces
        return lambda history, thought="": head + history + mid + thought + tail

    def render(history: str, thought: str = "") -> str:
        values = {"history": history, "thought": thought}
        out = [pieces[0]]
        for slot, piece in zip(slots, pieces[1:]):
            out += (values[slot], piece)
        return "".join(out)

    return render


_SUBFUNCTION = re.compile(r'^This is the subfunction for tool "[^"]*", you can use this tool\.\s*'
                          r'(?:The description of this function is: "(.*)")?\s*$', re.S)


def render_docs_compact(tools: Iterable[Tool | dict]) -> str:
    """Tool documentation in fewer tokens: ``name: description. Input: {args}`` per line.

    ToolBench's boilerplate (``This is the subfunction for tool ...``) is dropped, the description kept,
    the arguments written as compact JSON. Used by ``PromptStyle(compact_docs=True)``.

    >>> render_docs_compact([{"Name": "a", "function": "Adds.", "input": {"x": "int, required"}}])
    'a: Adds. Input: {"x":"int, required"}\\n'
    """
    lines = []
    for t in tools:
        d = t.to_dict() if isinstance(t, Tool) else t
        desc = str(d.get("function", ""))
        m = _SUBFUNCTION.match(desc)
        if m:
            desc = m.group(1) or ""
        args = json.dumps(d.get("input", {}), ensure_ascii=False, separators=(",", ":"))
        lines.append(f"{d.get('Name', '')}: {desc.strip()} Input: {args}\n")
    return "".join(lines)


@dataclass(frozen=True)
class PromptStyle:
    """How a role sample's ``input`` becomes the model's text; the same object serves training and inference.

    ``system_prefix``: prepend ``"system: "`` (the official training format). Default on, on both sides.
    ``compact_docs``: the tool documentation inside the input is re-rendered by ``render_docs_compact``
    (needs the sample's ``tools``). ``chat_template``: the text becomes one user message rendered by the
    tokenizer's own chat template with the generation prompt (for instruct models such as
    ``smollm2-135m``); ``system_prefix`` is then not added. ``space_to_target`` (not the official format): the
    prompt's trailing spaces (``"... assistant: "``) move to the start of the target (``" I need ..."``) and
    serving drops the one space the model writes first (``output_text``). A byte-level BPE tokenizer (the
    embedded model's) writes a word with its leading space, so the official boundary ends the prompt on a
    bare-space token that pretraining text never puts before a word and starts the target with spaceless
    word tokens; this keeps the boundary as the pretraining transcripts have it.
    """

    system_prefix: bool = True
    compact_docs: bool = False
    chat_template: bool = False
    space_to_target: bool = False

    def model_prompt(self, input_text: str, *, tools: Iterable[Tool | dict] | None = None, tokenizer=None) -> str:
        """The exact prompt string fed to the tokenizer.

        >>> PromptStyle().model_prompt("x assistant: ")
        'system: x assistant: '
        """
        if self.compact_docs:
            if tools is None:
                raise ValueError("PromptStyle(compact_docs=True) needs the sample's tools")
            tools = list(tools)
            if tools:
                input_text = input_text.replace(render_docs(tools), render_docs_compact(tools), 1)
        if self.chat_template:
            if tokenizer is None or not getattr(tokenizer, "chat_template", None):
                raise ValueError("PromptStyle(chat_template=True) needs a tokenizer that has a chat template")
            return tokenizer.apply_chat_template([{"role": "user", "content": input_text}], tokenize=False,
                                                 add_generation_prompt=True)
        text = ("system: " if self.system_prefix else "") + input_text
        return text.rstrip(" ") if self.space_to_target else text

    def target_text(self, target: str) -> str:
        """The training target as the model writes it after ``model_prompt``.

        >>> PromptStyle(space_to_target=True).target_text("hi"), PromptStyle().target_text("hi")
        (' hi', 'hi')
        """
        return " " + target if self.space_to_target and not self.chat_template else target

    def output_text(self, generated: str) -> str:
        """A generated text as the protocol reads it: ``target_text`` undone.

        >>> PromptStyle(space_to_target=True).output_text(" hi")
        'hi'
        """
        if self.space_to_target and not self.chat_template and generated.startswith(" "):
            return generated[1:]
        return generated


DEFAULT_STYLE = PromptStyle()
