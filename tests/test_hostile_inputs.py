"""Hostile inputs: readers that never crash, registries that never raise, CLI numbers that are checked,
a sandbox that refuses to run model code without OS isolation, and a fuzz test over every CLI reader."""

import contextlib
import errno
import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from umi_lab import io as uio
from umi_lab.cli import _describe, main
from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, Turn
from umi_lab.tools import sandbox
from umi_lab.tools.cache_replay import CacheReplayRegistry, normalise_arguments
from umi_lab.tools.calculator import CalculatorRegistry
from umi_lab.tools.registry import (
    BAD_ARGUMENTS,
    TOOL_ERROR,
    ArgumentError,
    FunctionRegistry,
    ToolSpec,
    parse_arguments,
)
from umi_lab.toolworld.success import dialogue_calls

DEEP = "[" * 100_000
DEEP_OBJ = '{"a":' * 100_000


def _write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------- readers

@pytest.mark.parametrize("text", [DEEP, DEEP_OBJ, "[" * 5000 + "]" * 5000])
def test_read_json_deep_nesting_is_located(tmp_path, text):
    p = _write(tmp_path, "deep.json", text.encode())
    with pytest.raises(DataError, match="nested too deeply") as info:
        uio.read_json(p)
    assert info.value.file == str(p)


def test_read_jsonl_deep_line_names_the_record(tmp_path):
    p = _write(tmp_path, "d.jsonl", b'{"a": 1}\n\n' + DEEP.encode() + b"\n")
    with pytest.raises(DataError, match="nested too deeply") as info:
        uio.read_jsonl(p)
    assert (info.value.file, info.value.record) == (str(p), 2)


def test_read_json_not_utf8_names_line(tmp_path):
    p = _write(tmp_path, "l.json", b'[\n{"a": "caf\xe9"}]')
    with pytest.raises(DataError, match=r"not UTF-8 text \(line 2"):
        uio.read_json(p)


def test_read_jsonl_not_utf8_names_record(tmp_path):
    p = _write(tmp_path, "l.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": "\xff"}\n')
    with pytest.raises(DataError, match="not UTF-8") as info:
        uio.read_jsonl(p)
    assert info.value.record == 2


@pytest.mark.parametrize("reader", [uio.read_json, uio.read_jsonl, uio.read_records, uio.read_text])
def test_directory_is_located(tmp_path, reader):
    with pytest.raises(DataError, match="is a directory") as info:
        reader(tmp_path)
    assert info.value.file == str(tmp_path)


@pytest.mark.parametrize("reader", [uio.read_json, uio.read_jsonl, uio.read_text])
def test_missing_file_is_located(tmp_path, reader):
    with pytest.raises(DataError, match="file not found"):
        reader(tmp_path / "nope.json")


def test_huge_line_is_refused_not_read(tmp_path):
    p = _write(tmp_path, "big.jsonl", b'{"a": 1}\n"' + b"x" * 5000 + b'"\n')
    with pytest.raises(DataError, match="longer than the 1000-byte limit") as info:
        list(uio.iter_jsonl(p, max_line_bytes=1000))
    assert info.value.record == 1


def test_whole_file_size_cap(tmp_path):
    p = _write(tmp_path, "big.json", b"[" + b"1," * 1000 + b"1]")
    with pytest.raises(DataError, match="larger than the 100-byte limit"):
        uio.read_bytes(p, max_bytes=100)


def test_bom_and_blank_lines_are_fine(tmp_path):
    p = _write(tmp_path, "b.jsonl", b'\xef\xbb\xbf{"a": 1}\n\n  \n{"a": 2}\n')
    assert uio.read_jsonl(p) == [{"a": 1}, {"a": 2}]
    assert uio.read_json(_write(tmp_path, "b.json", b'\xef\xbb\xbf[1]')) == [1]


def test_invalid_json_line_and_column(tmp_path):
    with pytest.raises(DataError, match="invalid JSON at line 2 column"):
        uio.read_json(_write(tmp_path, "x.json", b'[1,\n2,,]'))


def test_full_disk_on_write_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    uio.write_json(target, {"old": True})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(uio.os, "fsync", full)
    with pytest.raises(DataError, match="cannot write: No space left on device") as info:
        uio.write_json(target, {"new": True})
    assert info.value.file == str(target)
    assert json.loads(target.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temp file left behind
    with pytest.raises(DataError, match="No space left"):
        uio.append_text(tmp_path / "log.jsonl", "{}\n")


def test_write_under_a_file_is_located(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="cannot write") as info:
        uio.write_jsonl(tmp_path / "f" / "out.jsonl", [1])
    assert info.value.file.endswith("out.jsonl")


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJ, "[" * 201 + "]" * 201, "{" * 300])
def test_loads_json_bounds_nesting(text):
    with pytest.raises(DataError, match="nested deeper than 200"):
        uio.loads_json(text, where="arguments")


def test_loads_json_ignores_brackets_in_strings_and_rejects_non_text():
    assert uio.loads_json(json.dumps({"a": "[" * 5000})) == {"a": "[" * 5000}
    assert uio.json_depth('"\\"[[[" [1]') == 1
    with pytest.raises(DataError, match="expected JSON text"):
        uio.loads_json(b"{}")


# ---------------------------------------------------------------- registries never raise

@pytest.mark.parametrize("arguments", [DEEP, DEEP_OBJ, '{"expression": ' + "[" * 5000 + "}", "\udcff{", "{" * 10])
def test_registry_deep_arguments_are_bad_arguments(arguments):
    obs = CalculatorRegistry().call("calculator", arguments)
    assert obs.status == BAD_ARGUMENTS
    with pytest.raises(ArgumentError):
        parse_arguments(arguments)


def test_registry_unserialisable_result_is_tool_error():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    reg = FunctionRegistry([ToolSpec("f", "d", {}, lambda: deep), ToolSpec("g", "d", {}, lambda: {1j})])
    assert reg.call("f", "{}").status == TOOL_ERROR
    assert reg.call("g", "{}").status == TOOL_ERROR


def test_cache_replay_never_raises_on_deep_arguments():
    assert normalise_arguments(DEEP).startswith("raw:")
    deep: dict = {}
    for _ in range(5000):
        deep = {"a": deep}
    assert normalise_arguments(deep).startswith("raw:")
    reg = CacheReplayRegistry([], {})
    assert reg.call("f", DEEP).status in ("unknown_tool", "bad_arguments", "not_in_cache")


def test_success_checker_counts_deep_arguments_as_unparsed():
    turns = [Turn("caller", "Action: f\nAction Input: " + DEEP), Turn("observation", DEEP_OBJ)]
    (call,) = dialogue_calls(Dialogue([], "q", turns))
    assert call.args is None and not call.ok


def test_cli_describes_reader_failures_in_one_line():
    assert _describe(IsADirectoryError(21, "Is a directory", "/x")) == "/x: Is a directory"
    assert "nested too deeply" in _describe(RecursionError())
    assert "not UTF-8" in _describe(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"))


# ---------------------------------------------------------------- CLI numbers

def _run_cli(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    return rc, err.getvalue()


BAD_NUMBERS = [
    ["evaluate", "--run", "r", "--benchmark", "math", "--checkpoint-every", "-1"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--checkpoint-every", "0"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--batch-size", "-1"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--batch-size", "0"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--max-steps", "-3"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--limit", "-1"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--max-new-tokens", "0"],
    ["evaluate", "--run", "r", "--benchmark", "math", "--limit", "1.5"],
    ["sandbox", "x.py", "--timeout", "nan"],
    ["sandbox", "x.py", "--timeout", "inf"],
    ["sandbox", "x.py", "--timeout", "-1"],
    ["sandbox", "x.py", "--timeout", "0"],
    ["sandbox", "x.py", "--cpu", "0"],
    ["sandbox", "x.py", "--memory-mb", "-5"],
    ["train", "--seed", "-1"],
    ["replay-html", "--trajectories", "t.jsonl", "--out", "o.html", "--limit", "-2"],
    ["toolworld", "generate", "--out", "o", "--n-train", "-1"],
    ["ablate", "--limit", "0"],
]


@pytest.mark.parametrize("argv", BAD_NUMBERS, ids=lambda a: " ".join(a[:1] + a[-2:]))
def test_bad_cli_numbers_are_usage_errors(argv):
    rc, err = _run_cli(argv)
    assert rc == 2
    assert "expected" in err and "Traceback" not in err


# ---------------------------------------------------------------- refusal without OS isolation

@pytest.fixture
def no_bwrap(monkeypatch):
    """Simulate a machine without bubblewrap: the probe finds nothing."""
    monkeypatch.setenv("UMI_LAB_BWRAP", "")
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    monkeypatch.setattr(sandbox, "_PROBE", {})


def test_refuses_without_isolation(no_bwrap):
    with pytest.raises(sandbox.SandboxRefused, match="bubblewrap"):
        sandbox.run_python("print(1)")
    obs = sandbox.PythonRegistry().call("python", {"code": "print(1)"})  # a counted outcome, not a crash
    assert obs.status == TOOL_ERROR and "SandboxRefused" in json.loads(obs.text)["error"]
    assert len(sandbox.PythonRegistry().tool_docs()) == 1  # the document needs no isolation
    with pytest.raises(sandbox.SandboxRefused):
        sandbox.isolation_mode("bwrap", unsafe_no_isolation=True)  # bwrap asked for explicitly: never unsafe


def test_refuses_when_bwrap_cannot_isolate(monkeypatch):
    monkeypatch.setenv("UMI_LAB_BWRAP", "/bin/false")
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    monkeypatch.setattr(sandbox, "_PROBE", {})
    with pytest.raises(sandbox.SandboxRefused, match="probe failed"):
        sandbox.run_python("print(1)")


def test_unsafe_flag_runs_and_says_so(no_bwrap, monkeypatch):
    result = sandbox.run_python("print(6 * 7)", unsafe_no_isolation=True)
    assert (result.stdout, result.isolation) == ("42\n", "none-unsafe")
    obs = sandbox.PythonRegistry(sandbox.SandboxConfig(unsafe_no_isolation=True)).call("python", {"code": "print(1)"})
    assert obs.ok and obs.data["isolation"] == "none-unsafe"
    monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
    assert sandbox.run_python("print(2)").isolation == "none-unsafe"


def test_cli_refuses_then_runs_with_the_flag(no_bwrap, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("print(sum(range(5)))\n")
    rc, err = _run_cli(["sandbox", str(prog)])
    assert rc == 2 and err.startswith("error: ") and "refusing" in err and "--unsafe-no-isolation" in err
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sandbox", str(prog), "--unsafe-no-isolation"]) == 0
    record = json.loads(out.getvalue())
    assert record["stdout"] == "10\n" and record["isolation"] == "none-unsafe"


@pytest.mark.parametrize("data", [b"print('\xff')", None])
def test_cli_sandbox_bad_program_file(tmp_path, data):
    p = tmp_path / "prog.py"
    if data is None:
        p.mkdir()
    else:
        p.write_bytes(data)
    rc, err = _run_cli(["sandbox", str(p)])
    assert rc == 2 and err.startswith(f"error: {p}: ")


# ---------------------------------------------------------------- fuzz over every CLI reader

READERS = [
    "convert toolbench-raw --input {IN} --out {OUT}", "convert alpha-umi-stage1 --input {IN} --out {OUT}",
    "convert gsm8k --input {IN} --out {OUT}", "convert tora --input {IN} --out {OUT}",
    "convert math --input {IN} --out {OUT}", "convert toolalpaca --input {IN} --out {OUT}",
    "split --input {IN} --out {OUT}", "split-data --input {IN} --out {OUT}",
    "static-samples --input {IN} --out {OUT}", "evaluate-static {IN}",
    "grade-answers --pred-key a --gold-key b {IN}", "replay-html --trajectories {IN} --out {OUT}/r.html",
    "toolworld check --data {IN}", "train --config {IN} --out {OUT} --smoke",
]

HOSTILE_FILES = st.one_of(
    st.binary(max_size=200),
    st.integers(1100, 20_000).map(lambda n: ("[" * n).encode()),
    st.integers(1100, 20_000).map(lambda n: ('{"a":' * n).encode()),
    st.tuples(st.binary(min_size=1, max_size=20), st.sampled_from([b"\xff", b"\xc3", b"\xe9\x00"])).map(
        lambda t: b'[{"a": "' + t[0].replace(b'"', b"") + t[1] + b'"}]'),
)


@pytest.mark.parametrize("command", READERS, ids=lambda c: c.split(" {")[0].split(" --")[0])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=HOSTILE_FILES, suffix=st.sampled_from([".json", ".jsonl"]))
def test_fuzz_cli_reader_never_tracebacks(tmp_path, command, data, suffix):
    path = tmp_path / f"in{suffix}"
    path.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    argv = command.format(IN=path, OUT=out).split()
    err, sink = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(sink):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    assert rc in (0, 1, 2), (argv, err.getvalue()[-500:])
    assert "Traceback" not in err.getvalue()
    try:
        data.decode("utf-8")
        invalid = data.count(b"[") + data.count(b"{") > 1000 and b"]" not in data
    except UnicodeDecodeError:
        invalid = True
    if invalid:
        assert rc == 2 and err.getvalue().startswith("error: ") and str(path) in err.getvalue(), err.getvalue()
    elif rc == 2:
        assert err.getvalue().startswith("error: ")


@pytest.mark.parametrize("command", READERS, ids=lambda c: c.split(" {")[0].split(" --")[0])
def test_cli_reader_given_a_directory(tmp_path, command):
    src = tmp_path / "dir_input"
    src.mkdir()
    (tmp_path / "out").mkdir()
    rc, err = _run_cli(command.format(IN=src, OUT=tmp_path / "out").split())
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    if os.environ.get("UMI_HOSTILE_VERBOSE"):
        print(command, err)


# ---------------------------------------------------------------- calculator: bounded, never raises

@pytest.mark.parametrize("expression", ["(" * 999 + "1" + ")" * 999, "-" * 1999 + "1", "2**" * 600 + "2",
                                        "9" * 1999, "9**9999*9**9999*9**9999", "(" * 100_000, "1/0", "nan",
                                        "\x00", "1" * 999 + "/" + "7" * 999])
def test_calculator_hostile_expression_is_an_outcome(expression):
    obs = CalculatorRegistry().call("calculator", {"expression": expression})
    assert obs.status in (TOOL_ERROR, BAD_ARGUMENTS) and json.loads(obs.text)["error"]
