// The PID-1 boot stage that finds, verifies and mounts the signed root
// filesystem image named by rootfs.image (docs/boot-verification.md):
//
//   wait for the device (PARTLABEL=/LABEL=, or a bundle file inside a
//   LABEL= filesystem, attached to a read-only loop device)
//   -> read the bounded 64 KiB header area -> verify the manifest signature
//   against rootfs.keys -> parse the manifest and check it against the device
//   size -> mount the state partition (formatted first if it is all zeros
//   and state.create = true) -> anti-rollback floor
//   -> dm-linear + dm-verity (read-only) -> EROFS read-only at a lower dir
//   -> overlayfs at the target, upper/work on the state partition or tmpfs.
//
// Every failure is one line starting "rootfs: " that names the device and
// what to fix. Nothing unverified is ever mounted: the EROFS superblock is
// first read through dm-verity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "boot/rootfs/rootfs_layout.h"
#include "boot/rootfs/state_partition.h"
#include "format/boot_slots.h"
#include "format/config.h"
#include "format/version_floor.h"

namespace initos {
inline namespace boot {

// Where the stage looks and mounts; tests point these into a temp dir.
struct BootEnv {
  std::string dev_dir = "/dev";
  std::string class_block_dir = "/sys/class/block";
  std::string sys_root = "/sys";
  std::string run_dir = "/run/initos";  // image-fs, state, lower, overlay mounts
  std::string target = "/sysroot";
  int device_timeout_ms = 10000;  // for the image and the state device each
  // device-mapper names: the dm-linear base and the dm-verity device (a
  // jail's verified rootfs gets its own pair, "initos-jail-NAME").
  std::string dm_name = kRootDmName;
  // >= 0: an unprivileged jail's rootfs. The verified EROFS is seen through
  // an idmapped mount of this user namespace, and the overlay's upper layer
  // belongs to the jail's mapped root (owner_uid/gid), so root inside owns
  // its files without a byte of the image changing.
  int lower_userns_fd = -1;
  // "" = the upper layer is a tmpfs; else a directory on the state
  // partition (a jail with upper = "state": its changes persist, and the
  // disk can change them: they are the jail's, not the verified image's).
  // upper_dir is relative to upper_base (the state partition's mount point,
  // which PID 1 made): every component below it was written by whoever
  // wrote the disk, so it is created and opened without following symlinks.
  std::string upper_base;
  std::string upper_dir;
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
  // Where mkfs.ext4 may be for [state] create = true (first existing wins).
  std::vector<std::string> mkfs_paths = DefaultMkfsPaths();
};

struct MountedRoot {
  std::string target;         // overlay mount point (the new root)
  std::string source;         // rootfs.image as given
  std::string verity_device;  // /dev/dm-N the EROFS is mounted from
  std::string lower_dir;      // the read-only EROFS mount
  std::string state_dir;      // state partition mount, "" when the upper layer is tmpfs
  BootedRecord image;         // name, version, root hash (what gets recorded)
  std::string key;            // path of the trusted key that verified the signature; "" = none
                              // matched (development mode only: never recorded as booted)
  std::optional<Slot> slot;   // rootfs.slots: the slot booted (boot/rootfs/slot_boot.h)
  std::string slot_record;    // with slot: its boot-state record beneath state_dir
};

Result<MountedRoot> MountVerifiedRoot(const Config& config, const BootEnv& env);

// One image of MountVerifiedRoot, for the A/B slot step: the locator, the
// state partition when already mounted, and the floor when the caller
// computed it (the slots' floor comes from the boot-state record).
struct ImageRequest {
  std::string image;                     // rootfs.image syntax
  std::optional<std::string> state_dir;  // mounted already ("" = none); nullopt: mount it
  std::optional<uint64_t> floor;         // nullopt: rootfs.min-version + booted-version record
  std::string image_fs = "image-fs";     // mount point name below run_dir for LABEL=x:/f
};
Result<MountedRoot> MountVerifiedImage(const Config& config, const BootEnv& env,
                                       const ImageRequest& request);

// The bundle named by `image` (rootfs.image syntax) opened O_RDONLY |
// O_CLOEXEC, not verified: a PARTLABEL= partition, or the bundle file of a
// LABEL=x:/path locator itself (its filesystem mounted read-only below
// env.run_dir/image_fs, the file opened without following symlinks).
// A VM jail's disk: the caller verifies it in full (image/bundle.h).
Result<unique_fd> OpenBundleImage(const std::string& image, const BootEnv& env,
                                  const std::string& image_fs = "image-fs");

// The ext4 state partition at run_dir/state, or "" when none is configured.
Result<std::string> MountStatePartition(const StateConfig& state, const BootEnv& env);

// Pure: the signed manifest's name must equal rootfs.name (a key may sign
// several products). One "rootfs: " line naming both when it does not.
Result<void> CheckImageName(const std::string& source, const std::string& image_name,
                            const std::string& configured);

// Raises the booted-version record on the state partition to this image
// (never lowers it). Called by PID 1 once the main program from the image
// has started. Returns false when there is nothing to record (tmpfs state,
// or the record is already at least this version).
Result<bool> RecordSuccessfulBoot(const MountedRoot& root);

}  // namespace boot
}  // namespace initos
