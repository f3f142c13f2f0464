"""OS isolation for the python sandbox: a bubblewrap (``bwrap``) command line, a seccomp filter, a probe.

The sandboxed interpreter runs in fresh mount, PID, network, IPC, UTS and cgroup namespaces. Its file
system holds only ``/usr`` (and the ``/bin``/``/lib`` links), the Python installation, read-only, plus a
private ``tmpfs`` working directory with a size cap; ``/proc`` shows the new PID namespace only. It runs
as uid/gid 65534 with no capabilities and no environment but a minimal one. When the host runs as root,
bwrap needs no user namespace and the child keeps CAP_SETUID/CAP_SETGID only until the sandbox preamble
switches it to uid 65534 (before any model code; so the kernel's per-user limits apply to a real
unprivileged uid). Otherwise a user namespace maps 65534 onto the caller's uid.

A seccomp filter (classic BPF, built here) makes the kernel refuse: new processes (``fork``/``vfork``,
``clone`` without ``CLONE_THREAD``; ``clone3`` answers ENOSYS so threads fall back to ``clone``),
``memfd_create`` (memory outside RLIMIT_AS), sockets, ptrace and cross-process memory access, keyrings,
bpf, perf, userfaultfd, io_uring, namespaces and mounts, module loading.

>>> len(seccomp_filter("x86_64")) % 8
0
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import sys

NOBODY = 65534

# Syscalls refused with EPERM, by architecture (numbers from the kernel's syscall tables).
_DENY = {
    "x86_64": dict(fork=57, vfork=58, memfd_create=319, memfd_secret=447, ptrace=101, process_vm_readv=310,
                   process_vm_writev=311, keyctl=250, add_key=248, request_key=249, bpf=321,
                   perf_event_open=298, userfaultfd=323, unshare=272, setns=308, mount=165, umount2=166,
                   pivot_root=155, chroot=161, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
                   socket=41, socketpair=53, kexec_load=246, init_module=175, finit_module=313,
                   delete_module=176, open_by_handle_at=304, name_to_handle_at=303, swapon=167, reboot=169,
                   acct=163, open_tree=428, move_mount=429, fsopen=430, fsmount=432, fspick=433,
                   mount_setattr=442, pidfd_getfd=438, kcmp=312),
    "aarch64": dict(memfd_create=279, memfd_secret=447, ptrace=117, process_vm_readv=270,
                    process_vm_writev=271, keyctl=219, add_key=217, request_key=218, bpf=280,
                    perf_event_open=241, userfaultfd=282, unshare=97, setns=268, mount=40, umount2=39,
                    pivot_root=41, chroot=51, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
                    socket=198, socketpair=199, kexec_load=104, init_module=105, finit_module=273,
                    delete_module=106, open_by_handle_at=265, name_to_handle_at=264, swapon=224, reboot=142,
                    acct=89, open_tree=428, move_mount=429, fsopen=430, fsmount=432, fspick=433,
                    mount_setattr=442, pidfd_getfd=438, kcmp=272),
}
_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
# Refused once the interpreter runs (the preamble's filter): exec, and signals to other processes (kill,
# tkill, rt_sigqueueinfo, pidfd_send_signal; raise()/abort() use tgkill on the process itself).
_EXEC = {"x86_64": (59, 322, 62, 200, 129, 424), "aarch64": (221, 281, 129, 130, 138, 424)}
_CLONE_THREAD = 0x00010000
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO, _KILL = 0x7FFF0000, 0x00050000, 0x80000000
_EPERM, _ENOSYS = 1, 38


def seccomp_filter(arch: str | None = None, *, deny_exec: bool = False) -> bytes:
    """The seccomp program (``struct sock_filter[]``) for ``arch``, or b"" for an unsupported one.

    ``deny_exec`` also refuses ``execve``/``execveat`` and signals to other processes (installed by the
    preamble once the interpreter runs, so also without bwrap).

    >>> seccomp_filter("sparc")
    b''
    """
    arch = arch or platform.machine()
    if arch not in _DENY:
        return b""
    # Each instruction: (code, jump-if-true label, jump-if-false label, k); labels resolved below.
    prog: list[tuple] = [(_LD_ABS_W, None, None, 4), (_JEQ, None, "kill", _ARCH[arch]), (_LD_ABS_W, None, None, 0)]
    if arch == "x86_64":
        prog.append((_JGE, "eperm", None, 0x40000000))  # the x32 ABI
    denied = set(_DENY[arch].values()) | (set(_EXEC[arch]) if deny_exec else set())
    prog += [(_JEQ, "eperm", None, nr) for nr in sorted(denied)]
    prog += [(_JEQ, "enosys", None, _CLONE3), (_JEQ, "clone", None, _CLONE[arch]), (_RET, None, None, _ALLOW)]
    labels = {"eperm": len(prog), "enosys": len(prog) + 1, "kill": len(prog) + 2, "clone": len(prog) + 3}
    prog += [(_RET, None, None, _ERRNO | _EPERM), (_RET, None, None, _ERRNO | _ENOSYS), (_RET, None, None, _KILL),
             (_LD_ABS_W, None, None, 16), (_JSET, "allow", None, _CLONE_THREAD), (_RET, None, None, _ERRNO | _EPERM),
             (_RET, None, None, _ALLOW)]
    labels["allow"] = len(prog) - 1
    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(prog):
        jt = labels[jt] - i - 1 if jt else 0
        jf = labels[jf] - i - 1 if jf else 0
        out += struct.pack("=HBBI", code, jt, jf, k)
    return bytes(out)


def python_roots() -> list[str]:
    """The folders the interpreter needs besides /usr: its prefixes (resolved), outermost first."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    roots: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates if p} | {p for p in candidates if p}):
        if not os.path.isdir(path) or path == "/" or path == "/usr" or path.startswith("/usr/"):
            continue
        if not any(path == r or path.startswith(r + "/") for r in roots):
            roots.append(path)
    return roots


def bwrap_command(bwrap: str, *, workdir: str, tmp_bytes: int, seccomp_fd: int | None,
                  env: dict[str, str]) -> list[str]:
    """The bwrap arguments (up to and excluding the program) for one sandboxed run."""
    root = os.geteuid() == 0
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if root:  # no user namespace: the preamble switches to uid 65534 using the two kept capabilities
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY),
                "--cap-drop", "ALL"]
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    cmd += ["--perms", "0755", "--dir", "/etc", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    made: set[str] = set()
    for path in python_roots():
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):  # world-traversable parents (bwrap would copy e.g. /root's 0700)
            parent = "/" + "/".join(parts[:i])
            if parent not in made:
                made.add(parent)
                cmd += ["--perms", "0755", "--dir", parent]
        cmd += ["--ro-bind", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "0755", "--size", "4096", "--tmpfs", "/dev/shm",
            "--perms", "01777", "--size", str(int(tmp_bytes)), "--tmpfs", workdir, "--chdir", workdir]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd


def find_bwrap() -> str | None:
    """The bubblewrap executable, or None. ``$UMI_LAB_BWRAP`` overrides the search ("" disables it)."""
    override = os.environ.get("UMI_LAB_BWRAP")
    if override is not None:
        return override if override and os.access(override, os.X_OK) else None
    return shutil.which("bwrap") or ("/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None)
