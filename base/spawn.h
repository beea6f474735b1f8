// Starting a child program the way PID 1, the reaper and jails all need:
// signal mask and dispositions reset to defaults before exec, optional new
// session / process group / controlling terminal, and exec failures reported
// to the parent (through a close-on-exec pipe) instead of a silent exit.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace base {

// One child-side step of Spawn: runs in the forked child, after the
// built-in steps (session, fds, controlling tty, chroot, cwd) and before
// close_range and exec, in list order. This is where a jail adds its own
// (namespaces, uid maps, cgroup, capabilities, seccomp, one file each)
// instead of forking its own way. A failed step stops the child before
// exec; Spawn's error is "NAME for ARGV0: MESSAGE" (or strerror of its
// errno). The parent is single-threaded wherever Spawn runs a step, so a
// step may allocate; it must not touch the parent's state, which it only
// has a copy of.
struct ChildStep {
  std::string name;  // "set up the sidecar root", "write uid_map", ...
  std::function<Result<void>()> run;
};

// A signal state for the child instead of a fresh one: the reaper hands its
// child the mask it inherited and puts back the dispositions it changed
// itself, as tini does (a drop-in must not un-ignore SIGPIPE behind the
// caller's back). Every signal not listed keeps what exec makes of the
// caller's disposition (a handler becomes SIG_DFL, SIG_IGN stays), so only
// the listed ones cost a system call in the child: reading and resetting all
// 64 cost ~130 of them per start (docs/performance.md). The caller must have
// no handler for a signal that `mask` leaves unblocked and that is not in
// `defaulted`: the child unblocks them just before exec, and a handler must
// never run in the child (it shares the caller's memory until exec).
struct ChildSignals {
  sigset_t mask;
  std::vector<int> ignored;    // set to SIG_IGN in the child
  std::vector<int> defaulted;  // set to SIG_DFL in the child
};

inline constexpr size_t kMaxInheritFds = 64;

struct SpawnOptions {
  std::vector<std::string> argv;                // argv[0] is searched in PATH if it has no '/'
  std::optional<std::vector<std::string>> env;  // "K=V" entries; nullopt inherits environ
  bool new_session = false;                     // setsid(): own session, no controlling tty
  bool controlling_tty = false;                 // with new_session: make stdin the controlling tty
  bool new_process_group = false;               // setpgid(0, 0) (when not new_session)
  bool foreground = false;  // with new_process_group: tcsetpgrp on stdin if it is a tty
  int stdin_fd = -1;        // -1 inherits; else dup2'ed onto 0
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::string cwd;  // "" keeps the current directory (inside chroot if set)
  // chroot(2) here (then chdir "/") before cwd and exec: argv[0] and PATH
  // resolve inside it. PID 1 runs init.main from the verified root this way.
  std::string chroot;
  // >= 0: exec this already-open file (execveat AT_EMPTY_PATH) instead of
  // looking argv[0] up; argv[0] is still passed as the name. Lets PID 1 run
  // the initramfs' recovery shell after the root has been switched and the
  // initramfs deleted (the open fd keeps the file). Must be an ELF binary:
  // a close-on-exec fd cannot run a script.
  int exec_fd = -1;
  // The argv[0] the program sees, when it differs from the file run
  // (argv[0]): "@sshd", so systemd's final killing spree leaves it alone.
  std::string argv0;
  std::vector<ChildStep> steps;  // see ChildStep
  // Mark every descriptor above 2 close-on-exec just before exec
  // (close_range): whatever leaked into the parent without O_CLOEXEC never
  // reaches the program (runc's CVE-2024-21626 was one such fd).
  bool close_other_fds = false;
  // Descriptors the program gets at fixed numbers: inherit_fds[i] becomes
  // fd 3 + i (without close-on-exec) and every other fd above 2 is closed
  // on exec, as with close_other_fds. A VM jail's QEMU is told "fd=3" on
  // its command line and holds nothing else. At most kMaxInheritFds.
  std::vector<int> inherit_fds;
  // > 0: give up when the child has not reached exec within this time (a
  // step that hangs on a stuck device): its process group (it gets its own
  // unless new_session) and it are SIGKILLed and reaped, and the error is
  // "ARGV0 did not start within N s".
  std::chrono::milliseconds start_timeout{0};
  // nullopt: the child starts with no blocked and no ignored signals.
  std::optional<ChildSignals> signals;

  // Jails: clone3 instead of fork when any of the following is set.
  // CLONE_NEW* flags (CLONE_NEWUSER, CLONE_NEWPID, ...): the child starts in
  // those new namespaces; with CLONE_NEWPID it is PID 1 there (exec failures
  // are still reported through the status pipe). 0 = plain fork.
  uint64_t clone_flags = 0;
  // >= 0: an O_DIRECTORY fd of a cgroup2 directory the child starts in
  // (CLONE_INTO_CGROUP): it never runs a single instruction outside it.
  int cgroup_fd = -1;
  // Non-null: receives a pidfd of the child (CLONE_PIDFD), race-free with
  // the pid. Left empty when Spawn fails.
  unique_fd* pidfd_out = nullptr;
  // Runs in the parent right after the clone while the child waits (on a
  // pipe, before any of its own steps): writing the uid/gid maps of a new
  // user namespace, moving a veth end into the child's netns. A failure
  // kills and reaps the child and is Spawn's error.
  std::function<Result<void>(pid_t child)> parent_step;
};

// Forks and execs. On success returns the child's pid once exec has happened.
// If exec (or a setup step) fails in the child, the child exits and the
// returned Error carries the child's errno (ENOENT: not found, EACCES: not
// executable), with the child already reaped.
Result<pid_t> Spawn(const SpawnOptions& options);

// A program run to completion by SpawnAndWait.
struct Finished {
  int wait_status = 0;  // as from waitpid
  std::string output;   // stdout, and stderr when merged
  bool succeeded() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }
};

// Spawns `options` with stdout (and with merge_stderr also stderr) collected
// through a pipe, then waits for the child. The error cases are Spawn's.
//
// timeout > 0 bounds the whole run (PID 1 must never wait forever for a
// helper): the child gets its own process group (unless new_session), and
// when it has not exited by then the group is SIGKILLed, the child reaped,
// and the error is "ARGV0 did not finish within N s (killed it and its
// process group)". Zero waits as long as it takes.
Result<Finished> SpawnAndWait(
    SpawnOptions options, bool merge_stderr,
    std::chrono::milliseconds timeout = std::chrono::milliseconds::zero());

// Waits for the spawned child `pid` (started with new_process_group or
// new_session, so its group is its own) for at most `timeout`; returns its
// wait status. On expiry the group and the child are SIGKILLed and reaped,
// and the error is "NAME did not finish within N s (killed it and its
// process group)". Zero waits as long as it takes. For programs whose output
// goes elsewhere (the console): background jobs they leave are not waited
// for, as with a plain waitpid.
Result<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout, const std::string& name);

// "30 s", "0.25 s": a timeout as error messages print it.
std::string FormatTimeout(std::chrono::milliseconds timeout);

// Signal mask and dispositions as a fresh process has them: all signals
// unblocked and SIG_DFL. Called in children before exec.
void ResetSignals();

}  // namespace base
}  // namespace initos
