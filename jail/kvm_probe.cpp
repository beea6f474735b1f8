#include "jail/kvm_probe.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "base/sys/syscalls.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace jail {
namespace {

// The child's exit codes: which step failed.
enum ProbeExit : int {
  kHalted = 0,
  kOpen = 10,
  kApiVersion,
  kCreateVm,
  kMemory,
  kCreateVcpu,
  kRunMap,
  kRegisters,
  kRun,
  kWrongExit,
};

const char* ProbeExitText(int code) {
  switch (code) {
    case kHalted:
      return "a test VM ran to its hlt";
    case kOpen:
      return "cannot open the device";
    case kApiVersion:
      return "unexpected KVM API version";
    case kCreateVm:
      return "KVM_CREATE_VM failed";
    case kMemory:
      return "cannot set up the guest memory";
    case kCreateVcpu:
      return "KVM_CREATE_VCPU failed";
    case kRunMap:
      return "cannot map the vcpu's kvm_run";
    case kRegisters:
      return "cannot set the vcpu's registers";
    case kRun:
      return "KVM_RUN failed";
    case kWrongExit:
      return "the test VM did not exit with KVM_EXIT_HLT";
  }
  return "the probe failed";
}

// Runs in the forked child: one page of real-mode code at 0x1000 (hlt),
// expecting KVM_EXIT_HLT. Only raw syscalls: the parent may have threads.
[[noreturn]] void ProbeChild(const char* device) {
  int kvm = ::open(device, O_RDWR | O_CLOEXEC);
  if (kvm < 0) ::_exit(kOpen);
  if (::ioctl(kvm, KVM_GET_API_VERSION, 0) != 12) ::_exit(kApiVersion);
  int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) ::_exit(kCreateVm);
  void* mem = ::mmap(nullptr, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) ::_exit(kMemory);
  static const unsigned char kCode[] = {0xf4};  // hlt
  std::memcpy(mem, kCode, sizeof(kCode));
  struct kvm_userspace_memory_region region {};
  region.slot = 0;
  region.guest_phys_addr = 0x1000;
  region.memory_size = 0x1000;
  region.userspace_addr = reinterpret_cast<uint64_t>(mem);
  if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) ::_exit(kMemory);
  int vcpu = ::ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) ::_exit(kCreateVcpu);
  int run_size = ::ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) ::_exit(kRunMap);
  void* run_map =
      ::mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run_map == MAP_FAILED) ::_exit(kRunMap);
  auto* run = static_cast<struct kvm_run*>(run_map);
  struct kvm_sregs sregs {};
  if (::ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) ::_exit(kRegisters);
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (::ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) ::_exit(kRegisters);
  struct kvm_regs regs {};
  regs.rip = 0x1000;
  regs.rflags = 0x2;
  if (::ioctl(vcpu, KVM_SET_REGS, &regs) < 0) ::_exit(kRegisters);
  if (::ioctl(vcpu, KVM_RUN, 0) < 0) ::_exit(kRun);
  ::_exit(run->exit_reason == KVM_EXIT_HLT ? kHalted : kWrongExit);
}

// Waits for the child behind `pidfd` for at most `ms`; true when it ended.
bool WaitReadable(int pidfd, int ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

}  // namespace

KvmProbe ProbeKvm(const std::string& device, std::chrono::milliseconds timeout) {
  KvmProbe out;
  if (::access(device.c_str(), R_OK | W_OK) != 0) {
    out.why = device + ": " + std::strerror(errno);
    return out;
  }
  const std::string dev = device;  // the child must not allocate
  pid_t pid = ::fork();
  if (pid < 0) {
    out.why = std::string("fork for the KVM probe: ") + std::strerror(errno);
    return out;
  }
  if (pid == 0) ProbeChild(dev.c_str());
  unique_fd pidfd(sys::PidfdOpen(pid, 0));
  const int ms = static_cast<int>(timeout.count());
  bool ended = pidfd.ok() ? WaitReadable(pidfd.get(), ms) : false;
  if (!ended) {
    // A vcpu stuck in nested KVM: kill it; a process that does not even die
    // is left behind (reaped by whoever reaps orphans) rather than waited for.
    ::kill(pid, SIGKILL);
    if (pidfd.ok()) (void)WaitReadable(pidfd.get(), 500);
    (void)::waitpid(pid, nullptr, WNOHANG);
    out.why = "KVM_RUN of a test VM did not return within " + std::to_string(timeout.count()) +
              " ms (nested KVM?); killed it";
    return out;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    out.works = WEXITSTATUS(status) == kHalted;
    out.why = ProbeExitText(WEXITSTATUS(status));
  } else {
    out.why = "the KVM probe died with signal " + std::to_string(WTERMSIG(status));
  }
  return out;
}

const KvmProbe& CachedKvmProbe() {
  static const KvmProbe probe = ProbeKvm();
  return probe;
}

Result<AccelChoice> ChooseAccel(const std::string& configured, const KvmProbe& probe) {
  if (configured == "tcg") return AccelChoice{"tcg", "configured"};
  if (configured == "kvm") {
    if (!probe.works)
      return Err() << "accel = \"kvm\" but KVM does not work here (" << probe.why
                   << "); load kvm_intel/kvm_amd, give the host access to /dev/kvm, or set "
                      "accel = \"auto\" or \"tcg\"";
    return AccelChoice{"kvm", "configured; " + probe.why};
  }
  if (configured == "auto" || configured.empty()) {
    if (probe.works) return AccelChoice{"kvm", "auto: " + probe.why};
    return AccelChoice{"tcg", "auto: no KVM (" + probe.why + ")"};
  }
  return Err() << "accel \"" << configured << "\": use \"auto\", \"kvm\" or \"tcg\"";
}

}  // namespace jail
}  // namespace initos
