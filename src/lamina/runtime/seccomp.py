"""docker's default seccomp profile, generated from data for one architecture and capability set.

The semantics are moby's ``profiles/seccomp/default.json``: deny by default with EPERM; allow
a fixed list of system calls; allow more when the container holds a capability (``mount`` with
CAP_SYS_ADMIN, ``ptrace`` with CAP_SYS_PTRACE, …) or runs on an architecture that needs them;
``clone`` only without namespace flags unless CAP_SYS_ADMIN; ``clone3`` answers ENOSYS so
libcs fall back to ``clone``; ``personality`` only with the harmless personas; ``socket`` for
every family but AF_VSOCK.

``docker_profile_to_oci`` converts a docker-format profile (``--security-opt seccomp=FILE``)
the same way.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # the monitor builds the profile at every start: typing and platform cost it ~5 ms
if TYPE_CHECKING:
    from typing import Any

_ALLOWED = """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv
futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list
getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32
getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup
io_submit io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2
mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall
munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl
pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev
pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid
setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr
shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit
umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4
waitid waitpid write writev
"""

#: namespace flags clone may not use without CAP_SYS_ADMIN (CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP)
CLONE_NAMESPACE_FLAGS = 0x7E020000

# (names, condition) allowed beyond the base list. Conditions: cap=… (held), arch=… (one of),
# min_kernel. Rules with arguments are in _ARG_RULES.
_EXTRA: tuple[tuple[str, dict[str, Any]], ...] = (
    ("process_vm_readv process_vm_writev ptrace", {"min_kernel": (4, 8)}),
    ("sync_file_range2 swapcontext", {"arch": ("ppc64le",)}),
    ("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", {"arch": ("arm", "arm64")}),
    ("arch_prctl", {"arch": ("amd64", "x32")}),
    ("modify_ldt", {"arch": ("amd64", "x32", "x86")}),
    ("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", {"arch": ("s390", "s390x")}),
    ("riscv_flush_icache", {"arch": ("riscv64",)}),
    ("open_by_handle_at", {"cap": "CAP_DAC_READ_SEARCH"}),
    ("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
     "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
     "sethostname setns syslog umount umount2 unshare", {"cap": "CAP_SYS_ADMIN"}),
    ("reboot", {"cap": "CAP_SYS_BOOT"}),
    ("chroot", {"cap": "CAP_SYS_CHROOT"}),
    ("delete_module init_module finit_module", {"cap": "CAP_SYS_MODULE"}),
    ("acct", {"cap": "CAP_SYS_PACCT"}),
    ("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", {"cap": "CAP_SYS_PTRACE"}),
    ("iopl ioperm", {"cap": "CAP_SYS_RAWIO"}),
    ("settimeofday stime clock_settime clock_settime64", {"cap": "CAP_SYS_TIME"}),
    ("vhangup", {"cap": "CAP_SYS_TTY_CONFIG"}),
    ("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", {"cap": "CAP_SYS_NICE"}),
    ("syslog", {"cap": "CAP_SYSLOG"}),
    ("bpf", {"cap": "CAP_BPF"}),
    ("perf_event_open", {"cap": "CAP_PERFMON"}),
)

_ARCHES = {
    "x86_64": ("amd64", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    "aarch64": ("arm64", ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]),
    "s390x": ("s390x", ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]),
    "riscv64": ("riscv64", ["SCMP_ARCH_RISCV64"]),
    "ppc64le": ("ppc64le", ["SCMP_ARCH_PPC64LE"]),
}


def _kernel() -> tuple[int, int]:
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int(parts[1].split("-")[0])
    except (IndexError, ValueError):
        return (0, 0)


def _arg(index: int, value: int, op: str) -> dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": 0, "op": op}


def default_profile(capabilities: set[str], machine: str | None = None) -> dict[str, Any]:
    """The OCI ``linux.seccomp`` section docker would give a container with ``capabilities``."""
    arch, scmp_arches = _ARCHES.get(machine or os.uname().machine, ("amd64", _ARCHES["x86_64"][1]))
    kernel = _kernel()
    allowed = _ALLOWED.split()
    for names, cond in _EXTRA:
        if "cap" in cond and cond["cap"] not in capabilities:
            continue
        if "arch" in cond and arch not in cond["arch"]:
            continue
        if "min_kernel" in cond and kernel < cond["min_kernel"]:
            continue
        allowed.extend(n for n in names.split() if n not in allowed)
    rules: list[dict[str, Any]] = [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]
    rules.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [_arg(0, 40, "SCMP_CMP_NE")]})
    for persona in (0, 8, 131072, 131080, 4294967295):
        rules.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [_arg(0, persona, "SCMP_CMP_EQ")]})
    if "CAP_SYS_ADMIN" not in capabilities:
        flags_arg = 1 if arch in ("s390", "s390x") else 0
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [_arg(flags_arg, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")]})
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": scmp_arches,
        "syscalls": rules,
    }


def docker_profile_to_oci(profile: dict[str, Any], capabilities: set[str], machine: str | None = None) -> dict[str, Any]:
    """A docker-format profile (archMap, includes/excludes) for this host and capability set."""
    arch, scmp_arches = _ARCHES.get(machine or os.uname().machine, ("amd64", _ARCHES["x86_64"][1]))
    architectures = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == scmp_arches[0]:
            architectures = [entry["architecture"], *(entry.get("subArchitectures") or [])]
    syscalls = []
    for rule in profile.get("syscalls") or []:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not all(c in capabilities for c in inc["caps"]):
            continue
        if exc.get("arches") and arch in exc["arches"]:
            continue
        if exc.get("caps") and any(c in capabilities for c in exc["caps"]):
            continue
        names = list(rule.get("names") or ([rule["name"]] if rule.get("name") else []))
        out = {"names": names, "action": rule["action"]}
        if rule.get("args"):
            out["args"] = [{"index": a["index"], "value": a.get("value", 0), "valueTwo": a.get("valueTwo", 0), "op": a["op"]} for a in rule["args"]]
        if "errnoRet" in rule:
            out["errnoRet"] = rule["errnoRet"]
        syscalls.append(out)
    doc = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ERRNO"), "architectures": architectures, "syscalls": syscalls}
    if "defaultErrnoRet" in profile:
        doc["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return doc
