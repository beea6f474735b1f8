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
  kWrongResult,
};

const char* ProbeExitText(int code) {
  switch (code) {
    case kHalted:
      return "a test VM filled 32 MiB and halted in time";
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
    case kWrongResult:
      return "the test VM did not fill its memory";
  }
  return "the probe failed";
}

// The test VM: real mode at 0x1000 switches to 32-bit protected mode
// (the GDT at 0x500), which fills 32 MiB of fresh guest memory with
// `rep stosb` and halts. A working KVM does that in milliseconds; nested
// KVM that takes a fault per page (it booted Debian's kernel at ~0.5 MB/s
// of decompression on the development host) runs past the timeout.
constexpr uint64_t kFillStart = 16ull << 20;
constexpr uint64_t kFillBytes = 32ull << 20;
constexpr uint64_t kGuestBytes = kFillStart + kFillBytes;
constexpr unsigned char kRealModeCode[] = {
    0xfa,                                            // cli
    0x0f, 0x01, 0x16, 0x20, 0x05,                    // lgdt [0x520]
    0x0f, 0x20, 0xc0,                                // mov eax, cr0
    0x66, 0x83, 0xc8, 0x01,                          // or eax, 1 (PE)
    0x0f, 0x22, 0xc0,                                // mov cr0, eax
    0x66, 0xea, 0x00, 0x20, 0x00, 0x00, 0x08, 0x00,  // jmp dword 0x08:0x2000
};
constexpr unsigned char kProtectedModeCode[] = {
    0x66, 0xb8, 0x10, 0x00,        // mov ax, 0x10
    0x8e, 0xd8,                    // mov ds, ax
    0x8e, 0xc0,                    // mov es, ax
    0xbf, 0x00, 0x00, 0x00, 0x01,  // mov edi, kFillStart
    0xb9, 0x00, 0x00, 0x00, 0x02,  // mov ecx, kFillBytes
    0xb0, 0x01,                    // mov al, 1
    0xf3, 0xaa,                    // rep stosb
    0xf4,                          // hlt
};

// Runs in the forked child, expecting KVM_EXIT_HLT with the memory filled.
// Only raw syscalls: the parent may have threads.
[[noreturn]] void ProbeChild(const char* device) {
  int kvm = ::open(device, O_RDWR | O_CLOEXEC);
  if (kvm < 0) ::_exit(kOpen);
  if (::ioctl(kvm, KVM_GET_API_VERSION, 0) != 12) ::_exit(kApiVersion);
  int vm = ::ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) ::_exit(kCreateVm);
  void* map = ::mmap(nullptr, kGuestBytes, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) ::_exit(kMemory);
  auto* mem = static_cast<unsigned char*>(map);
  const uint64_t gdt[3] = {0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL};  // null, code, data
  std::memcpy(mem + 0x500, gdt, sizeof(gdt));
  const uint16_t gdt_limit = sizeof(gdt) - 1;
  const uint32_t gdt_base = 0x500;
  std::memcpy(mem + 0x520, &gdt_limit, 2);
  std::memcpy(mem + 0x522, &gdt_base, 4);
  std::memcpy(mem + 0x1000, kRealModeCode, sizeof(kRealModeCode));
  std::memcpy(mem + 0x2000, kProtectedModeCode, sizeof(kProtectedModeCode));
  struct kvm_userspace_memory_region region {};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = kGuestBytes;
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
  if (run->exit_reason != KVM_EXIT_HLT) ::_exit(kWrongExit);
  if (mem[kFillStart] != 1 || mem[kGuestBytes - 1] != 1) ::_exit(kWrongResult);
  ::_exit(kHalted);
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
    out.why = "a test VM filling 32 MiB did not halt within " + std::to_string(timeout.count()) +
              " ms (nested KVM too slow or hung); killed it";
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
