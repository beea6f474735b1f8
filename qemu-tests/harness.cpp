#include "qemu-tests/harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "base/file.h"
#include "jail/qemu_command.h"

namespace initos::qemu {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char kQemu[] = "qemu-system-x86_64";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string BuildDir() {
#ifdef INITOS_BUILD_DIR
  return INITOS_BUILD_DIR;
#else
  return fs::temp_directory_path();
#endif
}

std::string CurrentTestName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (!info) return "no-test";
  // Parameterized tests are "Prefix/Suite.Test/Param": one file name, not
  // nested directories (and the sibling dirs tests share stay siblings).
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name)
    if (c == '/') c = '_';
  return name;
}

bool InPath(const std::string& prog) {
  std::string path = Env("PATH");
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// fork+exec with stdin/stdout/stderr redirected; the child dies with us.
pid_t SpawnChild(const std::vector<std::string>& argv, int in_fd, int out_fd) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // A crashed or killed test binary must not leave a QEMU behind.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (in_fd >= 0) ::dup2(in_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  ::execvp(cargv[0], cargv.data());
  std::fprintf(stderr, "exec %s: %s\n", cargv[0], std::strerror(errno));
  ::_exit(127);
}

int StatusToCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Boots the kernel without an initramfs under KVM: it panics (no root fs) and
// QEMU exits because of -no-reboot. Only a working KVM gets there in time.
bool KvmWorks(const std::string& kernel) {
  if (::access("/dev/kvm", R_OK | W_OK) != 0 || kernel.empty()) return false;
  QemuVm vm;
  vm.binary = kQemu;
  vm.accel = "kvm";
  vm.memory_mb = 256;
  vm.kernel = kernel;
  auto argv = QemuArgv(vm);
  if (!argv.ok()) return false;
  argv->insert(argv->begin(), {"timeout", "-s", "KILL", "20"});
  auto [code, out] = RunCapture(*argv);
  return code == 0 && out.find("Kernel panic") != std::string::npos;
}

}  // namespace

std::pair<int, std::string> RunCapture(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, "pipe2 failed"};
  unique_fd rd(fds[0]), wr(fds[1]);
  unique_fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  pid_t pid = SpawnChild(argv, devnull.get(), wr.get());
  wr.reset();
  if (pid < 0) return {-1, "fork failed"};
  auto out = ReadFdToString(rd.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {StatusToCode(status), out.ok() ? *out : ""};
}

std::string FindKernel() {
  if (std::string k = Env("INITOS_QEMU_KERNEL"); !k.empty()) return k;
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/boot", ec)) {
    std::string name = e.path().filename();
    if (name.starts_with("vmlinuz-") && name.ends_with("-cloud-amd64")) found.push_back(e.path());
  }
  if (found.empty()) return "";
  // Version order, so 6.1.0-100 beats 6.1.0-99.
  return *std::max_element(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return ::strverscmp(a.c_str(), b.c_str()) < 0;
  });
}

std::string KernelVersion(const std::string& kernel_path) {
  std::string name = fs::path(kernel_path).filename();
  constexpr std::string_view kPrefix = "vmlinuz-";
  return name.starts_with(kPrefix) ? name.substr(kPrefix.size()) : name;
}

std::string SkipReason() {
  if (::geteuid() != 0) return "QEMU tests need root (the kernel image is root-only)";
  if (!InPath(kQemu)) return "qemu-system-x86_64 not installed (run scripts/setup.sh)";
  std::string kernel = FindKernel();
  if (kernel.empty()) return "no /boot/vmlinuz-*-cloud-amd64 (run scripts/setup.sh)";
  if (::access(kernel.c_str(), R_OK) != 0) return "cannot read kernel " + kernel;
  if (::access("/bin/busybox", X_OK) != 0) return "busybox-static missing (run scripts/setup.sh)";
  return "";
}

std::string Accel() {
  static std::once_flag once;
  static std::string accel;
  std::call_once(once, [] {
    accel = Env("INITOS_QEMU_ACCEL");
    if (accel.empty()) accel = "tcg";
    if (accel == "auto") accel = KvmWorks(FindKernel()) ? "kvm" : "tcg";
  });
  return accel;
}

std::string TestWorkDir() {
  // Emptied on the first call of each test only: later calls share it.
  static std::string prepared_for;
  fs::path dir = fs::path(BuildDir()) / "qemu-work" / CurrentTestName();
  std::error_code ec;
  if (prepared_for != CurrentTestName()) {
    fs::remove_all(dir, ec);
    prepared_for = CurrentTestName();
  }
  fs::create_directories(dir, ec);
  return dir;
}

std::string TestLogPath() {
  fs::path dir = fs::path(BuildDir()) / "qemu-logs";
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir / (CurrentTestName() + ".log");
}

// ---- Qemu -------------------------------------------------------------------

Result<std::unique_ptr<Qemu>> Qemu::Start(QemuOptions o) {
  if (!o.firmware_boot) {
    if (o.kernel.empty()) o.kernel = FindKernel();
    if (o.kernel.empty()) return Err() << "no kernel found in /boot";
    if (o.initramfs.empty()) return Err() << "QemuOptions.initramfs is required";
  }
  std::unique_ptr<Qemu> q(new Qemu());
  q->log_path_ = o.log_path.empty() ? TestLogPath() : o.log_path;

  QemuVm vm;
  vm.binary = kQemu;
  vm.accel = Accel();
  vm.memory_mb = o.memory_mb;
  if (!o.firmware_boot) {
    vm.kernel = o.kernel;
    vm.initramfs = o.initramfs;
    vm.append = o.append;
    // Debugging aid: extra kernel arguments for every boot.
    if (std::string extra = Env("INITOS_QEMU_APPEND"); !extra.empty()) vm.append += " " + extra;
  }
  vm.firmware_code = o.firmware_code;
  vm.firmware_vars = o.firmware_vars;
  vm.secure_boot = o.secure_boot;
  vm.tpm_socket = o.tpm_socket;
  for (const std::string& d : o.disks) vm.disks.push_back({d, false});
  vm.hostfwd = o.hostfwd;
  auto argv = QemuArgv(vm);
  if (!argv.ok()) return argv.error();
  q->argv_ = std::move(*argv);
  std::vector<std::string>& a = q->argv_;
  a.insert(a.end(), o.extra_args.begin(), o.extra_args.end());

  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return ErrnoError() << "pipe2";
  unique_fd in_rd(in[0]);
  q->in_.reset(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoError() << "pipe2";
  q->out_.reset(out[0]);
  unique_fd out_wr(out[1]);
  ::fcntl(q->out_.get(), F_SETFL, O_NONBLOCK);
  // Writing to a QEMU that already exited must fail with EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  q->pid_ = SpawnChild(a, in_rd.get(), out_wr.get());
  if (q->pid_ < 0) return ErrnoError() << "fork";
  return q;
}

Qemu::~Qemu() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    Reap(true);
  }
  WriteLog();
  if (::testing::Test::HasFailure()) {
    std::cerr << "QEMU console log: " << log_path_ << "\n";
  }
}

void Qemu::WriteLog() const {
  std::ofstream f(log_path_, std::ios::trunc);
  f << "# command:";
  for (const auto& a : argv_) f << " '" << a << "'";
  f << "\n# exit: " << (exit_code_ ? std::to_string(*exit_code_) : "killed by harness") << "\n";
  f << output_;
}

bool Qemu::ReadSome(int timeout_ms) {
  if (!out_) return false;
  pollfd p{out_.get(), POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r <= 0) return true;  // timeout (or EINTR): nothing new yet
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out_.get(), buf, sizeof buf);
    if (n > 0) {
      // The serial line ends lines with CRLF; tests match on "\n".
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\r') output_.push_back(buf[i]);
      }
      continue;
    }
    if (n == 0) {
      out_.reset();  // EOF: QEMU closed its stdout, i.e. it exited
      return false;
    }
    return errno == EAGAIN || errno == EINTR;
  }
}

void Qemu::Reap(bool block) {
  if (pid_ <= 0 || exit_code_) return;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) exit_code_ = StatusToCode(status);
}

template <typename Pred>
bool Qemu::PumpUntil(Clock::time_point deadline, Pred done) {
  for (;;) {
    if (done()) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return done();
    if (!ReadSome(static_cast<int>(std::min<int64_t>(left.count(), 200)))) {
      // EOF: everything QEMU printed is in; it is exiting now.
      Reap(true);
      return done();
    }
    if (!out_) Reap(false);
  }
}

void Qemu::Pump(std::chrono::milliseconds d) {
  PumpUntil(Clock::now() + d, [] { return false; });
}

bool Qemu::WaitFor(std::string_view needle, Seconds timeout) {
  size_t pos = std::string::npos;
  bool found = PumpUntil(Clock::now() + timeout, [&] {
    pos = output_.find(needle, cursor_);
    return pos != std::string::npos;
  });
  if (found) cursor_ = pos + needle.size();
  return found;
}

std::optional<std::string> Qemu::WaitForRegex(const std::string& pattern, Seconds timeout) {
  std::regex re(pattern);
  std::smatch m;
  std::string tail;
  bool found = PumpUntil(Clock::now() + timeout, [&] {
    // Complete lines only: "[0-9]+" must not match the "1" of a "137" still
    // on its way through the serial line.
    size_t end = output_.rfind('\n');
    if (end == std::string::npos || end < cursor_) return false;
    tail = output_.substr(cursor_, end - cursor_);
    return std::regex_search(tail, m, re);
  });
  if (!found) return std::nullopt;
  std::string text = m.str(0);
  cursor_ += m.position(0) + m.length(0);
  return text;
}

bool Qemu::Send(std::string_view text) {
  if (!in_) return false;
  return WriteFully(in_.get(), text.data(), text.size()).ok();
}

std::optional<int> Qemu::WaitExit(Seconds timeout) {
  PumpUntil(Clock::now() + timeout, [&] { return !out_; });
  if (!out_) Reap(true);
  return exit_code_;
}

std::string Qemu::Tail(size_t lines) const {
  size_t pos = output_.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    size_t nl = output_.rfind('\n', pos - 1);
    if (nl == std::string::npos) return "[console]\n" + output_;
    pos = nl;
  }
  return "[console, last " + std::to_string(lines) + " lines; full log: " + log_path_ + "]" +
         output_.substr(pos);
}

size_t Qemu::Count(std::string_view needle) const {
  size_t n = 0;
  for (size_t p = output_.find(needle); p != std::string::npos;
       p = output_.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

// ---- initramfs builders -----------------------------------------------------

Result<std::string> BuildInitramfs(const InitramfsSpec& spec, const std::string& dir) {
  std::string out = dir + "/initramfs.img";
  std::vector<std::string> argv = {INITOS_BINARY, "image",      "initramfs",  "-o",
                                   out,           "--compress", spec.compress};
  if (!spec.config.empty()) {
    std::string cfg = dir + "/initos.toml";
    INITOS_TRY(WriteStringToFile(cfg, spec.config));
    argv.insert(argv.end(), {"--config", cfg});
  }
  if (!spec.modules.empty()) {
    argv.insert(argv.end(), {"--kver", KernelVersion(FindKernel())});
    for (const auto& m : spec.modules) argv.insert(argv.end(), {"--module", m});
  }
  if (spec.busybox) argv.insert(argv.end(), {"--file", "/bin/busybox=/bin/busybox"});
  if (spec.with_sshd) argv.push_back("--with-sshd");
  for (const auto& [src, dst] : spec.files) argv.insert(argv.end(), {"--file", src + "=" + dst});
  for (size_t i = 0; i < spec.texts.size(); ++i) {
    std::string src = dir + "/text" + std::to_string(i);
    INITOS_TRY(WriteStringToFile(src, spec.texts[i].first, 0755));
    argv.insert(argv.end(), {"--file", src + "=" + spec.texts[i].second});
  }
  auto [code, output] = RunCapture(argv);
  if (code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    return Err() << cmd << "exited " << code << ":\n" << output;
  }
  return out;
}

Result<std::string> BuildBusyboxInitramfs(
    const std::string& init_script, const std::vector<std::pair<std::string, std::string>>& texts,
    const std::string& dir) {
  fs::path root = fs::path(dir) / "bbroot";
  std::error_code ec;
  fs::remove_all(root, ec);
  INITOS_TRY(MakeDirs(root / "bin"));
  fs::copy_file("/bin/busybox", root / "bin/busybox", ec);
  if (ec) return Err() << "copy /bin/busybox: " << ec.message();
  INITOS_TRY(WriteStringToFile(root / "init", init_script, 0755));
  for (const auto& [text, dst] : texts) {
    fs::path p = root / fs::path(dst).relative_path();
    INITOS_TRY(MakeDirs(p.parent_path()));
    INITOS_TRY(WriteStringToFile(p, text, 0755));
  }
  std::string out = dir + "/busybox-initramfs.img";
  auto [code, output] = RunCapture(
      {"sh", "-c", "cd \"$1\" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > \"$2\"", "sh",
       root.string(), out});
  if (code != 0) return Err() << "cpio for " << root << " failed:\n" << output;
  return out;
}

}  // namespace initos::qemu
