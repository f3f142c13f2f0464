"""A scripted model server for evaluation tests: ``Scripted(fn)`` answers each prompt with ``fn(role, prompt,
settings)`` through the library's own prompt renderer, and logs every call (``.calls``)."""

from __future__ import annotations

from umi_lab.protocol.prompts import PromptStyle, role_input
from umi_lab.serving import Generation


class Scripted:
    """A model stand-in: ``fn(role, prompt, settings)`` answers each prompt; every call is logged."""

    def __init__(self, fn, method="alpha_umi", roles=("planner", "caller", "summarizer")):
        self.fn, self.method, self.family, self.style = fn, method, "toolbench", PromptStyle()
        self.role_map = {r: r for r in roles}
        self.calls: list[tuple[str, str, object]] = []

    def prompt(self, role, tools, history, *, thought=""):
        return self.style.model_prompt(role_input(role, tools, history, thought=thought, family=self.family))

    def generate(self, prompts, roles, config=None):
        self.calls += [(r, p, config) for p, r in zip(prompts, roles)]
        return [Generation(self.fn(r, p, config), 3, 2, 0.0) for p, r in zip(prompts, roles)]
