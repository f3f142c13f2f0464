"""The OS layer of the python sandbox, attacked with the audit hook already switched off.

Every snippet first walks a traceback to the audit hook's frame and empties its deny lists (the bypass
found in issue 13), then attacks. What must hold is what the kernel enforces under bubblewrap:
namespaces, uid 65534 without capabilities, seccomp, rlimits, a size-capped private tmpfs. A snippet prints
``ESCAPED`` only when its attack worked. Without /usr/bin/bwrap (or where it cannot isolate) these tests
skip; the refusal path is tested in test_hostile_inputs.py.
"""

import os
import signal
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from umi_lab.tools import sandbox, supervise
from umi_lab.tools.sandbox import SandboxRefused, run_python


def _bwrap_works() -> bool:
    try:
        return sandbox.isolation_mode("bwrap") == "bwrap"
    except SandboxRefused:
        return False


pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/bwrap") or not _bwrap_works(),
                                reason="bubblewrap isolation not available here")

SECRET = "umi-hardening-secret-93b1"
LIMITS = {"timeout_s": 8.0, "cpu_s": 6, "memory_mb": 384, "max_output": 4000}

BYPASS = '''
def _bypass():
    try:
        open('/etc/shadow')
    except PermissionError as e:
        tb = e.__traceback__
        while tb is not None:
            g = tb.tb_frame.f_globals
            if 'DENY' in g and 'check_read' in g:
                g['DENY'] = frozenset(); g['DENY_PREFIX'] = ('-none-',); g['SECRET_PATHS'] = ()
                g['READABLE'] = ('/',); g['W'] = '/'; g['BLOCKED_IMPORTS'] = frozenset(); g['PATHLIB'] = ()
                g['PATH_EVENTS'] = {}; g['WFLAGS'] = 0; g['WRITES'] = [-10 ** 9]
                return True
            tb = tb.tb_next
    return False
print('bypassed', _bypass())
import os, sys
'''

_LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"

# (name, attack): the attack prints ESCAPED only if it succeeded.
ATTACKS = [
    ("etc_shadow", "print('ESCAPED', open('/etc/shadow').read()[:20])"),
    ("etc_shadow_dash", "print('ESCAPED', open('/etc/shadow-').read()[:20])"),
    ("etc_gshadow", "print('ESCAPED', open('/etc/gshadow').read()[:20])"),
    ("proc_self_root_shadow", "print('ESCAPED', open('/proc/self/root/etc/shadow').read()[:20])"),
    ("proc_1_root_shadow", "print('ESCAPED', open('/proc/1/root/etc/shadow').read()[:20])"),
    ("etc_passwd", "print('ESCAPED', open('/etc/passwd').read()[:20])"),
    ("list_root", "names = os.listdir('/root')\nprint('ESCAPED' if {'.bashrc', '.ssh', '.profile', '.cache'} & set(names)"
                  " else 'ok')"),
    ("root_ssh_key", "print('ESCAPED', os.listdir('/root/.ssh'))"),
    ("list_home", "print('ESCAPED' if os.listdir('/home') else 'empty')"),
    ("list_work", "print('ESCAPED', os.listdir('/work'))"),
    ("shared_math_gold", "print('ESCAPED', os.listdir('/work/shared/data/math'))"),
    ("host_tmp", "print('ESCAPED' if [n for n in os.listdir('/tmp') if n.startswith('pytest')] else 'empty')"),
    ("proc_1_environ", "print('ESCAPED', open('/proc/1/environ', 'rb').read()[:50])"),
    ("parent_environ", "print('ESCAPED', open(f'/proc/{os.getppid()}/environ', 'rb').read()[:50])"),
    ("env_secret", f"print('ESCAPED' if '{SECRET[:8]}' + '{SECRET[8:]}' in str(os.environ) else 'ok')"),
    ("proc_scan_secret",
     f"s = ('{SECRET[:8]}' + '{SECRET[8:]}').encode()\nfor p in os.listdir('/proc'):\n"
     "    for f in ('cmdline', 'environ'):\n        try:\n            if s in open('/proc/' + p + '/' + f, 'rb').read():\n"
     "                print('ESCAPED', p, f)\n        except OSError:\n            pass\nprint('scanned')"),
    ("only_own_pids", "pids = [p for p in os.listdir('/proc') if p.isdigit()]\nprint('ESCAPED' if len(pids) > 2 else 'ok')"),
    ("uid_is_root", "print('ESCAPED' if 0 in os.getresuid() + os.getresgid() else 'ok')"),
    ("capabilities", "caps = [l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm'))]\n"
                     "print('ESCAPED' if any(l.split()[1].strip('0') for l in caps) else 'ok')"),
    ("setuid_root", "os.setuid(0)\nprint('ESCAPED')"),
    ("fork", "pid = os.fork()\nprint('ESCAPED' if pid else '')"),
    ("fork_bomb", "n = 0\nwhile n < 10000:\n    os.fork()\n    n += 1\nprint('ESCAPED')"),
    ("clone_syscall", _LIBC + "r = libc.syscall(56, 17, 0, 0, 0, 0)\nprint('ESCAPED' if r > 0 else 'ok', r)"),
    ("posix_spawn", "os.posix_spawn('/bin/true', ['true'], {})\nprint('ESCAPED')"),
    ("execv_shell", "os.execv('/bin/sh', ['sh', '-c', 'echo ESCAPED'])"),
    ("subprocess_reimport", "del sys.modules['_posixsubprocess']\nimport importlib, subprocess\n"
                            "importlib.reload(subprocess)\nprint('ESCAPED', subprocess.run(['id']))"),
    ("setsid_daemon", "os.setsid()\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                      "        import time\n        time.sleep(60)\nprint('ESCAPED')"),
    ("thread_bomb", "import threading, time\nfor i in range(200):\n"
                    "    threading.Thread(target=time.sleep, args=(30,)).start()\nprint('ESCAPED')"),
    ("kill_pid_1", "os.kill(1, 9)\nprint('ESCAPED')"),
    ("kill_everyone", "os.kill(-1, 9)\nprint('ESCAPED')"),
    ("kill_test_process", "os.kill({pid}, 10)\nprint('ESCAPED')"),
    ("ctypes_kill_test_process", _LIBC + "print('ESCAPED' if libc.kill({pid}, 10) == 0 else 'ok')"),
    ("ptrace_pid_1", _LIBC + "print('ESCAPED' if libc.ptrace(16, 1, 0, 0) == 0 else 'ok')"),
    ("process_vm_readv", _LIBC + "print('ESCAPED' if libc.syscall(310, 1, 0, 0, 0, 0, 0) >= 0 else 'ok')"),
    ("unshare_userns", _LIBC + "print('ESCAPED' if libc.unshare(0x10000000) == 0 else 'ok')"),
    ("mount_tmpfs", _LIBC + "print('ESCAPED' if libc.mount(b'x', b'/sandbox', b'tmpfs', 0, None) == 0 else 'ok')"),
    ("chroot", "os.chroot('/sandbox')\nprint('ESCAPED')"),
    ("keyctl", _LIBC + "print('ESCAPED' if libc.syscall(250, 0, -3, 0, 0, 0) >= 0 else 'ok')"),
    ("bpf", _LIBC + "print('ESCAPED' if libc.syscall(321, 0, 0, 0) >= 0 else 'ok')"),
    ("io_uring", _LIBC + "p = ctypes.create_string_buffer(120)\n"
                         "print('ESCAPED' if libc.syscall(425, 4, p) >= 0 else 'ok')"),
    ("userfaultfd", _LIBC + "print('ESCAPED' if libc.syscall(323, 0) >= 0 else 'ok')"),
    ("raise_memory_limit", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\nprint('ESCAPED')"),
    ("raise_nproc_limit", "import resource\nresource.setrlimit(resource.RLIMIT_NPROC, (100, 100))\nprint('ESCAPED')"),
    ("memfd_create", "fd = os.memfd_create('x')\nprint('ESCAPED', fd)"),
    ("memfd_over_limit", "fd = os.memfd_create('x')\nfor _ in range(768):\n    os.write(fd, b'0' * (1 << 20))\n"
                         "print('ESCAPED')"),
    ("dev_shm", "open('/dev/shm/x', 'wb').write(b'0' * (10 << 20))\nprint('ESCAPED')"),
    ("write_one_gigabyte", "f = open('big', 'wb')\nfor _ in range(1024):\n    f.write(b'0' * (1 << 20))\n"
                           "print('ESCAPED')"),
    ("fill_tmpfs", "n = 0\ntry:\n    for i in range(100):\n        open(f'f{i}', 'wb').write(b'0' * (15 << 20))\n"
                   "        n += 15\nexcept OSError:\n    pass\nprint('ESCAPED' if n > 64 else 'ok', n)"),
    ("many_directories", "for i in range(100000):\n    os.mkdir(f'd{i}')\nprint('made')"),
    ("deep_directory_chain", "for i in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\nprint('deep')"),
    ("write_usr", "open('/usr/pwned', 'w').write('x')\nprint('ESCAPED')"),
    ("write_python_prefix", "open(sys.prefix + '/pwned', 'w').write('x')\nprint('ESCAPED')"),
    ("write_root_of_fs", "open('/pwned', 'w').write('x')\nprint('ESCAPED')"),
    ("write_proc_sys", "open('/proc/sys/kernel/hostname', 'w').write('pwned')\nprint('ESCAPED')"),
    ("sqlite_outside", "import sqlite3\nc = sqlite3.connect('/usr/x.db')\nc.execute('create table t(x)')\n"
                       "print('ESCAPED')"),
    ("readline_history", "import readline\nreadline.add_history('x')\n"
                         "readline.write_history_file('{outside}')\nprint('ESCAPED')"),
    ("marshal_code_object", "import marshal\nsrc = compile(\"print('ESCAPED', open('/etc/shadow').read()[:9])\","
                            " 'm', 'exec')\nexec(marshal.loads(marshal.dumps(src)))"),
    ("socket_inet", "import socket\ns = socket.socket()\nprint('ESCAPED', s.connect_ex(('127.0.0.1', {port})))"),
    ("socket_unix", "import socket\ns = socket.socket(socket.AF_UNIX)\nprint('ESCAPED')"),
    ("socket_raw", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\nprint('ESCAPED')"),
    ("inherited_fds", "fds = [f for f in os.listdir('/proc/self/fd') if int(f) > 2]\n"
                      "leaks = [os.readlink('/proc/self/fd/' + f) for f in fds if os.path.exists('/proc/self/fd/' + f)]\n"
                      "print('ESCAPED' if [x for x in leaks if x.startswith('/') and not x.startswith('/proc')] else 'ok')"),
    ("device_memory", "open('/dev/mem', 'rb').read(16)\nprint('ESCAPED')"),
    ("sysfs", "print('ESCAPED' if os.path.isdir('/sys/class') else 'ok')"),
]


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("isolation_host")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    usr1 = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: usr1.append(1))
    os.environ["UMI_HARDENING_SECRET"] = SECRET
    watched = tempfile.mkdtemp(prefix="umi-hardening-tmp-")
    saved, tempfile.tempdir = tempfile.tempdir, watched
    values = {"pid": os.getpid(), "port": listener.getsockname()[1], "outside": str(root / "history")}
    try:
        yield {"values": values, "listener": listener, "usr1": usr1, "watched": Path(watched), "root": root}
    finally:
        tempfile.tempdir = saved
        supervise.remove_tree(watched)
        signal.signal(signal.SIGUSR1, previous)
        os.environ.pop("UMI_HARDENING_SECRET", None)
        listener.close()


@pytest.fixture(scope="module")
def outcomes(host):
    def one(case):
        name, attack = case
        limits = {**LIMITS, "timeout_s": 20.0} if name in ("many_directories", "fill_tmpfs") else LIMITS
        for key, value in host["values"].items():
            attack = attack.replace("{" + key + "}", str(value))
        return name, run_python(BYPASS + attack, **limits)
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(one, ATTACKS))


def test_at_least_sixty_attacks():
    assert len(ATTACKS) >= 60 and len({n for n, _ in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("name", [n for n, _ in ATTACKS])
def test_attack_contained(outcomes, name):
    result = outcomes[name]
    assert result.isolation == "bwrap"
    assert result.stdout.startswith("bypassed True"), (result.stdout[:200], result.stderr[-500:])
    assert "ESCAPED" not in result.stdout, (result.stdout[:300], result.error)
    assert SECRET not in result.stdout + result.stderr


def test_limits_stop_the_attack_where_expected(outcomes):
    assert "File too large" in outcomes["write_one_gigabyte"].error
    assert "Operation not permitted" in outcomes["memfd_over_limit"].error
    assert "Operation not permitted" in outcomes["fork"].error
    assert "Read-only file system" in outcomes["write_usr"].error
    assert outcomes["many_directories"].stdout.endswith("made\n")  # allowed inside; vanishes with the tmpfs
    assert outcomes["deep_directory_chain"].stdout.endswith("deep\n")


def test_host_untouched(host, outcomes):
    assert host["usr1"] == []
    with pytest.raises(BlockingIOError):
        host["listener"].accept()
    assert not Path(host["values"]["outside"]).exists()
    assert list(host["watched"].iterdir()) == []  # nothing for the host to clean up
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            # only sandbox processes count: other tests of the same session may leave helpers of their own
            if f"\nPPid:\t{os.getpid()}\n" in status and ("bwrap" in cmdline or "sandbox" in cmdline):
                children.append(f"{entry.name}: {cmdline[:200]}")
    assert children == []  # no sandbox (nor a daemon of one) outlives its run


def test_a_run_cannot_see_another_run():
    marker = "victim-" + os.urandom(6).hex()
    victim = f"import time\nx = '{marker}'\ntime.sleep(4)\nprint('done')"
    attacker = (BYPASS + f"m = ('{marker[:7]}' + '{marker[7:]}').encode()\nimport time\ntime.sleep(1)\n"
                "for p in os.listdir('/proc'):\n    for f in ('cmdline', 'environ', 'fd'):\n        try:\n"
                "            data = open(f'/proc/{p}/{f}', 'rb').read()\n        except OSError:\n            continue\n"
                "        if m in data:\n            print('ESCAPED', p, f)\nprint('scanned')")
    with ThreadPoolExecutor(max_workers=2) as pool:
        v = pool.submit(run_python, victim, **{**LIMITS, "timeout_s": 15.0})
        a = pool.submit(run_python, attacker, **{**LIMITS, "timeout_s": 15.0})
        assert "ESCAPED" not in a.result().stdout and a.result().stdout.endswith("scanned\n")
        assert v.result().stdout == "done\n"


def test_wall_clock_kills_the_whole_namespace(host):
    code = BYPASS + "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"
    result = run_python(code, **{**LIMITS, "timeout_s": 2.0})
    assert result.timed_out and result.isolation == "bwrap"


def test_ordinary_maths_still_works():
    result = run_python("import sympy as sp\nx = sp.Symbol('x')\nprint(sp.factor(x**2 - 1))", timeout_s=30, cpu_s=20)
    assert (result.stdout, result.error, result.isolation) == ("(x - 1)*(x + 1)\n", "", "bwrap")
