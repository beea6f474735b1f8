// The A/B upgrade fixture (issue 12) the upgrade boot tests share: tiny
// busybox "OS" bundles of any version (signed with the trusted key or
// another one), a GPT disk with partitions os-a, os-b and state, the
// initramfs whose signed config names the two slots and runs the SSH
// sidecar, and the helpers that read PID 1's verified-slot line and hash
// the slots straight from the disk image on the host.
//
// The "OS" is a busybox tree whose /sbin/init prints
// "UPOS-MAIN version=N marker=..." and sleeps: init.mode = "switch-root"
// hands the machine to it with the sidecar beside it, the same shape as a
// Debian machine at a fraction of the boot time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qemu-tests/debian_fixture.h"
#include "qemu-tests/harness.h"

namespace initos::qemu {

inline constexpr char kUpgradeName[] = "upos";
inline constexpr int kSlotMiB = 8;  // each of os-a and os-b

// What a bundle holds besides its version.
enum class Variant {
  kBase,        // the common tree
  kOneFile,     // the common tree with /data/small rewritten (one file changed)
  kAllChanged,  // every data file rewritten (nothing matches an older slot)
};

struct UpgradeShared {
  std::string dir;
  std::string key_dir;    // trusted signing key (keygen -o)
  std::string other_dir;  // a key the initramfs does not trust
  std::string ssh_key;
  std::string error;
};
const UpgradeShared& GetUpgradeShared();

// The signed bundle for (version, variant), built once into the shared dir;
// other_key signs it with the untrusted key. "" on failure (test failed).
std::string UpgradeBundle(uint64_t version, Variant variant = Variant::kBase,
                          bool other_key = false);

// GPT: os-a (holding slot_a, padded), os-b (zeros), each kSlotMiB; then the
// ext4 state partition. slot_b may be "" (empty slot).
struct SlotsDisk {
  Disk disk;
  uint64_t slot_offset[2] = {0, 0};  // bytes: os-a, os-b
};
SlotsDisk MakeSlotsDisk(const std::string& dir, const std::string& slot_a,
                        const std::string& slot_b = "");
// sha256 of each slot partition read from the disk image ({a, b}).
std::pair<std::string, std::string> SlotHashes(const SlotsDisk& d);

// The initramfs: rootfs.slots = os-a/os-b, rootfs.tries = tries, the
// sidecar with the test key, switch-root into the busybox OS.
std::string UpgradeInitramfs(const std::string& dir, int tries = 2);

// What one boot came up on.
struct BootedSlot {
  char slot = '?';          // 'a' or 'b', from PID 1's verified line
  uint64_t version = 0;     // from the same line
  uint64_t os_version = 0;  // from the OS's own UPOS-MAIN line
};
// Waits for PID 1's "rootfs: upos version N from PARTLABEL=os-X verified"
// line and then the OS's marker line. nullopt (and the console in the
// failure) when either does not show.
std::optional<BootedSlot> WaitBooted(Qemu& vm, Seconds timeout = kBootTimeout);

std::unique_ptr<Qemu> BootSlots(const std::string& initramfs, const SlotsDisk& d, int port,
                                const std::string& log);

// ssh into the sidecar with `stdin_path` as the command's stdin.
std::pair<int, std::string> SshWithInput(int port, const std::string& key, const std::string& cmd,
                                         const std::string& stdin_path);
// Syncs and reboots from the sidecar; QEMU exits (-no-reboot). If the guest
// does not go down within a few seconds, QEMU is killed (after the sync the
// disk holds everything the guest wrote). The vm is reset either way.
void RebootFromSidecar(std::unique_ptr<Qemu>& vm, int port, const std::string& key);

}  // namespace initos::qemu
