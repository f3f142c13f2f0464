"""The python sandbox: hostile snippets end as error observations and leave the host untouched;
ordinary programs (sympy, prints, files in the working directory) work; registry and CLI."""

import argparse
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from umi_lab.tools.registry import BAD_ARGUMENTS, OK, TOOL_ERROR, UNKNOWN_TOOL
from umi_lab.tools.sandbox import (
    OUTPUT_KILL_BYTES,
    PythonRegistry,
    SandboxConfig,
    SandboxRefused,
    SandboxResult,
    add_cli,
    isolation_mode,
    run_python,
    strip_code_fences,
)

LIMITS = {"timeout_s": 2.0, "cpu_s": 2, "memory_mb": 384, "max_output": 2000}


def _bwrap_works() -> bool:
    try:
        return isolation_mode("bwrap") == "bwrap"
    except SandboxRefused:
        return False


BWRAP = _bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="bubblewrap isolation not available here")


@pytest.fixture(autouse=True)
def _ordinary_runs_without_bwrap(monkeypatch):
    """Where bubblewrap cannot isolate, the ordinary-program tests run under rlimits and hooks only (the
    hostile ones that need the OS layer are skipped)."""
    if not BWRAP:
        monkeypatch.setenv("UMI_LAB_UNSAFE_NO_ISOLATION", "1")
SECRET = "umi-h3-secret-value-5f1c"

# (name, code template, expected fragment(s) of the error or None, run also without OS isolation
#  [, limits replacing LIMITS])
HOSTILE = [
    ("infinite_loop", "while True:\n    pass", "TimeoutError", False),
    ("busy_arithmetic", "x = 0\nwhile True:\n    x = (x * 7 + 1) % 1000003", "TimeoutError", False),
    ("cpu_limit", "while True:\n    pass", "CPU time limit exceeded (1 s)", False, {"timeout_s": 30.0, "cpu_s": 1}),
    ("segfault", "import faulthandler\nfaulthandler._sigsegv()", "SIGSEGV", True),
    ("abort", "import os\nos.abort()", "SIGABRT", True),
    ("sleep_forever", "import time\ntime.sleep(1000)", "timed out", False),
    ("close_pipes_and_hang", "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(1000)", "timed out", False),
    ("huge_power", "print(10 ** 10 ** 10)", None, False),
    ("fork_bomb", "import os\nwhile True:\n    os.fork()", "os.fork", True),
    ("multiprocessing", "import multiprocessing as mp\np = mp.Process(target=print)\np.start()\np.join()",
     "not allowed", True),
    ("subprocess_run", "import subprocess\nsubprocess.run(['touch', '{outside}'])", "subprocess.Popen", True),
    ("os_system", "import os\nos.system('touch {outside}')", "os.system", True),
    ("os_exec", "import os\nos.execv('/bin/sh', ['sh', '-c', 'touch {outside}'])", "os.exec", True),
    ("posix_spawn", "import os\nos.posix_spawn('/bin/touch', ['touch', '{outside}'], {{}})", "os.posix_spawn", True),
    ("pty_spawn", "import pty\npty.spawn('/bin/sh')", "not allowed", True),
    ("thread_bomb", "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,)).start()",
     None, False),
    ("memory_bomb_alloc", "x = bytearray(8 * 1024 ** 3)", "MemoryError", False),
    ("memory_bomb_grow", "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 8))", "MemoryError", False,
     {"timeout_s": 10.0}),  # zeroing 400 MB can take more than 2 s on a loaded machine
    ("output_flood", "while True:\n    print('x' * 1000)", "OutputLimitError", False),
    ("output_single_write", "import sys\nsys.stdout.write('y' * 50_000_000)", "OutputLimitError", False),
    ("disk_fill", "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * 2 ** 20)",
     "File too large", False),
    ("many_files", "for i in range(100000):\n    open(f'f{{i}}', 'w').close()", "2000 files", True,
     {"timeout_s": 20.0, "cpu_s": 10}),  # 2,000 file creations take a while on a loaded machine
    ("write_outside", "open('{outside}', 'w').write('pwned')", "writing outside", True),
    ("write_outside_pathlib", "import pathlib\npathlib.Path('{outside}').write_text('pwned')", "writing outside",
     True),
    ("write_outside_os_open", "import os\nfd = os.open('{outside}', os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'x')",
     "writing outside", True),
    ("write_relative_escape", "open('{escape}', 'w').write('pwned')", "writing outside", True),
    ("append_canary", "open('{canary}', 'a').write('pwned')", "writing outside", True),
    ("delete_canary", "import os\nos.remove('{canary}')", "os.remove", True),
    ("rmtree_canary_dir", "import shutil\nshutil.rmtree('{canary_dir}')", "shutil.rmtree", True),
    ("rename_canary", "import os\nos.rename('{canary}', 'stolen.txt')", "os.rename", True),
    ("truncate_canary", "import os\nos.truncate('{canary}', 0)", "os.truncate", True),
    ("chmod_canary", "import os\nos.chmod('{canary}', 0o777)", "os.chmod", True),
    ("symlink_escape", "import os\nos.symlink('{canary}', 'link')\nopen('link', 'w').write('x')", "os.symlink",
     True),
    ("chdir_escape", "import os\nos.chdir('{canary_dir}')\nopen('canary.txt', 'w').write('x')", "os.chdir", True),
    ("dir_fd_escape", "import os\nd = os.open('{canary_dir}', os.O_RDONLY)\nos.unlink('canary.txt', dir_fd=d)",
     ("dir_fd", "Permission denied", "No such file"), True),
    ("network_connect", "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)", "socket",
     True),
    ("network_raw_socket", "import _socket\ns = _socket.socket()\ns.connect(('127.0.0.1', {port}))",
     "socket.__new__", True),
    ("network_urllib", "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/', timeout=1)",
     "socket", True),
    ("kill_parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "os.kill", False),
    ("signal_test_process", "import os, signal\nos.kill({pid}, signal.SIGUSR1)", "os.kill", True),
    ("killpg", "import os, signal\nos.killpg(os.getpgid({pid}), signal.SIGUSR1)", ("os.killpg", "No such process"),
     True),  # under bwrap the host's processes do not exist
    ("pthread_kill", "import signal, threading\nsignal.pthread_kill(threading.main_thread().ident, signal.SIGKILL)",
     "signal.pthread_kill", True),
    ("ignore_signals_and_spin",
     "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):\n    signal.signal(s, signal.SIG_IGN)\n"
     "while True:\n    pass", None, False),
    ("ctypes_libc_kill", "import ctypes\nlibc = ctypes.CDLL('libc.so.6')\nlibc.kill({pid}, 10)", "ctypes", True),
    ("ctypes_read_memory", "import ctypes\nctypes.string_at(0)", "ctypes", True),
    ("ctypes_pythonapi", "import ctypes\nctypes.pythonapi.Py_Exit(0)", "ctypes", True),
    ("leave_process_group", "import os, time\nos.setpgid(0, 0)\nos.setsid()\ntime.sleep(1000)",
     "Operation not permitted", True),
    ("fchmod_through_fd", "import os\nfd = os.open('{canary}', os.O_RDONLY)\nos.fchmod(fd, 0o777)",
     ("file descriptor", "Permission denied", "No such file"), True),
    ("posixsubprocess_direct", "import _posixsubprocess\n_posixsubprocess.fork_exec()", "starting processes", True),
    ("reimport_posixsubprocess", "import sys\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess",
     "importing _posixsubprocess", True),
    ("write_proc_self_mem", "open('/proc/self/mem', 'wb').write(b'x')", "writing outside", True),
    ("path_subclass", "import pathlib\nclass P(type(pathlib.Path())):\n    pass\nopen(P('{outside}'), 'w')",
     ("unsupported type", "writing outside"), True),
    ("remove_via_path_subclass", "import os, pathlib\nclass P(type(pathlib.Path())):\n    pass\nos.remove(P('{canary}'))",
     "os.remove", True),
    ("str_subclass_path", "class S(str):\n    pass\nopen(S('{outside}'), 'w')", ("unsupported type", "writing outside"), True),
    ("proc_through_dir_fd", "import os\nd = os.open('/proc', os.O_RDONLY)\n"
     "print(os.read(os.open('{pid}/environ', os.O_RDONLY, dir_fd=d), 4000))", "relative path", True),
    ("shadow_file", "print(open('/etc/shadow').read())", "reading /etc/shadow", True),
    ("proc_environ_of_host", "print(open('/proc/{pid}/environ').read())", "/proc", True),
    ("read_root_home", "print(open('/root/.bashrc').read())", "reading /root", True),
    ("raise_rlimit", "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1000, 1000))", "setrlimit", True),
    ("gc_walk_for_hook", "import gc\nprint(len(gc.get_objects()))", "gc.get_objects", True),
    ("extra_audit_hook", "import sys\nsys.addaudithook(lambda *a: None)\nopen('{outside}', 'w')", "writing outside",
     True),
    ("rewrite_code_object", "def f():\n    pass\nf.__code__ = (lambda: 1).__code__", "__code__", True),
    ("recursion_bomb", "def f(n):\n    return f(n + 1)\nf(0)", "RecursionError", True),
    ("recursion_limit_raised", "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)",
     None, False),
    ("sys_exit_code", "import sys\nsys.exit(7)", "SystemExit: 7", True),
    ("os_exit_code", "import os\nos._exit(5)", "exited with status 5", True),
    ("read_stdin", "input()", "EOFError", True),
    ("syntax_error", "def (:\n", "SyntaxError", True),
]


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """What the snippets attack: files the test owns, a listening port, this process, a secret variable."""
    root = tmp_path_factory.mktemp("host")
    canary_dir = root / "canary_dir"
    canary_dir.mkdir()
    canary = canary_dir / "canary.txt"
    canary.write_text("do not touch\n")
    outside = root / "outside.txt"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    usr1 = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: usr1.append(1))
    os.environ["UMI_H3_SECRET"] = SECRET
    sandboxes = tempfile.mkdtemp(prefix="umi-h3-sandboxes-")
    os.chmod(sandboxes, 0o755)
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, sandboxes
    values = {"outside": str(outside), "canary": str(canary), "canary_dir": str(canary_dir),
              "port": listener.getsockname()[1], "pid": os.getpid(),
              "escape": "../" * 30 + str(outside).lstrip("/")}
    try:
        yield {"values": values, "canary": canary, "canary_dir": canary_dir, "outside": outside,
               "listener": listener, "usr1": usr1, "sandboxes": Path(sandboxes)}
    finally:
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(sandboxes, ignore_errors=True)
        signal.signal(signal.SIGUSR1, previous)
        os.environ.pop("UMI_H3_SECRET", None)
        listener.close()


def _call(code, limits, isolation="auto"):
    """Run one snippet the way an agent does: a ``python`` tool call on a PythonRegistry."""
    registry = PythonRegistry(SandboxConfig(**limits, isolation=isolation, unsafe_no_isolation=isolation == "none"))
    obs = registry.call("python", {"code": code})
    return obs, SandboxResult(**obs.data)


def _run_all(cases, values, isolation="auto"):
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case[0]: pool.submit(_call, case[1].format(**values),
                                         {**LIMITS, **(case[4] if len(case) > 4 else {})}, isolation)
                   for case in cases}
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="module")
def outcomes(host):
    results = _run_all(HOSTILE, host["values"])
    results["env_dump"] = _call("import os\nprint(dict(os.environ))", LIMITS)
    return results


@pytest.fixture(scope="module")
def outcomes_hooks_only(host):
    """The same attacks with OS isolation switched off: rlimits and audit hooks alone must hold."""
    return _run_all([c for c in HOSTILE if c[3]], host["values"], isolation="none")


def _check_error(outcome, fragment):
    obs, result = outcome
    assert result.error, f"no error; stdout={result.stdout[:200]!r} stderr={result.stderr[-300:]!r}"
    assert obs.status == TOOL_ERROR and not obs.ok
    assert json.loads(obs.text) == {"error": result.error, "response": result.stdout}
    if fragment:
        alternatives = fragment if isinstance(fragment, tuple) else (fragment,)
        assert any(a in result.error for a in alternatives), result.error
    assert len(result.stdout) <= LIMITS["max_output"]


def test_at_least_thirty_hostile_snippets():
    assert len(HOSTILE) >= 30
    assert len({name for name, *_ in HOSTILE}) == len(HOSTILE)


@needs_bwrap
@pytest.mark.parametrize("name, fragment", [(c[0], c[2]) for c in HOSTILE])
def test_hostile_snippet_ends_as_error(outcomes, name, fragment):
    _check_error(outcomes[name], fragment)


@pytest.mark.parametrize("name, fragment", [(c[0], c[2]) for c in HOSTILE if c[3]])
def test_hostile_snippet_ends_as_error_with_hooks_only(outcomes_hooks_only, name, fragment):
    _check_error(outcomes_hooks_only[name], fragment)


@needs_bwrap
def test_specific_outcomes(outcomes):
    outcomes = {name: result for name, (_, result) in outcomes.items()}
    assert outcomes["sleep_forever"].timed_out and outcomes["close_pipes_and_hang"].timed_out
    assert outcomes["infinite_loop"].timed_out
    assert outcomes["cpu_limit"].timed_out and outcomes["cpu_limit"].exit_status == -signal.SIGXCPU
    assert outcomes["segfault"].exit_status == -signal.SIGSEGV
    assert outcomes["sys_exit_code"].exit_status == 7
    assert outcomes["os_exit_code"].exit_status == 5
    flood = outcomes["output_flood"]
    assert flood.truncated and len(flood.stdout) == LIMITS["max_output"] and set(flood.stdout) <= {"x", "\n"}
    assert str(OUTPUT_KILL_BYTES) in flood.error
    assert "Traceback" in outcomes["recursion_bomb"].stderr


@needs_bwrap
def test_environment_is_scrubbed(outcomes):
    outcomes = {name: result for name, (_, result) in outcomes.items()}
    dump = outcomes["env_dump"]
    assert dump.ok and "PATH" in dump.stdout
    assert SECRET not in dump.stdout and "UMI_H3_SECRET" not in dump.stdout
    assert all(SECRET not in r.stdout + r.stderr for r in outcomes.values())


@needs_bwrap
def test_host_untouched(host, outcomes, outcomes_hooks_only):
    assert host["canary"].read_text() == "do not touch\n"
    assert sorted(p.name for p in host["canary_dir"].iterdir()) == ["canary.txt"]
    assert not host["outside"].exists()
    with pytest.raises(BlockingIOError):  # nobody connected to the test's listening port
        host["listener"].accept()
    assert host["usr1"] == []
    assert list(host["sandboxes"].iterdir()) == []  # every working directory was removed
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(host["sandboxes"]).encode() in cmdline:
                leftovers.append(entry.name)
    assert leftovers == []  # no sandboxed process survived


# ---------------------------------------------------------------- ordinary programs

def test_sympy_and_prints():
    code = ("import sympy as sp\nx = sp.Symbol('x')\nprint(sp.solve(x**2 - 5*x + 6, x))\n"
            "print(sp.Rational(1, 3) + sp.Rational(1, 6))\nprint(sp.integrate(x**2, (x, 0, 3)))")
    result = run_python(code, timeout_s=30, cpu_s=20)
    assert (result.stdout, result.error, result.exit_status, result.timed_out) == ("[2, 3]\n1/2\n9\n", "", 0, False)


def test_files_in_working_directory_and_tempfile():
    code = ("import pathlib, tempfile, os\npathlib.Path('a.txt').write_text('hello')\n"
            "os.mkdir('sub')\nos.rename('a.txt', 'sub/b.txt')\nprint(open('sub/b.txt').read())\n"
            "with tempfile.NamedTemporaryFile('w+') as f:\n    f.write('tmp ok')\n    f.seek(0)\n    print(f.read())\n"
            "pathlib.Path('sub/b.txt').unlink()\nprint(sorted(os.listdir('.')))")
    result = run_python(code, **LIMITS)
    assert result.error == ""
    assert result.stdout == "hello\ntmp ok\n['sub', 'tmp']\n"


def test_errors_keep_partial_output_and_traceback():
    result = run_python("print('before')\nx = undefined_name", **LIMITS)
    assert result.stdout == "before\n"
    assert result.error == "NameError: name 'undefined_name' is not defined"
    assert 'File "<snippet>", line 2' in result.stderr and result.exit_status == 1


def test_stderr_without_failure_is_not_an_error():
    result = run_python("import sys, warnings\nwarnings.warn('careful')\nprint(3)", **LIMITS)
    assert result.ok and result.stdout == "3\n" and "careful" in result.stderr


def test_long_output_is_truncated_not_failed():
    result = run_python("print('a' * 10000)", **LIMITS)
    assert result.ok and result.truncated and result.stdout == "a" * LIMITS["max_output"]


def test_unicode_output():
    result = run_python("print('π ≈', 355/113)", **LIMITS)
    assert result.stdout == "π ≈ 3.1415929203539825\n"


def test_isolation_modes(monkeypatch):
    monkeypatch.delenv("UMI_LAB_UNSAFE_NO_ISOLATION", raising=False)
    assert isolation_mode("none", unsafe_no_isolation=True) == "none-unsafe"
    with pytest.raises(SandboxRefused):
        isolation_mode("none")
    with pytest.raises(ValueError):
        isolation_mode("full")
    with pytest.raises(TypeError):
        run_python(b"print(1)")


def test_concurrent_runs_do_not_interfere():
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: run_python(f"print({i} * {i})", **LIMITS), range(8)))
    assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(8)]


# ---------------------------------------------------------------- registry and CLI

def test_strip_code_fences():
    assert strip_code_fences("```python\nprint(1)\n```") == "print(1)\n"
    assert strip_code_fences("```\nx = 2\nprint(x)\n```\n") == "x = 2\nprint(x)\n"
    assert strip_code_fences("print(1)") == "print(1)"


def test_python_registry():
    reg = PythonRegistry(SandboxConfig(timeout_s=2, cpu_s=2))
    assert reg.names() == ["python"]
    assert reg.tool_docs()[0].input == {"code": "string, required, the Python program; print the values you need"}
    obs = reg.call("python", json.dumps({"code": "```python\nprint(6 * 7)\n```"}))
    assert obs.status == OK and json.loads(obs.text) == {"error": "", "response": "42\n"}
    obs = reg.call("python", {"code": "print('partial')\n1/0"})
    assert obs.status == TOOL_ERROR
    assert json.loads(obs.text) == {"error": "ZeroDivisionError: division by zero", "response": "partial\n"}
    assert obs.data["exit_status"] == 1
    obs = reg.call("python", {"code": "import os\nos.remove('/etc/hostname')"})
    assert obs.status == TOOL_ERROR and "os.remove" in json.loads(obs.text)["error"]
    assert reg.call("python", '{"code": 5}').status == BAD_ARGUMENTS
    assert reg.call("python", '{"program": "print(1)"}').status == BAD_ARGUMENTS
    assert reg.call("python", "{not json").status == BAD_ARGUMENTS
    assert reg.call("bash", '{"code": "ls"}').status == UNKNOWN_TOOL


def _cli(argv):
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prints_one_json_object(tmp_path, capsys):
    ok = tmp_path / "ok.py"
    ok.write_text("print(sum(range(10)))\n")
    assert _cli(["sandbox", str(ok), "--timeout", "5"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record.pop("isolation") in ("bwrap", "none-unsafe")
    assert record == {"stdout": "45\n", "error": "", "timed_out": False, "exit_status": 0, "truncated": False}
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(60)\n")
    assert _cli(["sandbox", str(slow), "--timeout", "1"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["timed_out"] is True


def test_cli_missing_file_is_a_data_error(tmp_path):
    from umi_lab.errors import DataError
    with pytest.raises(DataError, match="file not found") as info:
        _cli(["sandbox", str(tmp_path / "missing.py")])
    assert info.value.file.endswith("missing.py")


def test_signal_handler_thread_safety():
    """Runs from worker threads (the agent's pool) work; the SIGUSR1 fixture only lives in the main thread."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", run_python("print(1)", **LIMITS)))
    t.start()
    t.join()
    assert box["r"].stdout == "1\n"
