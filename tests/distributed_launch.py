"""Launching two CPU worker processes with ``torch.distributed.run`` (gloo), shared by the data-parallel and
the FSDP tests: a free loopback port, the launcher's process group killed on timeout, and an optional second
attempt only when a worker died of a native abort."""

import os
import signal
import socket
import subprocess
import sys


def launch(script: list[str], env: dict[str, str], *, nproc: int = 2, attempts: int = 1) -> None:
    """Run ``script`` (a file and its arguments) under ``torch.distributed.run`` on ``nproc`` local processes
    rendezvousing on loopback; assert it exits 0. With ``attempts`` > 1, run it again only when a worker died
    of SIGABRT (gloo's C++ transport aborting, a known upstream flake on shared CI machines), never after a
    Python error (a worker's traceback reports exit code 1, not a signal)."""
    for attempt in range(attempts):
        with socket.socket() as sock:  # a free port for the rendezvous
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_addr", "127.0.0.1", "--master_port", str(port), *script]
        stderr = run(cmd, {**env, "GLOO_SOCKET_IFNAME": "lo"})
        if stderr is None or "(SIGABRT)" not in stderr or attempt == attempts - 1:
            break
    assert stderr is None, stderr[-3000:]


def run(cmd: list[str], env: dict[str, str], timeout: int = 600) -> str | None:
    """Run ``cmd`` in its own session; None when it exits 0, else its stderr. On timeout the whole process
    group (a launcher and its workers) is killed and the timeout re-raised."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return None if proc.returncode == 0 else stderr
