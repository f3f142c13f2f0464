"""Supervising the sandbox child: reading its pipes under a deadline and an output cap, killing its
process group, naming the signal that killed it, and removing its working folder however deep.

>>> last_line("Traceback (most recent call last):\\n  x\\nZeroDivisionError: division by zero\\n")
'ZeroDivisionError: division by zero'
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import tempfile
import time

OUTPUT_KILL_BYTES = 4 << 20     # stdout+stderr beyond this kills the process
STDERR_KEEP_BYTES = 16_000      # the tail of stderr that is kept (the error is its last line)


def kill_tree(proc: subprocess.Popen) -> None:
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


def collect_output(proc: subprocess.Popen, deadline: float, keep_stdout: int) -> tuple[bytes, int, bytes, str]:
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


def signal_error(status: int, cpu_s: int) -> tuple[str, bool]:
    """The error line for a child killed by signal ``-status``, and whether it counts as a timeout."""
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


def last_line(text: str) -> str:
    """The last non-blank line (at most 1,000 characters): the error of a traceback."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:1000] if lines else ""


def remove_tree(path: str) -> None:
    """Remove a folder iteratively (a 1,500-deep chain must not hit the recursion limit), fixing modes."""
    stack = [path]
    while stack:
        top = stack[-1]
        try:
            os.chmod(top, 0o700)
            entries = list(os.scandir(top))
        except OSError:
            entries = []
        subdirs = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass
        if subdirs:
            stack.extend(subdirs)
            continue
        stack.pop()
        try:
            os.rmdir(top)
        except OSError:
            pass


def fd_with(data: bytes):
    """An unlinked temporary file holding ``data``, positioned at its start (inherited by the child)."""
    f = tempfile.TemporaryFile()
    f.write(data)
    f.flush()
    f.seek(0)
    os.set_inheritable(f.fileno(), True)
    return f
