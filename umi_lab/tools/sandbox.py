"""A sandboxed Python runner for program-aided maths (MATH / ToRA-style ``python`` tool calls).

Model-written code is hostile code. Each call runs it in a fresh interpreter under **bubblewrap**
(:mod:`umi_lab.tools.isolation`): new mount, PID, network, IPC and UTS namespaces; only ``/usr`` and the
Python installation visible, read-only; a private size-capped ``tmpfs`` as working directory (it vanishes
with the namespace, so the host cleans nothing up); uid 65534, no capabilities, a cleared environment; a
seccomp filter refusing new processes, ``memfd_create``, sockets, ptrace, mounts and namespaces. Inside,
the preamble (:mod:`umi_lab.tools.sandbox_child`) lowers hard rlimits (CPU, address space, file size, open
files, processes, core) and installs an audit hook as a second layer. The host kills bwrap's process
group on the wall-clock deadline or too much output; ``--die-with-parent`` and the PID namespace take
everything the snippet started with it.

Where no OS isolation works (no bwrap, or the probe run fails), the sandbox **refuses** to run code
(:class:`SandboxRefused`) unless the caller passes ``unsafe_no_isolation=True`` (CLI
``--unsafe-no-isolation``, or ``UMI_LAB_UNSAFE_NO_ISOLATION=1`` for callers such as the evaluation); then
rlimits and the audit hook alone apply. Every result records its ``isolation``: ``"bwrap"`` or
``"none-unsafe"``. stdout/stderr are captured and truncated; stdin is empty; ``sympy`` imports normally.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

from umi_lab.errors import DataError
from umi_lab.io import read_text
from umi_lab.tools import isolation as iso
from umi_lab.tools.registry import OK, TOOL_ERROR, FunctionRegistry, Observation, ToolSpec
from umi_lab.tools.sandbox_child import PREAMBLE
from umi_lab.tools.supervise import (  # noqa: F401  (limits public here too)
    OUTPUT_KILL_BYTES,
    STDERR_KEEP_BYTES,
    collect_output,
    fd_with,
    kill_tree,
    last_line,
    remove_tree,
    signal_error,
)

INSIDE_WORKDIR = "/sandbox"     # the working directory inside bwrap (a private tmpfs)
UNSAFE_ENV = "UMI_LAB_UNSAFE_NO_ISOLATION"


class SandboxRefused(DataError):
    """No OS isolation is available and the caller did not allow running without it."""


@dataclass
class SandboxResult:
    """What a sandboxed run produced. ``error`` is "" on success, else a one-line reason.

    ``timed_out`` is true when the wall-clock or the CPU limit stopped the run; ``exit_status`` is the
    process's exit code (negative: killed by that signal); ``truncated`` when stdout was cut to
    ``max_output`` characters. ``stderr`` keeps the (tail of the) error stream, e.g. the traceback.
    ``isolation`` says what held the code: ``"bwrap"`` or ``"none-unsafe"``.
    """

    stdout: str
    error: str
    timed_out: bool
    exit_status: int | None
    truncated: bool
    stderr: str = ""
    isolation: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SandboxConfig:
    """Limits of one run (see :func:`run_python`)."""

    timeout_s: float = 5.0
    cpu_s: int = 5
    memory_mb: int = 512
    max_output: int = 4000
    file_mb: int = 16
    tmp_mb: int = 64           # size of the private working directory (bwrap)
    isolation: str = "auto"    # "auto" / "bwrap": bubblewrap or refuse; "none": no OS isolation (needs unsafe)
    unsafe_no_isolation: bool = False


# ------------------------------------------------------------------ isolation probing

_PROBE: dict[str, tuple[bool, str]] = {}
_PROBE_LOCK = threading.Lock()


def _probe_bwrap() -> tuple[bool, str]:
    """Whether bwrap really isolates here: a probe run must see uid 65534, its own PID namespace and a
    fresh root (no /etc/passwd: the host always has one)."""
    bwrap = iso.find_bwrap()
    if not bwrap:
        return False, "bubblewrap (bwrap) is not installed"
    check = ("import os\nprint(os.getuid(), os.geteuid(), sorted(p for p in os.listdir('/proc') if p.isdigit()),"
             " os.path.exists('/etc/passwd'))")
    try:
        result = _run(check, "bwrap", timeout_s=30, cpu_s=20, memory_mb=512, max_output=1000, file_mb=1, tmp_mb=1)
    except OSError as e:
        return False, f"bwrap could not start: {e}"
    want = f"{iso.NOBODY} {iso.NOBODY} ['1', '2'] False\n"
    if result.stdout != want:
        why = last_line(result.stderr) or result.error or result.stdout.strip()
        return False, f"bwrap probe failed ({why[:300]})"
    return True, ""


def isolation_mode(isolation: str = "auto", unsafe_no_isolation: bool = False) -> str:
    """The isolation a run gets: ``"bwrap"``, or ``"none-unsafe"`` when allowed; else SandboxRefused.

    The bwrap probe runs once per process. Example: ``isolation_mode() == "bwrap"`` where bwrap works.
    """
    if isolation not in ("auto", "bwrap", "none"):
        raise ValueError(f"isolation must be 'auto', 'bwrap' or 'none', got {isolation!r}")
    unsafe = unsafe_no_isolation or os.environ.get(UNSAFE_ENV, "") == "1"
    why = "no OS isolation was asked for (isolation='none')"
    if isolation != "none":
        with _PROBE_LOCK:
            if "bwrap" not in _PROBE:
                _PROBE["bwrap"] = _probe_bwrap()
            works, why = _PROBE["bwrap"]
        if works:
            return "bwrap"
    if unsafe and isolation != "bwrap":
        return "none-unsafe"
    raise SandboxRefused(f"refusing to run model-written code without OS isolation: {why}; install "
                         f"bubblewrap, or pass --unsafe-no-isolation (unsafe_no_isolation=True, "
                         f"{UNSAFE_ENV}=1) to run it under rlimits and audit hooks only", field="isolation")


# ------------------------------------------------------------------ running

def _inside_env(workdir: str) -> dict[str, str]:
    tmp = os.path.join(workdir, "tmp")
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": tmp, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": tmp}


def _run(code: str, mode: str, *, timeout_s: float, cpu_s: int, memory_mb: int, max_output: int,
         file_mb: int, tmp_mb: int) -> SandboxResult:
    code_file = fd_with(code.encode("utf-8", "surrogatepass"))
    filt = iso.seccomp_filter() if mode == "bwrap" else b""
    seccomp_file = fd_with(filt) if filt else None
    fds = [code_file.fileno()] + ([seccomp_file.fileno()] if seccomp_file else [])
    host_dir = None
    try:
        if mode == "bwrap":
            workdir = INSIDE_WORKDIR
            prefix = iso.bwrap_command(iso.find_bwrap() or "bwrap", workdir=workdir, tmp_bytes=int(tmp_mb) << 20,
                                       seccomp_fd=seccomp_file.fileno() if seccomp_file else None,
                                       env=_inside_env(workdir))
            cwd, env, drop = "/", {"PATH": "/usr/bin:/bin"}, int(os.geteuid() == 0)
        else:
            host_dir = workdir = tempfile.mkdtemp(prefix="umi-sandbox-")
            prefix, cwd, env, drop = [], workdir, _inside_env(workdir), 0
        cmd = [*prefix, sys.executable, "-I", "-B", "-u", "-X", "utf8", "-c", PREAMBLE, workdir,
               str(code_file.fileno()), str(int(cpu_s)), str(int(memory_mb) << 20), str(int(file_mb) << 20),
               "256", str(drop), iso.seccomp_filter(deny_exec=True).hex()]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, pass_fds=fds)
        code_file.close()
        if seccomp_file:
            seccomp_file.close()
        try:
            out, out_seen, err, reason = collect_output(proc, start + timeout_s, 4 * max_output + 4)
            if reason:
                kill_tree(proc)
            try:
                status = proc.wait(timeout=max(0.05, start + timeout_s - time.monotonic()))
            except subprocess.TimeoutExpired:
                reason = reason or "timeout"
                kill_tree(proc)
                status = proc.wait()
        finally:
            kill_tree(proc)  # and anything the snippet left behind in its group
            proc.stdout.close()
            proc.stderr.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        code_file.close()
        if seccomp_file:
            seccomp_file.close()
        if host_dir:
            remove_tree(host_dir)
    if mode == "bwrap" and 128 < status < 128 + 65 and reason != "timeout":
        status = 128 - status  # bwrap reports "killed by signal S" as exit status 128 + S
    stdout = out.decode("utf-8", errors="replace")
    truncated = out_seen > len(out) or len(stdout) > max_output
    stdout = stdout[:max_output]
    stderr = err.decode("utf-8", errors="replace")
    timed_out = False
    if status < 0 and status != -signal.SIGKILL:  # it died of its own limit before any kill of ours
        error, timed_out = signal_error(status, cpu_s)
    elif reason == "timeout":
        error, timed_out = f"TimeoutError: execution timed out after {timeout_s:g} s", True
    elif reason == "output":
        error, truncated = f"OutputLimitError: more than {OUTPUT_KILL_BYTES} bytes of output; process killed", True
    elif status < 0:
        error, timed_out = signal_error(status, cpu_s)
    elif status > 0:
        error = last_line(stderr) or f"exited with status {status}"
    else:
        error = ""
    return SandboxResult(stdout, error, timed_out, status, truncated, stderr, mode)


def run_python(code: str, *, timeout_s: float = 5.0, cpu_s: int = 5, memory_mb: int = 512,
               max_output: int = 4000, file_mb: int = 16, tmp_mb: int = 64, isolation: str = "auto",
               unsafe_no_isolation: bool = False) -> SandboxResult:
    """Run ``code`` in a sandboxed Python process and capture what it printed or why it failed.

    Raises :class:`SandboxRefused` when no OS isolation works and ``unsafe_no_isolation`` is false.

    >>> run_python("import sympy as sp; x = sp.Symbol('x'); print(sp.solve(x**2 - 4, x))").stdout
    '[-2, 2]\\n'
    >>> run_python("1/0").error
    'ZeroDivisionError: division by zero'
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a string, got {type(code).__name__}")
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"timeout_s must be a finite number > 0, got {timeout_s!r}")
    mode = isolation_mode(isolation, unsafe_no_isolation)
    return _run(code, mode, timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=memory_mb, max_output=max_output,
                file_mb=file_mb, tmp_mb=tmp_mb)


# ------------------------------------------------------------------ registry

def strip_code_fences(code: str) -> str:
    """Remove a surrounding Markdown fence (```python ... ```), as models often write one.

    >>> strip_code_fences("```python\\nprint(1)\\n```")
    'print(1)\\n'
    """
    text = code.strip()
    if text.startswith("```"):
        first_newline = text.find("\n")
        body = text[first_newline + 1:] if first_newline >= 0 else ""
        if body.rstrip().endswith("```"):
            body = body.rstrip()[:-3]
        return body.rstrip() + "\n"
    return code


class PythonRegistry(FunctionRegistry):
    """One tool, ``python``: ``{"code": "print(1+1)"}`` → response ``"2\\n"``; failures carry the error.

    >>> PythonRegistry().call("python", '{"code": "print(6*7)"}').text
    '{"error": "", "response": "42\\\\n"}'
    """

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()  # without OS isolation each call is a SandboxRefused tool_error
        super().__init__([ToolSpec(
            "python",
            "Run a Python program (sympy available) and return what it prints; no network or files outside.",
            {"code": ("string", "the Python program; print the values you need", True)},
            self._run,
        )])

    def _run(self, code: str) -> Observation:
        c = self.config
        try:
            result = run_python(strip_code_fences(code), timeout_s=c.timeout_s, cpu_s=c.cpu_s,
                                memory_mb=c.memory_mb, max_output=c.max_output, file_mb=c.file_mb,
                                tmp_mb=c.tmp_mb, isolation=c.isolation, unsafe_no_isolation=c.unsafe_no_isolation)
        except SandboxRefused as e:
            return Observation.make(TOOL_ERROR, error=f"SandboxRefused: {e.message}")
        except OSError as e:  # the host could not start the sandbox (e.g. out of file descriptors)
            return Observation.make(TOOL_ERROR, error=f"SandboxError: {e}")
        if result.ok:
            obs = Observation.make(OK, response=result.stdout)
        else:
            obs = Observation.make(TOOL_ERROR, error=result.error, response=result.stdout)
        obs.data = result.to_dict()
        return obs

# ------------------------------------------------------------------ CLI

def _cmd_sandbox(args) -> int:
    code = read_text(args.file, what="the program")
    result = run_python(code, timeout_s=args.timeout, cpu_s=args.cpu, memory_mb=args.memory_mb,
                        max_output=args.max_output, unsafe_no_isolation=args.unsafe_no_isolation)
    record = {k: getattr(result, k) for k in ("stdout", "error", "timed_out", "exit_status", "truncated",
                                               "isolation")}
    print(json.dumps(record, ensure_ascii=False))
    return 0 if result.ok else 1


def add_cli(sub) -> None:
    """Register ``sandbox FILE.py [--timeout S]``: run a program in the sandbox, print one JSON object."""
    from umi_lab.cli_types import finite_positive_float, positive_int

    p = sub.add_parser("sandbox", help="run a Python file in the sandbox; print a JSON result")
    p.add_argument("file", help="the Python program to run")
    p.add_argument("--timeout", type=finite_positive_float, default=5.0,
                   help="wall-clock limit in seconds (default 5)")
    p.add_argument("--cpu", type=positive_int, default=5, help="CPU-time limit in seconds (default 5)")
    p.add_argument("--memory-mb", type=positive_int, default=512, help="address-space limit in MiB (default 512)")
    p.add_argument("--max-output", type=positive_int, default=4000, help="characters of stdout kept (default 4000)")
    p.add_argument("--unsafe-no-isolation", action="store_true",
                   help="run even where bubblewrap isolation is unavailable (rlimits and audit hooks only)")
    p.set_defaults(func=_cmd_sandbox)
