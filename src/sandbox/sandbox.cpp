#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <system_error>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "common/fd.h"

namespace dancer::analysis {
namespace {

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;  // owns a scmp_filter_ctx

// libseccomp's SCMP_A0..SCMP_A5 macros are C compound literals, which ISO C++ lacks.
scmp_arg_cmp arg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  return scmp_arg_cmp{index, op, a, b};
}

std::string seccomp_message(const std::string& what, int rc) {
  return "seccomp: " + what + ": " + std::strerror(-rc);
}

// Adds "fail `name` with `error`" (when all `conditions` hold). A system call this
// architecture does not have (open on arm64, say: libseccomp then resolves a negative
// pseudo number) or libseccomp does not know has nothing to deny.
void deny(const Filter& filter, const char* name, int error,
          std::initializer_list<scmp_arg_cmp> conditions = {}) {
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr < 0) return;
  const int rc =
      seccomp_rule_add_array(filter.get(), SCMP_ACT_ERRNO(static_cast<unsigned>(error)), nr,
                             static_cast<unsigned>(conditions.size()), conditions.begin());
  if (rc != 0) throw SandboxError(seccomp_message(std::string("rule for ") + name, rc));
}

void deny_all(const Filter& filter, std::initializer_list<const char*> names, int error) {
  for (const char* name : names) deny(filter, name, error);
}

// No network and no other program.
void deny_network_and_exec(const Filter& filter) {
  // Network. EACCES is what socket(2) returns when "permission to create a socket of the
  // specified type and/or protocol is denied".
  deny_all(filter, {"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"},
           EACCES);

  // Running programs.
  deny_all(filter, {"execve", "execveat"}, EPERM);
}

// Files only through the descriptors the parent passed.
void deny_files_by_name(const Filter& filter) {
  // Opening files at all: everything the child reads or writes is a descriptor its parent
  // opened and passed (the video, the models, the metadata, the outputs), so an open by name
  // can only be an attack: the service's .env, ~/.aws/credentials, the database, another
  // patient's video. EACCES is what open(2) answers for "search permission is denied".
  deny_all(filter, {"open", "openat", "creat"}, EACCES);
  // openat2's flags are in a struct behind a pointer, out of seccomp's reach; ENOSYS is
  // what an older kernel answers, and callers then use openat (refused above).
  deny(filter, "openat2", ENOSYS);
  // Learning about files by name (existence, size, owner, link targets): refused too. fstat
  // is newfstatat(fd, "", AT_EMPTY_PATH) in glibc and statx the same, so those two are
  // refused only without AT_EMPTY_PATH (with it and a non-empty name, they still answer
  // for a name: that much metadata, never content, is what seccomp cannot see).
  deny_all(filter,
           {"stat", "lstat", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
            "statfs", "chdir", "getxattr", "lgetxattr", "listxattr", "llistxattr",
            "inotify_add_watch", "fanotify_mark", "mq_open", "getcwd"},
           EACCES);
  deny(filter, "newfstatat", EACCES, {arg(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)});
  deny(filter, "statx", EACCES, {arg(2, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)});
  // Changing the file system by name, or metadata of open files.
  deny_all(filter,
           {"unlink",
            "unlinkat",
            "rename",
            "renameat",
            "renameat2",
            "mkdir",
            "mkdirat",
            "rmdir",
            "link",
            "linkat",
            "symlink",
            "symlinkat",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "chown",
            "fchown",
            "lchown",
            "fchownat",
            "truncate",
            "mknod",
            "mknodat",
            "utime",
            "utimes",
            "utimensat",
            "futimesat",
            "setxattr",
            "lsetxattr",
            "fsetxattr",
            "removexattr",
            "lremovexattr",
            "fremovexattr",
            "name_to_handle_at",
            "open_by_handle_at"},
           EPERM);
}

// No reach into other processes.
void deny_other_processes(const Filter& filter, SandboxRole role) {
  deny_all(filter,
           {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
            "pidfd_send_signal", "tkill"},
           EPERM);
  // A fork server ends its own jobs (their process groups) at a time limit or cancellation;
  // each job's child then stacks the whole filter, with its own pid as `self`.
  if (role == SandboxRole::kForkServer) return;
  // The child may still signal itself (abort(), thread cancellation): only signals aimed at
  // another process id are refused.
  const auto self = static_cast<scmp_datum_t>(::getpid());
  deny(filter, "kill", EPERM, {arg(0, SCMP_CMP_NE, self)});
  deny(filter, "tgkill", EPERM, {arg(0, SCMP_CMP_NE, self)});
  deny(filter, "rt_sigqueueinfo", EPERM, {arg(0, SCMP_CMP_NE, self)});
  deny(filter, "rt_tgsigqueueinfo", EPERM, {arg(0, SCMP_CMP_NE, self)});
}

// No privilege, namespace or process-group change.
void deny_privileges(const Filter& filter, SandboxRole role) {
  // Privileges and namespaces.
  deny_all(filter,
           {"setuid",    "setgid",   "setreuid",   "setregid",  "setresuid",     "setresgid",
            "setgroups", "setfsuid", "setfsgid",   "capset",    "unshare",       "setns",
            "mount",     "umount2",  "pivot_root", "chroot",    "fsopen",        "fsconfig",
            "fsmount",   "fspick",   "move_mount", "open_tree", "mount_setattr", "personality"},
           EPERM);
  // New namespaces through clone: its flags are the first argument. clone3 keeps them in a
  // struct, so it answers ENOSYS and glibc (2.34+) falls back to clone for threads.
  for (unsigned long flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                             CLONE_NEWUTS, CLONE_NEWCGROUP}) {
    deny(filter, "clone", EPERM, {arg(0, SCMP_CMP_MASKED_EQ, flag, flag)});
  }
  deny(filter, "clone3", ENOSYS);
  // Leaving the process group would let a process outlive the parent's kill(-pgid) at a
  // time limit or cancellation. A fork server puts each job in a group of its own first.
  deny(filter, "setsid", EPERM);
  if (role == SandboxRole::kChild) deny(filter, "setpgid", EPERM);
}

// No kernel interface the analysis never needs.
void deny_kernel_interfaces(const Filter& filter) {
  // Kernel interfaces the analysis never uses and that have a history of exploitable bugs.
  // io_uring is here also because its opens and connects do not pass through seccomp.
  deny_all(filter,
           {"bpf",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "userfaultfd",
            "perf_event_open",
            "keyctl",
            "add_key",
            "request_key",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "fanotify_init",
            "lookup_dcookie",
            "quotactl",
            "quotactl_fd",
            "acct",
            "swapon",
            "swapoff",
            "reboot",
            "sethostname",
            "setdomainname",
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "syslog",
            "iopl",
            "ioperm",
            "vhangup",
            "uselib"},
           EPERM);
  // Typing into the controlling terminal (TIOCSTI) or the console (TIOCLINUX). The request
  // is an unsigned int: compare its low 32 bits only.
  for (unsigned long request : {TIOCSTI, TIOCLINUX}) {
    deny(filter, "ioctl", EPERM, {arg(1, SCMP_CMP_MASKED_EQ, 0xffffffffUL, request)});
  }
}

Filter build_filter(SandboxRole role) {
  Filter filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) throw SandboxError("seccomp: seccomp_init failed");
  // Every thread gets the filter, or the load fails (no thread left unconfined).
  int rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) throw SandboxError(seccomp_message("SCMP_FLTATR_CTL_TSYNC", rc));

  deny_network_and_exec(filter);
  deny_files_by_name(filter);
  deny_other_processes(filter, role);
  deny_privileges(filter, role);
  deny_kernel_interfaces(filter);
  return filter;
}

// Landlock (Linux 5.13+), defence in depth under the filter: a ruleset that handles every
// file-system right the kernel knows and grants none, so no path can be read, written,
// executed or listed even through a system call the filter misses. Returns the ABI version
// enforced, 0 where the kernel has no Landlock (the filter alone then stands).
int restrict_file_system() {
#if defined(SYS_landlock_create_ruleset) && defined(SYS_landlock_restrict_self)
  const int abi = landlock_abi();
  if (abi <= 0) return 0;
  landlock_ruleset_attr attributes{};
  attributes.handled_access_fs =
      LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
      LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
      LANDLOCK_ACCESS_FS_MAKE_SYM;
  // Rights of later ABIs (landlock.h of Linux 5.19 and 6.2): reparenting and truncation.
  if (abi >= 2) attributes.handled_access_fs |= 1ULL << 13;  // LANDLOCK_ACCESS_FS_REFER
  if (abi >= 3) attributes.handled_access_fs |= 1ULL << 14;  // LANDLOCK_ACCESS_FS_TRUNCATE
  const long ruleset =
      ::syscall(SYS_landlock_create_ruleset, &attributes, sizeof attributes.handled_access_fs, 0L);
  if (ruleset < 0) return 0;
  const common::UniqueFd owner(static_cast<int>(ruleset));
  // Every thread: the child has one at this point (enter_sandbox runs first thing).
  if (::syscall(SYS_landlock_restrict_self, static_cast<long>(owner.get()), 0L) != 0) {
    throw SandboxError(std::string("landlock_restrict_self: ") + std::strerror(errno));
  }
  return abi;
#else
  return 0;
#endif
}

}  // namespace

SandboxUser resolve_sandbox_user(const std::string& name) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = 0;
  while ((rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) ==
         ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0) {
    throw SandboxError("sandbox user " + name + ": " + std::strerror(rc));
  }
  if (found == nullptr) throw SandboxError("sandbox user " + name + " does not exist");
  if (entry.pw_uid == 0 || entry.pw_gid == 0) {
    throw SandboxError("sandbox user " + name + " is privileged (uid or group 0)");
  }
  return SandboxUser{name, entry.pw_uid, entry.pw_gid};
}

const std::optional<SandboxUser>& sandbox_user() {
  static const std::optional<SandboxUser> user =
      ::geteuid() == 0 ? std::optional<SandboxUser>(resolve_sandbox_user())
                       : std::optional<SandboxUser>();
  return user;
}

std::vector<std::string> minimal_environment() {
  return {"LANG=C", "TZ=UTC", "PATH=/usr/bin:/bin"};
}

std::vector<std::string> external_command_environment() {
  std::vector<std::string> environment = minimal_environment();
  const char* path = std::getenv("PATH");
  if (path != nullptr && *path != '\0') {
    for (auto& entry : environment) {
      if (entry.rfind("PATH=", 0) == 0) entry = std::string("PATH=") + path;
    }
  }
  return environment;
}

void apply_sandbox_defaults(SubprocessOptions& options, const std::optional<SandboxUser>& user) {
  options.environment = minimal_environment();
  options.no_new_privs = true;
  options.die_with_parent = true;
  if (user) {
    options.run_as = RunAs{user->uid, user->gid};
  } else {
    options.run_as.reset();
  }
}

SubprocessOptions sandboxed_child_options(std::vector<std::string> argv,
                                          const std::optional<SandboxUser>& user) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  apply_sandbox_defaults(options, user);
  return options;
}

int landlock_abi() {
#if defined(SYS_landlock_create_ruleset)
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0,
                             static_cast<long>(LANDLOCK_CREATE_RULESET_VERSION));
  return abi > 0 ? static_cast<int>(abi) : 0;
#else
  return 0;
#endif
}

int enter_sandbox(SandboxRole role) {
  Filter filter = build_filter(role);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    throw SandboxError(std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
  }

#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer's end-of-process check stops the threads with ptrace, which the filter
  // denies. Checking now runs it while it still can and turns the exit-time check off
  // (lsan_interface.h), so sanitizer builds of the child neither fail nor hang at exit.
  __lsan_do_leak_check();
#endif
  // After the leak check, which reads /proc/self/task (Landlock would refuse it).
  const int landlock = restrict_file_system();
  // Not dumpable: processes of the same user (other analysis children, all `nobody`) can
  // no longer read this one's memory, environment or descriptors through /proc.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw SandboxError(std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
  }
  const int rc = seccomp_load(filter.get());
  if (rc != 0) throw SandboxError(seccomp_message("loading the filter", rc));
  return landlock;
}

}  // namespace dancer::analysis
