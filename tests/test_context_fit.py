"""Prompt styles (compact tool docs, chat template) and the truncation share per role."""

import pytest

from umi_lab.protocol.prompts import PromptStyle, render_docs, render_docs_compact, role_input

TOOLS = [{"Name": "convert_for_money", "function": 'This is the subfunction for tool "money", you can use this '
          'tool.The description of this function is: "Convert an amount."', "input": {"amount": "number, required"}},
         {"Name": "plain", "function": "Says hi.", "input": {}}]


def test_compact_docs_replace_the_official_docs_only():
    text = role_input("caller", TOOLS, "user: hi</s>", thought="convert")
    out = PromptStyle(compact_docs=True).model_prompt(text, tools=TOOLS)
    assert render_docs(TOOLS) in text and render_docs(TOOLS) not in out
    assert out == "system: " + text.replace(render_docs(TOOLS), render_docs_compact(TOOLS))
    assert render_docs_compact(TOOLS) == ('convert_for_money: Convert an amount. Input: {"amount":"number, required"}\n'
                                          'plain: Says hi. Input: {}\n')
    assert "[convert_for_money, plain]" in out                      # the tool-name list stays
    summary = role_input("summarizer", TOOLS, "user: hi</s>")       # no docs in it: unchanged
    assert PromptStyle(compact_docs=True).model_prompt(summary, tools=TOOLS) == "system: " + summary
    with pytest.raises(ValueError, match="needs the sample's tools"):
        PromptStyle(compact_docs=True).model_prompt(text)


def test_chat_template_style_uses_the_tokenizers_template():
    class Tok:
        chat_template = "x"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            assert not tokenize and add_generation_prompt
            return f"<u>{messages[0]['content']}</u><a>"

    assert PromptStyle(chat_template=True).model_prompt("q", tokenizer=Tok()) == "<u>q</u><a>"
    with pytest.raises(ValueError, match="chat template"):
        PromptStyle(chat_template=True).model_prompt("q", tokenizer=object())


def test_default_preset_cuts_no_toolworld_prompt():
    """The study default (tiny tokenizer, compact docs, 1,280 tokens): the longest prompts of each role fit.

    The tokenizer is trained as ``build_tiny`` trains it here (with the shared data when it is found)."""
    pytest.importorskip("transformers")
    from umi_lab.context_fit import tiny_tokenizer, truncation_report
    from umi_lab.study import StudyConfig
    from umi_lab.training import load_role_data

    extra = StudyConfig().extra_train
    style = PromptStyle(**extra["prompt_style"])
    samples, _ = load_role_data("data/toolworld", ["backbone", "planner", "caller", "summarizer"])
    longest = {r: sorted(s, key=lambda x: len(x["input"]) + len(x["target"]))[-40:] for r, s in samples.items()}
    tok = tiny_tokenizer("default")
    rep = truncation_report(longest, tok, max_length=extra["max_length"], style=style)
    assert {r: v["prompt_truncated"] for r, v in rep.items()} == dict.fromkeys(longest, 0)
    before = truncation_report(longest, tok, max_length=768, style=PromptStyle())
    assert all(before[r]["prompt_truncated"] == 40 for r in ("backbone", "planner", "caller"))
