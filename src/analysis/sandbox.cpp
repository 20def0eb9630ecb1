#include "analysis/sandbox.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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

namespace dancer::analysis {
namespace {

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;  // owns a scmp_filter_ctx

class FdOwner {
 public:
  explicit FdOwner(int fd) : fd_(fd) {}
  ~FdOwner() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdOwner(const FdOwner&) = delete;
  FdOwner& operator=(const FdOwner&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

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

Filter build_filter() {
  Filter filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) throw SandboxError("seccomp: seccomp_init failed");
  // Every thread gets the filter, or the load fails (no thread left unconfined).
  int rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) throw SandboxError(seccomp_message("SCMP_FLTATR_CTL_TSYNC", rc));

  // Network. EACCES is what socket(2) returns when "permission to create a socket of the
  // specified type and/or protocol is denied".
  deny_all(filter, {"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"},
           EACCES);

  // Running programs.
  deny_all(filter, {"execve", "execveat"}, EPERM);

  // Opening files for writing. One rule per flag: conditions within a rule are ANDed,
  // rules are ORed. O_TMPFILE requires O_WRONLY or O_RDWR, so it is covered too.
  for (unsigned long flag : {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND}) {
    deny(filter, "open", EACCES, {arg(1, SCMP_CMP_MASKED_EQ, flag, flag)});
    deny(filter, "openat", EACCES, {arg(2, SCMP_CMP_MASKED_EQ, flag, flag)});
  }
  deny(filter, "creat", EACCES);
  // openat2's flags are in a struct behind a pointer, out of seccomp's reach; ENOSYS is
  // what an older kernel answers, and callers then use openat.
  deny(filter, "openat2", ENOSYS);
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

  // Other processes. The child may still signal itself (abort(), thread cancellation):
  // only signals aimed at another process id are refused.
  const auto self = static_cast<scmp_datum_t>(::getpid());
  deny_all(filter,
           {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
            "pidfd_send_signal", "tkill"},
           EPERM);
  deny(filter, "kill", EPERM, {arg(0, SCMP_CMP_NE, self)});
  deny(filter, "tgkill", EPERM, {arg(0, SCMP_CMP_NE, self)});
  deny(filter, "rt_sigqueueinfo", EPERM, {arg(0, SCMP_CMP_NE, self)});
  deny(filter, "rt_tgsigqueueinfo", EPERM, {arg(0, SCMP_CMP_NE, self)});

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
  // time limit or cancellation.
  deny_all(filter, {"setsid", "setpgid"}, EPERM);

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
  return filter;
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

void grant_read_to_sandbox_user(const std::filesystem::path& file,
                                const std::optional<SandboxUser>& user) {
  if (!user || ::geteuid() != 0) return;
  // O_NONBLOCK: a FIFO in place of the file must not block us; it is refused below.
  FdOwner fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) throw std::system_error(errno, std::generic_category(), file.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw std::system_error(errno, std::generic_category(), "fstat " + file.string());
  }
  if (!S_ISREG(st.st_mode)) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "not a regular file: " + file.string());
  }
  if (::fchown(fd.get(), static_cast<uid_t>(-1), user->gid) != 0) {
    throw std::system_error(errno, std::generic_category(), "fchown " + file.string());
  }
  // fchown clears set-user/group-ID bits anyway; the group gains read, nothing more.
  const mode_t mode = (st.st_mode & 0777) | S_IRGRP;
  if (::fchmod(fd.get(), mode) != 0) {
    throw std::system_error(errno, std::generic_category(), "fchmod " + file.string());
  }
}

void enter_sandbox() {
  Filter filter = build_filter();
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    throw SandboxError(std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
  }
#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer's end-of-process check stops the threads with ptrace, which the filter
  // denies. Checking now runs it while it still can and turns the exit-time check off
  // (lsan_interface.h), so sanitizer builds of the child neither fail nor hang at exit.
  __lsan_do_leak_check();
#endif
  // Not dumpable: processes of the same user (other analysis children, all `nobody`) can
  // no longer read this one's memory, environment or descriptors through /proc; the child
  // itself still reaches its own /proc/self/fd (same thread group).
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw SandboxError(std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
  }
  const int rc = seccomp_load(filter.get());
  if (rc != 0) throw SandboxError(seccomp_message("loading the filter", rc));
}

}  // namespace dancer::analysis
