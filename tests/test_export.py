"""Role datasets → Hugging Face datasets and TRL's conversational tool-calling format (``umi_lab.export``)."""

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("datasets")
from datasets import load_dataset, load_from_disk  # noqa: E402

from umi_lab import cli  # noqa: E402
from umi_lab.errors import DataError  # noqa: E402
from umi_lab.export import chat_row, export_roles, tool_schema  # noqa: E402
from umi_lab.io import read_records, write_json  # noqa: E402
from umi_lab.protocol.grammar import parse_call  # noqa: E402
from umi_lab.splitting import split_roles  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ROLE_SETS = ("backbone", "planner", "caller", "summarizer", "multitask")

# A tool-capable chat template of our own: tools as JSON, calls as <call>{"name", "arguments"}</call>.
TOOL_TEMPLATE = (
    "{%- if tools %}<|tools|>{% for t in tools %}{{ t | tojson }}\n{% endfor %}{% endif %}"
    "{%- for m in messages %}<|{{ m.role }}|>{% if m.content %}{{ m.content }}{% endif %}"
    "{%- if m.tool_calls %}{% for c in m.tool_calls %}<call>"
    "{{ {'name': c.function.name, 'arguments': c.function.arguments} | tojson }}</call>{% endfor %}{% endif %}"
    "</s>\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def roles_dir(tmp_path_factory):
    """The role datasets of the first 40 ToolWorld training dialogues, as `python -m umi_lab split` writes them."""
    dialogues = read_records(REPO / "data" / "toolworld" / "train.json")[:40]
    out = tmp_path_factory.mktemp("roles")
    for role, records in split_roles(dialogues).items():
        write_json(out / f"train_{role}.json", records)
    return out


@pytest.fixture(scope="module")
def exported(roles_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    return export_roles(roles_dir, out), out


@pytest.fixture(scope="module")
def tool_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "</s>": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="</s>")
    tokenizer.chat_template = TOOL_TEMPLATE
    return tokenizer


def test_every_role_becomes_a_split_with_every_record(roles_dir, exported):
    report, out = exported
    records = {r: read_records(roles_dir / f"train_{r}.json") for r in ROLE_SETS}
    assert report.rows == {r: len(v) for r, v in records.items()}
    assert report.calls_kept_as_text == {} and report.tool_messages_without_call == {}
    saved, chat = load_from_disk(str(out / "records")), load_from_disk(str(out / "chat"))
    for role in ROLE_SETS:
        assert saved[role].to_list() == records[role]                       # records unchanged
        assert chat[role].num_rows == len(records[role])
    assert chat["multitask"]["role"] == (["planner"] * len(records["planner"]) + ["caller"] * len(records["caller"])
                                         + ["summarizer"] * len(records["summarizer"]))
    assert json.loads((out / "export_report.json").read_text())["rows"] == report.rows


def test_parquet_copies_equal_the_saved_datasets(exported):
    _, out = exported
    chat = load_from_disk(str(out / "chat"))
    for role in ("caller", "backbone"):
        back = load_dataset("parquet", data_files=str(out / "parquet" / "chat" / f"{role}.parquet"), split="train")
        assert back.to_list() == chat[role].to_list()


def test_calls_become_tool_calls_and_parse_back_to_the_same_call(roles_dir, exported):
    _, out = exported
    chat = load_from_disk(str(out / "chat"))
    records = read_records(roles_dir / "train_caller.json")
    for rec, row in zip(records, chat["caller"], strict=True):
        parsed = parse_call(rec["target"])
        name, args, err = parsed.tool, parsed.arguments, parsed.error
        last = row["messages"][-1]
        assert err is None and last["role"] == "assistant" and last["content"] == ""
        [call] = last["tool_calls"]
        assert call["function"] == {"name": name, "arguments": json.loads(args)}
        assert [t["function"]["name"] for t in row["tools"]] == [t["Name"] for t in rec["tools"]]
        assert row["messages"][0]["role"] == "system" and row["messages"][1]["role"] == "user"
        # every observation answers the call before it
        for i, m in enumerate(row["messages"]):
            if m["role"] == "tool":
                assert m["tool_call_id"] == row["messages"][i - 1]["tool_calls"][0]["id"]


def test_backbone_rows_hold_thought_and_call_in_one_message(roles_dir, exported):
    _, out = exported
    chat = load_from_disk(str(out / "chat"))
    records = read_records(roles_dir / "train_backbone.json")
    for rec, row in zip(records, chat["backbone"], strict=True):
        last = row["messages"][-1]
        if "\nAction:" in rec["target"]:
            assert last["content"] == rec["target"].split("\nAction:")[0]
            assert last["tool_calls"][0]["function"]["name"] == parse_call(rec["target"]).tool
        else:
            assert last == {"role": "assistant", "content": rec["target"]}
        # the backbone's history is its own past outputs: no "Next:" marks, no separate caller messages
        assert not any("Next:" in (m.get("content") or "") for m in row["messages"][1:])


def test_planner_and_summarizer_targets_stay_verbatim(roles_dir, exported):
    _, out = exported
    chat = load_from_disk(str(out / "chat"))
    for role in ("planner", "summarizer"):
        for rec, row in zip(read_records(roles_dir / f"train_{role}.json"), chat[role], strict=True):
            assert row["messages"][-1] == {"role": "assistant", "content": rec["target"]}


def test_a_tool_capable_chat_template_renders_every_row(exported, tool_tokenizer):
    from trl.chat_template_utils import supports_tool_calling
    from trl.data_utils import apply_chat_template, is_conversational

    assert supports_tool_calling(tool_tokenizer)
    _, out = exported
    chat = load_from_disk(str(out / "chat"))
    for role in ("backbone", "planner", "caller", "summarizer"):
        for row in chat[role].select(range(min(25, chat[role].num_rows))):
            assert is_conversational(row)
            text = apply_chat_template({"messages": row["messages"]}, tool_tokenizer, tools=row["tools"])["text"]
            for tool in row["tools"]:
                assert json.loads(json.dumps(tool)) and tool["function"]["name"] in text
            rendered = [json.loads(c) for c in re.findall(r"<call>(.*?)</call>", text)]
            expected = [c["function"] for m in row["messages"] for c in m.get("tool_calls") or []]
            assert rendered == expected                                      # calls survive the template
            ids = tool_tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=True,
                                                     return_dict=False)
            assert len(ids) > 0


def test_tool_schema_reads_types_and_required_flags():
    schema = tool_schema({"Name": "f", "function": "d", "input": {
        "q": "string, required, part of a name", "n": "integer, optional, at most", "x": "string, ", "y": "weird"}})
    params = schema["function"]["parameters"]
    assert params["required"] == ["q"]
    assert params["properties"] == {"q": {"type": "string", "description": "part of a name"},
                                    "n": {"type": "integer", "description": "at most"},
                                    "x": {"type": "string"}, "y": {"type": "string", "description": "weird"}}


def test_unparseable_calls_are_kept_as_text_and_counted():
    from umi_lab.export import ExportReport

    report = ExportReport()
    rec = {"tools": [], "input": "", "history": [{"from": "user", "value": "hi"}],
           "target": "Action: f\nAction Input: not json"}
    row = chat_row(rec, "caller", report)
    assert row["messages"][-1] == {"role": "assistant", "content": rec["target"]}
    assert report.calls_kept_as_text == {"caller": {"arguments are not JSON": 1}}


def test_bad_role_files_name_file_record_and_field(tmp_path):
    write_json(tmp_path / "train_planner.json", [{"tools": [], "history": [], "input": "x"}])
    with pytest.raises(DataError, match=r"train_planner.json: record 0: field target"):
        export_roles(tmp_path, tmp_path / "out")
    write_json(tmp_path / "train_planner.json", [{"tools": [], "history": [{"from": "robot", "value": "x"}],
                                                  "input": "x", "target": "y"}])
    with pytest.raises(DataError, match=r"record 0: field history\[0\].from"):
        export_roles(tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="no train_<role>.json"):
        export_roles(tmp_path / "out", tmp_path / "out2")


def test_cli_export_roles(roles_dir, tmp_path, capsys):
    assert cli.main(["export-roles", "--roles", str(roles_dir), "--out", str(tmp_path), "--no-parquet"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["command"] == "export-roles" and line["rows"]["caller"] > 0
    assert (tmp_path / "chat" / "dataset_dict.json").is_file() and not (tmp_path / "parquet").exists()
