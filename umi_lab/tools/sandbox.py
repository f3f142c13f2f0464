"""A sandboxed Python runner for program-aided maths (MATH / ToRA-style ``python`` tool calls).

Each call runs the code in a fresh ``python -I`` process, in a fresh temporary directory that is removed
afterwards. Layers, outermost first:

* **Process group and wall clock**: the child runs in its own session; on timeout, on too much output,
  and after it ends, the whole process group is killed with SIGKILL.
* **OS isolation where available** (probed once, see :func:`isolation_mode`): ``unshare --net`` gives the
  child an empty network namespace; when the host runs as root, ``setpriv`` drops the child to the
  ``nobody`` user (keeping only the capability to *read* files, so the interpreter under ``/root`` still
  loads), which makes the kernel refuse signals to the host's processes, writes to the host's files, and
  new processes (RLIMIT_NPROC applies to non-root users only). Without root, a user namespace supplies
  the network namespace. Without ``unshare``/``setpriv`` the remaining layers still apply.
* **Resource limits** set by the child preamble: RLIMIT_CPU, RLIMIT_AS (memory), RLIMIT_FSIZE,
  RLIMIT_NOFILE, RLIMIT_NPROC = 0 (no fork), RLIMIT_CORE = 0.
* **Audit hooks** (``sys.addaudithook``, which cannot be removed): deny process creation (fork, exec,
  spawn, system, subprocess), signals (kill, killpg, pthread_kill), sockets, ctypes, writes/deletes/
  renames/chmods outside the working directory, links, chroot, reading other processes' ``/proc``
  entries and files under ``/root`` or ``/home`` (except the Python installation), changing rlimits,
  ``gc`` object walking and rewriting function code. Audit hooks are a defence in depth, not a boundary
  by themselves; the kernel-enforced layers above are what a determined snippet runs into.

The environment is scrubbed (only PATH, HOME/TMPDIR inside the working directory, locale and thread
settings), stdin is empty, stdout/stderr are captured and truncated. ``sympy`` imports normally.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from umi_lab.errors import DataError
from umi_lab.tools.registry import OK, TOOL_ERROR, FunctionRegistry, Observation, ToolSpec

NOBODY = 65534
OUTPUT_KILL_BYTES = 4 << 20     # stdout+stderr beyond this kills the process
STDERR_KEEP_BYTES = 16_000      # the tail of stderr that is kept (the error is its last line)

# The child's preamble: limits, privilege drop is done by setpriv, then the audit hook, then the code.
# argv: workdir code_path cpu_s memory_bytes fsize_bytes nofile
_PREAMBLE = r'''
import os, sys, resource, builtins, linecache, traceback
import ctypes, gc, pathlib  # imported before the hook (sympy imports them); dangerous uses are denied
import _posixsubprocess  # its fork_exec is replaced below; a fresh import of it is denied by the hook
def _no_fork_exec(*args, **kwargs):
    raise PermissionError("sandbox: starting processes is not allowed")
_posixsubprocess.fork_exec = _no_fork_exec
def _setup():
    workdir, code_path = sys.argv[1], sys.argv[2]
    cpu, mem, fsize, nofile = (int(v) for v in sys.argv[3:7])
    R = resource
    for lim, val in ((R.RLIMIT_CORE, (0, 0)), (R.RLIMIT_CPU, (cpu, cpu + 1)), (R.RLIMIT_AS, (mem, mem)),
                     (R.RLIMIT_FSIZE, (fsize, fsize)), (R.RLIMIT_NOFILE, (nofile, nofile)),
                     (R.RLIMIT_NPROC, (0, 0))):
        R.setrlimit(lim, val)
    with open(code_path, encoding="utf-8") as f:
        source = f.read()
    readable = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path):
        if p and os.path.isabs(p):
            readable.append(os.path.realpath(p).rstrip("/") + "/")
    ns = {"__builtins__": dict(builtins.__dict__), "W": os.path.realpath(workdir).rstrip("/") + "/",
          "READABLE": tuple(readable), "PID": str(os.getpid()), "getcwd": os.getcwd,
          "PATHTYPES": (pathlib.PurePosixPath, pathlib.PosixPath), "STR_SLOT": pathlib.PurePath._str,
          "PATHLIB": tuple(v for v in vars(pathlib).values() if isinstance(v, type)),
          "WFLAGS": os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND}
    exec(compile(HOOK, "<sandbox-hook>", "exec"), ns)
    sys.addaudithook(ns["hook"])
    return source
HOOK = r"""
DENY = frozenset(("os.system", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec",
                  "subprocess.Popen", "pty.spawn", "os.startfile", "os.kill", "os.killpg",
                  "signal.pthread_kill", "os.link", "os.symlink", "os.chroot", "resource.setrlimit",
                  "resource.prlimit", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                  "sys.remote_exec", "os.setns", "os.unshare", "code.__new__"))
DENY_PREFIX = ("socket.", "ctypes.", "_winapi.", "winreg.")
PATH_EVENTS = {"os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.mkdir": ((0,), (2,)),
               "os.rename": ((0, 1), (2, 3)), "os.chmod": ((0,), (2,)), "os.chown": ((0,), (3,)),
               "os.utime": ((0,), (3,)), "os.truncate": ((0,), ()), "os.mkfifo": ((0,), (2,)),
               "os.mknod": ((0,), (3,)), "os.setxattr": ((0,), ()), "os.removexattr": ((0,), ()),
               "os.chflags": ((0,), ()), "os.lchflags": ((0,), ()), "shutil.rmtree": ((0,), (1,)),
               "shutil.move": ((1,), ()), "shutil.copyfile": ((1,), ()), "shutil.copymode": ((1,), ()),
               "shutil.copystat": ((1,), ()), "shutil.copytree": ((1,), ()), "shutil.chown": ((0,), ()),
               "shutil.unpack_archive": ((1,), ()), "os.chdir": ((0,), ()),
               "tempfile.mkstemp": ((0,), ()), "tempfile.mkdtemp": ((0,), ())}
BLOCKED_IMPORTS = frozenset(("_ctypes", "cffi", "_cffi_backend", "_xxsubinterpreters", "_testcapi",
                             "_testinternalcapi", "_posixsubprocess"))
FD_OK = frozenset(("os.truncate",))  # an fd here was opened (and checked) for writing already
WRITES = [0]
SECRET_PATHS = ("/root/", "/home/", "/etc/shadow/", "/etc/gshadow/", "/etc/sudoers", "/run/secrets/",
                "/var/run/secrets/", "/proc/self/environ/")

def deny(what):
    raise PermissionError("sandbox: " + what + " is not allowed")

def to_str(path):
    # Never runs code of the snippet: only exact str/bytes, or the cached string of an exact pathlib path
    # (the interpreter converted it with __fspath__ just before raising the event).
    kind = type(path)
    if kind is str:
        return path
    if kind is bytes:
        return bytes.decode(path, "utf-8", "surrogateescape")
    for t in PATHTYPES:
        if kind is t:
            try:
                text = STR_SLOT.__get__(path)
            except AttributeError:
                return None
            return text if type(text) is str else None
    return None

def absolute(p):
    if not str.startswith(p, "/"):
        p = getcwd() + "/" + p
    parts = []
    for part in str.split(p, "/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)

def inside(p):
    return str.startswith(absolute(p) + "/", W)

def check_read(p):
    a = absolute(p) + "/"
    if str.startswith(a, W):
        return
    for r in READABLE:
        if str.startswith(a, r):
            return
    if str.startswith(a, "/proc/"):
        first = str.split(a, "/")[2]
        if str.isdigit(first) and first != PID:
            deny("reading another process's /proc entry " + p)
    for secret in SECRET_PATHS:
        if str.startswith(a, secret):
            deny("reading " + p)

def hook(event, args):
    if event in DENY or str.startswith(event, DENY_PREFIX):
        deny(event)
    if event == "open":
        path, mode, flags = args
        if type(path) is int:
            return
        p = to_str(path)
        if p is None:
            deny("opening a path of an unsupported type")
        write = (type(flags) is int and flags & WFLAGS) or (type(mode) is str and
                                                            ("w" in mode or "a" in mode or "x" in mode or "+" in mode))
        if mode is None and not str.startswith(p, "/"):  # os.open: a dir_fd may be hiding behind it
            deny("os.open with a relative path (use an absolute path or open())")
        if not write:
            check_read(p)
            return
        if not inside(p):
            deny("writing outside the working directory: " + p)
        WRITES[0] += 1
        if WRITES[0] > 2000:
            deny("opening more than 2000 files for writing")
        return
    spec = PATH_EVENTS.get(event)
    if spec is not None:
        paths, fds = spec
        for i in fds:
            if i < len(args) and args[i] is not None and args[i] != -1 and args[i] != -100:
                deny(event + " with dir_fd")
        for i in paths:
            if i >= len(args):
                continue
            if type(args[i]) is int:
                if event not in FD_OK:
                    deny(event + " on a file descriptor")
                continue
            p = to_str(args[i])
            if p is None:
                deny(event + " on a path of an unsupported type")
            if not inside(p):
                deny(event + " outside the working directory: " + p)
        return
    if event == "import":
        if type(args[0]) is not str:
            deny("importing a module named by a non-string")
        if args[0] in BLOCKED_IMPORTS:
            deny("importing " + args[0])
    if event == "object.__setattr__":
        target, name = args[0], args[1]
        if type(name) is str and name == "__code__":
            deny("rewriting __code__")
        for t in PATHLIB:
            if target is t:
                deny("patching pathlib")
"""
def _run(source):
    sys.argv = ["snippet.py"]
    linecache.cache["<snippet>"] = (len(source), None, source.splitlines(True), "<snippet>")
    glob = {"__name__": "__main__", "__builtins__": builtins, "__file__": "snippet.py"}
    try:
        exec(compile(source, "<snippet>", "exec"), glob)
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return 0
        if isinstance(code, int):
            sys.stderr.write("SystemExit: %d\n" % code)
            return code & 255 or 1
        sys.stderr.write("SystemExit: %s\n" % (code,))
        return 1
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "<snippet>":
            tb = tb.tb_next
        report = traceback.TracebackException(type(e), e, tb)
        report.stack[:] = [f for f in report.stack if f.filename != "<sandbox-hook>"]
        sys.stderr.write("".join(report.format()))
        return 1
    return 0
_status = _run(_setup())
try:
    sys.stdout.flush()
    sys.stderr.flush()
except BaseException:
    pass
os._exit(_status)
'''


@dataclass
class SandboxResult:
    """What a sandboxed run produced. ``error`` is "" on success, else a one-line reason.

    ``timed_out`` is true when the wall-clock or the CPU limit stopped the run; ``exit_status`` is the
    process's exit code (negative: killed by that signal); ``truncated`` when stdout was cut to
    ``max_output`` characters. ``stderr`` keeps the (tail of the) error stream, e.g. the traceback.
    """

    stdout: str
    error: str
    timed_out: bool
    exit_status: int | None
    truncated: bool
    stderr: str = ""

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
    isolation: str = "auto"   # "auto": unshare/setpriv where they work; "none": limits and hooks only


# ------------------------------------------------------------------ isolation probing

_ISOLATION: dict[str, list[str]] = {}
_ISOLATION_LOCK = threading.Lock()


def _candidates() -> list[tuple[str, list[str]]]:
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search",
            "--bounding-set=-all,+dac_read_search"] if setpriv else None
    out: list[tuple[str, list[str]]] = []
    if os.geteuid() == 0:
        if unshare and drop:
            out.append(("netns+nobody", [unshare, "--net", *drop]))
        if drop:
            out.append(("nobody", drop))
        if unshare:
            out.append(("netns", [unshare, "--net"]))
    elif unshare:
        out.append(("userns+netns", [unshare, "--user", "--net"]))
    out.append(("none", []))
    return out


def _probe(prefix: list[str]) -> bool:
    """Whether ``prefix`` can start the interpreter here (and, with ``--net``, cuts the network)."""
    check = ("import socket, sys\n"
             "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
             "except OSError as e:\n    sys.exit(0 if e.errno == 101 else 3)\n"
             "sys.exit(3)\n")
    try:
        proc = subprocess.run([*prefix, sys.executable, "-I", "-c", check], capture_output=True, timeout=30,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 if "--net" in prefix else proc.returncode in (0, 3)


def isolation_mode(isolation: str = "auto") -> tuple[str, list[str]]:
    """The OS isolation used: ``(name, command prefix)``, probed once per process.

    >>> isolation_mode("none")
    ('none', [])
    """
    if isolation == "none":
        return "none", []
    if isolation != "auto":
        raise ValueError(f"isolation must be 'auto' or 'none', got {isolation!r}")
    with _ISOLATION_LOCK:
        if not _ISOLATION:
            for name, prefix in _candidates():
                if not prefix or _probe(prefix):
                    _ISOLATION[name] = prefix
                    break
        ((name, prefix),) = _ISOLATION.items()
    return name, prefix


# ------------------------------------------------------------------ running

def _scrubbed_env(workdir: str) -> dict[str, str]:
    tmp = os.path.join(workdir, "tmp")
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": tmp, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": tmp}


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process group and the process itself (it may have left the group with setsid)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.returncode is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _collect(proc: subprocess.Popen, deadline: float, keep_stdout: int) -> tuple[bytes, int, bytes, str]:
    """Read both pipes until EOF, the deadline, or too much output. Returns (stdout head, stdout
    bytes seen, stderr tail, stop reason: "" | "timeout" | "output")."""
    out, err = bytearray(), bytearray()
    seen = {proc.stdout.fileno(): 0, proc.stderr.fileno(): 0}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ)
    reason = ""
    try:
        while sel.get_map() and not reason:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = "timeout"
                break
            for key, _ in sel.select(remaining):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                seen[key.fd] += len(chunk)
                if key.fd == proc.stdout.fileno():
                    if len(out) < keep_stdout:
                        out += chunk[: keep_stdout - len(out)]
                else:
                    err += chunk
                    if len(err) > 2 * STDERR_KEEP_BYTES:
                        del err[: len(err) - STDERR_KEEP_BYTES]
                if sum(seen.values()) > OUTPUT_KILL_BYTES:
                    reason = "output"
                    break
    finally:
        sel.close()
    return bytes(out), seen[proc.stdout.fileno()], bytes(err[-STDERR_KEEP_BYTES:]), reason


def _signal_error(status: int, cpu_s: int) -> tuple[str, bool]:
    sig = -status
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGXCPU:
        return f"TimeoutError: CPU time limit exceeded ({cpu_s} s)", True
    if sig == signal.SIGKILL:
        return "Killed: SIGKILL (a CPU or memory limit was exceeded)", False
    if sig == signal.SIGSEGV:
        return "Crash: SIGSEGV (segmentation fault, e.g. a stack overflow from very deep recursion)", False
    if sig == signal.SIGXFSZ:
        return "Killed: SIGXFSZ (file size limit exceeded)", False
    return f"Killed: {name}", False


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:1000] if lines else ""


def _remove_tree(path: str) -> None:
    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=fix)


def run_python(code: str, *, timeout_s: float = 5.0, cpu_s: int = 5, memory_mb: int = 512,
               max_output: int = 4000, file_mb: int = 16, isolation: str = "auto") -> SandboxResult:
    """Run ``code`` in a sandboxed Python process and capture what it printed or why it failed.

    >>> run_python("import sympy as sp; x = sp.Symbol('x'); print(sp.solve(x**2 - 4, x))").stdout
    '[-2, 2]\\n'
    >>> run_python("1/0").error
    'ZeroDivisionError: division by zero'
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a string, got {type(code).__name__}")
    mode, prefix = isolation_mode(isolation)
    workdir = tempfile.mkdtemp(prefix="umi-sandbox-")
    try:
        os.mkdir(os.path.join(workdir, "tmp"))
        code_path = os.path.join(workdir, "snippet.py")
        Path(code_path).write_text(code, encoding="utf-8", errors="surrogatepass")
        if "nobody" in mode:
            for p in (workdir, os.path.join(workdir, "tmp")):
                os.chown(p, NOBODY, NOBODY)
        cmd = [*prefix, sys.executable, "-I", "-B", "-u", "-X", "utf8", "-c", _PREAMBLE, workdir, code_path,
               str(int(cpu_s)), str(int(memory_mb) << 20), str(int(file_mb) << 20), "256"]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=workdir, env=_scrubbed_env(workdir), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, out_seen, err, reason = _collect(proc, start + timeout_s, 4 * max_output + 4)
            if reason:
                _kill(proc)
            try:
                status = proc.wait(timeout=max(0.05, start + timeout_s - time.monotonic()))
            except subprocess.TimeoutExpired:
                reason = reason or "timeout"
                _kill(proc)
                status = proc.wait()
        finally:
            _kill(proc)  # and anything the snippet left behind in its group
            proc.stdout.close()
            proc.stderr.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        _remove_tree(workdir)
    stdout = out.decode("utf-8", errors="replace")
    truncated = out_seen > len(out) or len(stdout) > max_output
    stdout = stdout[:max_output]
    stderr = err.decode("utf-8", errors="replace")
    timed_out = False
    if status < 0 and status != -signal.SIGKILL:  # it died of its own limit before any kill of ours
        error, timed_out = _signal_error(status, cpu_s)
    elif reason == "timeout":
        error, timed_out = f"TimeoutError: execution timed out after {timeout_s:g} s", True
    elif reason == "output":
        error, truncated = f"OutputLimitError: more than {OUTPUT_KILL_BYTES} bytes of output; process killed", True
    elif status < 0:
        error, timed_out = _signal_error(status, cpu_s)
    elif status > 0:
        error = _last_line(stderr) or f"exited with status {status}"
    else:
        error = ""
    return SandboxResult(stdout, error, timed_out, status, truncated, stderr)


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
        self.config = config or SandboxConfig()
        super().__init__([ToolSpec(
            "python",
            "Run a Python program (sympy available) and return what it prints; no network or files outside.",
            {"code": ("string", "the Python program; print the values you need", True)},
            self._run,
        )])

    def _run(self, code: str) -> Observation:
        c = self.config
        result = run_python(strip_code_fences(code), timeout_s=c.timeout_s, cpu_s=c.cpu_s,
                            memory_mb=c.memory_mb, max_output=c.max_output, file_mb=c.file_mb,
                            isolation=c.isolation)
        if result.ok:
            obs = Observation.make(OK, response=result.stdout)
        else:
            obs = Observation.make(TOOL_ERROR, error=result.error, response=result.stdout)
        obs.data = result.to_dict()
        return obs


# ------------------------------------------------------------------ CLI

def _cmd_sandbox(args) -> int:
    try:
        code = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the program: {e}", file=args.file) from None
    result = run_python(code, timeout_s=args.timeout, cpu_s=args.cpu, memory_mb=args.memory_mb,
                        max_output=args.max_output)
    record = {k: getattr(result, k) for k in ("stdout", "error", "timed_out", "exit_status", "truncated")}
    print(json.dumps(record, ensure_ascii=False))
    return 0 if result.ok else 1


def add_cli(sub) -> None:
    """Register ``sandbox FILE.py [--timeout S]``: run a program in the sandbox, print one JSON object."""
    p = sub.add_parser("sandbox", help="run a Python file in the sandbox; print a JSON result")
    p.add_argument("file", help="the Python program to run")
    p.add_argument("--timeout", type=float, default=5.0, help="wall-clock limit in seconds (default 5)")
    p.add_argument("--cpu", type=int, default=5, help="CPU-time limit in seconds (default 5)")
    p.add_argument("--memory-mb", type=int, default=512, help="address-space limit in MiB (default 512)")
    p.add_argument("--max-output", type=int, default=4000, help="characters of stdout kept (default 4000)")
    p.set_defaults(func=_cmd_sandbox)
