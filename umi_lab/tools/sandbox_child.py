"""The program the sandboxed interpreter starts with (``python -c PREAMBLE ...``), before the model's code.

It reads the code from an inherited file descriptor, sets the resource limits (kernel-enforced, hard limits
lowered for good), switches to uid 65534 when bwrap ran as root, installs the audit hook (a second layer:
the OS isolation of :mod:`umi_lab.tools.isolation` is the boundary) and runs the code.
"""

# The child's preamble: read the code, limits, uid 65534 (bwrap as root), the audit hook, then the code.
# argv: workdir code_fd cpu_s memory_bytes fsize_bytes nofile drop_root(0|1) seccomp_program_hex
PREAMBLE = r'''
import os, sys, resource, builtins, linecache, traceback
import ctypes, gc, pathlib  # imported before the hook (sympy imports them); dangerous uses are denied
import _posixsubprocess  # its fork_exec is replaced below; a fresh import of it is denied by the hook
def _no_fork_exec(*args, **kwargs):
    raise PermissionError("sandbox: starting processes is not allowed")
_posixsubprocess.fork_exec = _no_fork_exec
def _setup():
    workdir, code_fd = sys.argv[1], int(sys.argv[2])
    cpu, mem, fsize, nofile, drop = (int(v) for v in sys.argv[3:8])
    seccomp = bytes.fromhex(sys.argv[8])
    chunks = []
    while True:
        chunk = os.read(code_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(code_fd)
    source = b"".join(chunks).decode("utf-8", "surrogateescape")
    R = resource
    for lim, val in ((R.RLIMIT_CORE, (0, 0)), (R.RLIMIT_CPU, (cpu, cpu + 1)), (R.RLIMIT_AS, (mem, mem)),
                     (R.RLIMIT_FSIZE, (fsize, fsize)), (R.RLIMIT_NOFILE, (nofile, nofile)),
                     (R.RLIMIT_NPROC, (0, 0))):
        R.setrlimit(lim, val)
    if drop:  # bwrap as root: become the unprivileged uid before any model code (drops every capability)
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        if 0 in os.getresuid() or 0 in os.getresgid():
            os.write(2, b"SandboxError: could not drop root\n")
            os._exit(120)
    if seccomp:  # the kernel refuses exec, new processes, memfd, sockets... from here on
        buf = ctypes.create_string_buffer(seccomp, len(seccomp))
        class Prog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        prog = Prog(len(seccomp) // 8, ctypes.cast(buf, ctypes.c_void_p))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
            os.write(2, b"SandboxError: could not install the seccomp filter\n")
            os._exit(121)
    os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
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
        if event == "os.mkdir" or event == "os.mkfifo" or event == "os.mknod":
            WRITES[0] += 1
            if WRITES[0] > 2000:
                deny("creating more than 2000 files or directories")
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
            return min(code & 255 or 1, 127)  # above 127 reads as "killed by a signal" under bwrap
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
