// The Debian fixture the switch-root and jail-mode boot tests share: the
// signed Debian bundle (built once from the cached debootstrap tree,
// scripts/debian-rootfs.sh, into BUILD/qemu-work/switch-root-shared), a GPT
// disk with bundle partitions and a state partition, the initramfs with the
// SSH sidecar, and ssh from the host through QEMU's port forward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qemu-tests/harness.h"

namespace initos::qemu {

inline constexpr char kStateLabel[] = "initos-state";
inline constexpr int kStateMiB = 64;

struct Shared {
  std::string dir;
  std::string bundle;       // signed Debian bundle
  std::string signing_pub;  // trusted by the initramfs
  std::string ssh_key;      // authorized in the sidecar
  std::string wrong_key;    // not authorized
  std::string error;        // why the fixture could not be built
};

// Runs argv; the first failure's output goes to *error.
std::string Run(const std::vector<std::string>& argv, std::string* error);
// Builds (or reuses) the shared files; a file lock serializes parallel tests.
const Shared& GetShared();
int FreePort();

// GPT: partition 1 (PARTLABEL debian) holds the bundle, partition 2 an ext4
// (LABEL initos-state) made by mkfs.ext4 here.
struct Disk {
  std::string path;
  uint64_t state_offset = 0;  // bytes
};

// partitions: (PARTLABEL, file) in order, then the ext4 state partition
// (LABEL initos-state, PARTLABEL state).
Disk MakeDisk(const std::string& dir,
              const std::vector<std::pair<std::string, std::string>>& partitions);
// The Debian bundle as PARTLABEL=debian, then the state partition.
Disk MakeDisk(const Shared& sh, const std::string& dir);
// The state partition copied out of the disk, then e2fsck -fn and its state.
std::string CheckState(const Disk& d, const std::string& dir, bool* clean);
std::string Modules();
std::string PublicKey(const std::string& key_path);
// "root_hash" from `initos image info --json BUNDLE` on the host.
std::string BundleRootHash(const std::string& bundle);
// /etc/initos/network-up for QEMU user networking (guest 10.0.2.15).
extern const char kNetworkUp[];
std::string Initramfs(const Shared& sh, const std::string& dir, const std::string& config,
                      const std::vector<std::string>& extra_modules = {});
std::unique_ptr<Qemu> Boot(const std::string& initramfs, const Disk& d, int port,
                           const std::string& log, const std::string& append = "");
// Reads the console for a moment so QEMU never blocks on a full pipe.
void Drain(Qemu& vm);
std::pair<int, std::string> Ssh(int port, const std::string& key, const std::string& cmd,
                                std::vector<std::string> extra = {});
// Retries until ssh runs `true`; seconds it took, or -1.
int WaitForSsh(Qemu& vm, int port, const std::string& key, int timeout_s);
// The sidecar host key as ssh-keyscan sees it ("ssh-ed25519 AAAA...").
std::string HostKey(int port);

}  // namespace initos::qemu
