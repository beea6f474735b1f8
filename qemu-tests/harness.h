// QEMU boot-test harness: boots a kernel + initramfs under qemu-system-x86_64
// (TCG by default), reads the serial console incrementally and lets a test wait
// for text, type into the console and collect the exit code. Every QEMU is
// killed when its Qemu object dies, and the console log is kept on disk.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace initos::qemu {

using Seconds = std::chrono::seconds;

// Generous defaults for TCG on a loaded 2-core machine; tests end as soon as the
// awaited text shows up, so these only matter when something is broken.
inline constexpr Seconds kBootTimeout{120};
inline constexpr Seconds kStepTimeout{60};

// Newest /boot/vmlinuz-*-cloud-amd64 (or $INITOS_QEMU_KERNEL); "" if none.
std::string FindKernel();
// "6.1.0-56-cloud-amd64" for ".../vmlinuz-6.1.0-56-cloud-amd64".
std::string KernelVersion(const std::string& kernel_path);
// Why QEMU tests cannot run here ("" when they can): not root, no QEMU, no kernel.
std::string SkipReason();
// Accelerator: $INITOS_QEMU_ACCEL ("tcg", "kvm" or "auto": probe KVM once per
// process by booting the kernel with a short timeout). Default "tcg": nested
// KVM may hang, and the tests must never depend on it.
std::string Accel();

// Directory for per-test files (initramfs, disks, logs) under the build dir:
// BUILD/qemu-work/SUITE.TEST, emptied on the test's first call.
std::string TestWorkDir();
// BUILD/qemu-logs/SUITE.TEST.log
std::string TestLogPath();

struct QemuOptions {
  std::string kernel;                        // "" = FindKernel() (unless firmware boots)
  std::string initramfs;                     // required for a direct kernel boot
  std::string append;                        // appended to "console=ttyS0 panic=-1 ..."
  std::vector<std::string> disks;            // raw files, attached as virtio-blk
  std::vector<std::pair<int, int>> hostfwd;  // host TCP port -> guest TCP port
  int memory_mb = 512;
  std::string log_path;  // "" = TestLogPath()
  // EFI boot through OVMF (QemuVm's fields): with firmware_boot the kernel,
  // initramfs and append are not used; the firmware boots the first disk.
  bool firmware_boot = false;
  std::string firmware_code;
  std::string firmware_vars;  // writable copy, one per VM
  bool secure_boot = false;
  std::string tpm_socket;  // swtpm's control socket ("" = no TPM)
  // Appended to QEMU's argv as they are (devices QemuVm has no field for).
  std::vector<std::string> extra_args;
};

// Options for booting `initramfs` with extra kernel arguments `append`.
inline QemuOptions BootOptions(std::string initramfs, std::string append = "") {
  QemuOptions o;
  o.initramfs = std::move(initramfs);
  o.append = std::move(append);
  return o;
}

class Qemu {
 public:
  static Result<std::unique_ptr<Qemu>> Start(QemuOptions options);
  ~Qemu();  // kills QEMU (if still running) and writes the console log
  Qemu(const Qemu&) = delete;
  Qemu& operator=(const Qemu&) = delete;

  // Waits until `needle` appears in console output after the cursor; on success
  // moves the cursor past it, so repeated calls find successive occurrences.
  bool WaitFor(std::string_view needle, Seconds timeout = kStepTimeout);
  // Same with a regex (ECMAScript), searched in complete lines only so that a
  // match never depends on how the output was split; returns the matched text.
  std::optional<std::string> WaitForRegex(const std::string& pattern,
                                          Seconds timeout = kStepTimeout);
  // Reads console output for `d` (sub-second), moving no cursor: keeps QEMU
  // from blocking on a full pipe while a test waits for a random instant.
  void Pump(std::chrono::milliseconds d);
  // Types into the serial console (guest stdin).
  bool Send(std::string_view text);
  // Waits for QEMU to exit; its exit status (128+signal if killed) or nullopt.
  std::optional<int> WaitExit(Seconds timeout = kBootTimeout);

  const std::string& Output() const { return output_; }
  // The last `lines` lines of the console, for failure messages (the whole
  // log goes to LogPath()).
  std::string Tail(size_t lines = 40) const;
  // Console output after the cursor (what the next WaitFor searches).
  std::string_view Unread() const { return std::string_view(output_).substr(cursor_); }
  // Occurrences of `needle` in the whole output.
  size_t Count(std::string_view needle) const;
  bool Running() const { return pid_ > 0 && !exit_code_; }
  const std::string& LogPath() const { return log_path_; }
  const std::vector<std::string>& CommandLine() const { return argv_; }

 private:
  Qemu() = default;
  // Reads whatever the console has until `deadline`, or returns early once
  // `done()` holds. Returns done().
  template <typename Pred>
  bool PumpUntil(std::chrono::steady_clock::time_point deadline, Pred done);
  // Reads available output, waiting up to timeout_ms; false on EOF.
  bool ReadSome(int timeout_ms);
  void Reap(bool block);
  void WriteLog() const;

  pid_t pid_ = -1;
  unique_fd in_;   // QEMU's stdin (serial input)
  unique_fd out_;  // QEMU's stdout+stderr (serial output)
  std::string output_;
  size_t cursor_ = 0;
  std::optional<int> exit_code_;
  std::string log_path_;
  std::vector<std::string> argv_;
};

// A test initramfs built with `initos image initramfs`.
struct InitramfsSpec {
  std::string config;                                      // initos.toml text ("" = none)
  std::vector<std::pair<std::string, std::string>> files;  // host path -> path in image
  std::vector<std::pair<std::string, std::string>> texts;  // file contents -> path in image
  std::vector<std::string> modules;                        // kernel modules (with deps)
  bool busybox = true;                                     // /bin/busybox (static)
  bool with_sshd = false;                                  // --with-sshd (SSH sidecar files)
  std::string compress = "gzip";
};
// Writes `spec` into dir and runs INITOS_BINARY; returns the image path. On
// failure the error carries the builder's output.
Result<std::string> BuildInitramfs(const InitramfsSpec& spec, const std::string& dir);

// A plain busybox initramfs without initos (harness self-test, benchmark
// baseline): /init is `init_script`, /bin/busybox and `texts` are added.
Result<std::string> BuildBusyboxInitramfs(
    const std::string& init_script, const std::vector<std::pair<std::string, std::string>>& texts,
    const std::string& dir);

// Runs argv, capturing stdout+stderr; returns {exit status, output}.
std::pair<int, std::string> RunCapture(const std::vector<std::string>& argv);

}  // namespace initos::qemu

// Skips the current test when QEMU tests cannot run on this machine.
#define INITOS_REQUIRE_QEMU()                           \
  do {                                                  \
    std::string reason_ = ::initos::qemu::SkipReason(); \
    if (!reason_.empty()) GTEST_SKIP() << reason_;      \
  } while (0)
