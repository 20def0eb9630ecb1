// Confinement of the child process that analyses an untrusted video.
//
// Threat model: a crafted video exploits a bug in a demuxer or decoder (FFmpeg) or in the
// image code after it (OpenCV) and runs code of its choice inside the analysis child.
// That code must not (1) read the service's secrets, (2) reach the network (exfiltration,
// the cloud metadata endpoint, the database), (3) change files or start other programs,
// (4) attack the kernel through rarely needed interfaces, or (5) touch other processes.
// The layers, from the parent's side (run_subprocess, sandboxed_child_options):
//  - an explicit environment: AWS_*, DATABASE_URL and the rest never reach the child;
//  - every parent descriptor closed except stdin (/dev/null), the stdout/stderr pipes and
//    the files the parent opened for the child's output (SubprocessOptions::inherit_fds);
//  - when the service runs as root, the child runs as an unprivileged user (`nobody`), so
//    root-only files (credentials, the database's files, other jobs) are unreadable;
//  - no_new_privs, so exec-time privilege gains (set-user-ID programs) are impossible.
// And from the child's side, enter_sandbox(): a seccomp-BPF filter (libseccomp).
//
// The filter is a denylist with a default of "allow": FFmpeg, OpenCV, glibc, libstdc++ and
// the sanitizer runtimes use a large and version-dependent set of system calls (futex,
// clone3, mmap, madvise, rseq, sched_getaffinity, prlimit64, getrandom, reads of /proc and
// /sys for CPU counts...), and an allowlist that misses one turns a new library release
// into analysis failures in production. What is denied instead are whole classes the
// analysis never needs, each failing with an errno (never a kill) so a failure names its
// cause:
//  - network: socket, socketpair, connect, bind, listen, accept -> EACCES. socketpair too:
//    nothing in the analysis talks to itself over sockets;
//  - running programs: execve, execveat -> EPERM (which is why the filter can only be
//    installed after our own exec, by the child itself);
//  - opening files at all: open, openat, creat -> EACCES; openat2 -> ENOSYS (its flags sit
//    in a struct seccomp cannot read; callers then fall back to openat). Everything the
//    child reads or writes arrives as a descriptor its parent opened (the video, the
//    models, the metadata, the outputs); trusted system files it needs (libmagic's
//    database) are read before the filter. Reading and writing those descriptors stays
//    allowed: that is its input and output;
//  - learning about files by name: stat, lstat, access, faccessat(2), readlink(at),
//    statfs, chdir, getcwd, getxattr/listxattr, inotify_add_watch, fanotify_mark,
//    mq_open -> EACCES; newfstatat and statx without AT_EMPTY_PATH (fstat's form) ->
//    EACCES;
//  - changing the file system by name: unlink, rename, mkdir, rmdir, link, symlink,
//    chmod, chown, truncate, mknod, utimes, xattr changes -> EPERM;
//  - other processes: ptrace, process_vm_readv/writev, kcmp, pidfd_open/getfd/send_signal
//    -> EPERM; kill, tgkill, rt_(tg)sigqueueinfo aimed at another process -> EPERM (abort()
//    and thread signals of the child itself still work), tkill -> EPERM;
//  - privileges and namespaces: the set*id family, capset, unshare, setns, mount and the
//    new mount API, umount2, pivot_root, chroot, personality -> EPERM;
//  - kernel attack surface: bpf, io_uring_* (io_uring performs opens and connects
//    without passing through seccomp), userfaultfd, perf_event_open, keyctl, add_key,
//    request_key, kexec_*, *_module, ioctl(TIOCSTI) -> EPERM.
// System calls of another ABI (i386 int 0x80, x32) are killed: libseccomp's default for a
// foreign architecture, which keeps the denylist from being bypassed through them.
//
// Beneath the filter, where the kernel has it, Landlock (Linux 5.13+) grants no file-system
// right at all: a system call the filter misses still reaches no path. A system call newer
// than the installed libseccomp is allowed (default allow); the list above was checked
// against Linux 6.x. Not covered: metadata of a name through newfstatat/statx with
// AT_EMPTY_PATH and a non-empty name (seccomp cannot read the name); never content.
//
// What the analysis still does under the filter: preads of its descriptors; mmap/madvise;
// futex; FFmpeg's frame threads and OpenCV's pool through clone after clone3's ENOSYS;
// writes to stdout/stderr and the output descriptors. What libraries try by name (glibc's
// /sys/devices/system/cpu/online, OpenCV's cgroup files) is refused, and they fall back to
// sched_getaffinity.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sandbox/subprocess.h"

namespace dancer::analysis {

// The filter could not be built or loaded, or a sandbox user cannot be resolved. The
// child must then refuse to analyse (never run unconfined).
class SandboxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SandboxUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks `name` up in the user database (getpwnam_r): its uid and primary group. Throws
// SandboxError when the user does not exist or is root. Not async-signal-safe (NSS): call
// it before fork, never in a child.
SandboxUser resolve_sandbox_user(const std::string& name = "nobody");

// The user analysis children run as: `nobody` (on Debian uid 65534, group nogroup) when
// this process runs as root (euid 0), nullopt otherwise (the child then keeps our
// uid: dropping to another user needs root). Resolved once, on first call, then cached.
// Throws SandboxError when running as root and `nobody` does not exist.
const std::optional<SandboxUser>& sandbox_user();

// The whole environment of an analysis child: LANG=C (locale-independent number
// formatting and no locale archive lookups), TZ=UTC (no /etc/localtime lookups; the
// analysis has no local times) and PATH=/usr/bin:/bin (nothing is executed, but a
// library that looks at PATH sees a sane value). Nothing of the parent's environment.
std::vector<std::string> minimal_environment();
// For ANALYSIS_COMMAND, the operator's own program: the minimal environment with this
// process's PATH (the command may live in /usr/local/bin or a virtualenv), still without
// any secret.
std::vector<std::string> external_command_environment();

// Fills in the confinement the service uses for analysis children: the minimal
// environment, no_new_privs and, when `user` is set, run_as that user. The defaults
// (sandbox_user()) switch to `nobody` exactly when the service runs as root.
void apply_sandbox_defaults(SubprocessOptions& options,
                            const std::optional<SandboxUser>& user = sandbox_user());
SubprocessOptions sandboxed_child_options(std::vector<std::string> argv,
                                          const std::optional<SandboxUser>& user = sandbox_user());

// Who enters the sandbox. A fork server (sandbox/fork_server.h) is confined like an analysis
// child except that it may signal other processes and set process groups: it puts each job
// in a group of its own and kills that group at a time limit. Each job's child then enters
// the sandbox as kChild, which stacks the whole filter on the server's.
enum class SandboxRole { kChild, kForkServer };

// Installs the seccomp filter described above on the calling process, all its threads
// (SCMP_FLTATR_CTL_TSYNC) and all its future children, and sets no_new_privs. Irrevocable.
// The analysis child calls it first thing, before it reads any byte of input and before it
// starts any thread. Also restricts the file system with Landlock where the kernel has it.
// Returns the Landlock ABI enforced (0: none). Throws SandboxError when the filter cannot
// be loaded.
int enter_sandbox(SandboxRole role = SandboxRole::kChild);
// The Landlock ABI version the kernel offers (0: none).
int landlock_abi();

}  // namespace dancer::analysis
