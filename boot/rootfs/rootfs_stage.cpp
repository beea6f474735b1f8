#include "boot/rootfs/rootfs_stage.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "base/safe_open.h"
#include "base/sys/dm.h"
#include "boot/rootfs/persistent_dirs.h"
#include "boot/rootfs/rootfs_layout.h"
#include "boot/rootfs/state_partition.h"
#include "format/manifest.h"
#include "format/signing.h"
#include "image/bundle.h"
#include "os/blockdev.h"
#include "os/idmap.h"
#include "os/loop.h"
#include "os/mount_util.h"

namespace initos {
inline namespace boot {
namespace {

Error Fail(const Error& e) {
  return Wrap(e, "rootfs");
}
Error Fail(const std::string& what, const Error& e) {
  return Wrap(e, "rootfs: " + what);
}

Result<void> Dirs(const std::string& path, mode_t mode) {
  auto r = MakeDirs(path, mode);
  if (!r.ok()) return Fail(r.error());
  return {};
}

struct TrustedKeys {
  std::vector<SigningKey> keys;
  std::vector<std::string> paths;  // of the loaded keys, same order
};

// A key that does not load is skipped with a warning: trusting fewer keys
// can only refuse more images, never accept more. No key at all is an error.
Result<TrustedKeys> LoadTrustedKeys(const std::vector<std::string>& paths) {
  if (paths.empty())
    return Err() << "rootfs: rootfs.image is set but rootfs.keys lists no trusted public key; add "
                    "the .pub files that sign your images to the initramfs and to rootfs.keys";
  TrustedKeys out;
  std::vector<std::string> problems;
  for (const std::string& p : paths) {
    auto key = LoadPublicKey(p);
    if (!key.ok()) {
      LOG(Warning) << "rootfs: trusted key " << p << " skipped: " << key.error().str();
      problems.push_back(key.error().str());
      continue;
    }
    out.keys.push_back(std::move(*key));
    out.paths.push_back(p);
  }
  if (out.keys.empty())
    return Err() << "rootfs: none of the " << paths.size()
                 << " keys in rootfs.keys loads: " << problems.front();
  return out;
}

std::string KeyList(const std::vector<std::string>& paths) {
  std::string s;
  for (size_t i = 0; i < paths.size() && i < 3; ++i) s += (i ? ", " : "") + paths[i];
  if (paths.size() > 3) s += ", ...";
  return s;
}

// The block device (or loop device over a bundle file) holding the bundle.
struct BundleSource {
  std::string path;
  LoopDevice loop;  // keeps a loop device alive until dm holds it
  unique_fd file;   // LABEL=x:/file without a loop device: the regular file itself
};

// attach_loop = false (a VM jail's disk: QEMU takes the regular file, and
// its 'file' driver refuses a block device) leaves `file` open instead.
Result<BundleSource> FindBundle(const BlockSpec& spec, const BootEnv& env,
                                const std::string& image_fs, bool attach_loop = true) {
  BlockScanRoots roots{env.class_block_dir, env.dev_dir};
  auto dev = WaitForBlockDevice(spec, env.device_timeout_ms, roots);
  if (!dev.ok()) return Fail(dev.error());
  if (spec.file.empty()) return BundleSource{*dev, {}};

  // LABEL=x:/path: the filesystem itself is untrusted, so it is mounted
  // read-only, nosuid, nodev, noexec; only the bundle file is used, and the
  // bundle verifies itself.
  auto probe = ProbeFilesystem(*dev);
  if (!probe.ok()) return Fail("probe " + *dev, probe.error());
  std::string mnt = env.run_dir + "/" + image_fs;
  INITOS_TRY(Dirs(mnt, 0700));
  MountRequest req{std::string(FsTypeName(probe->type)), *dev, mnt, {}, true,
                   MS_NOSUID | MS_NODEV | MS_NOEXEC};
  auto m = Mount(req);
  if (!m.ok()) return Fail("mount " + spec.str() + " (" + req.fstype + ")", m.error());
  std::string file = mnt + spec.file;
  // The file is opened beneath the mount without following any symlink (an
  // attacker's link could point at another device or a FIFO), non-blocking,
  // and only a regular file is attached to the loop device.
  auto dir = OpenFile(mnt, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) return Fail(spec.str(), dir.error());
  auto fd = OpenRegularBeneath(dir->get(), spec.file.substr(1), spec.file);
  if (!fd.ok())
    return Err() << "rootfs: " << spec.str() << ": " << spec.file << " in the " << req.fstype
                 << " filesystem on " << *dev << " " << UntrustedOpenProblem(fd.error(), spec.file)
                 << "; it must be a regular file, not a symlink: copy the bundle there";
  if (!attach_loop) {
    // The open file keeps the filesystem alive for as long as QEMU reads
    // it: detached now, no mount is left behind when the jail or `initos
    // jail run` ends, and a restart never stacks a second one.
    if (::umount2(mnt.c_str(), MNT_DETACH) != 0)
      LOG(Warning) << "rootfs: detach " << mnt << ": " << std::strerror(errno);
    return BundleSource{file, {}, std::move(*fd)};
  }
  auto loop = AttachLoopFd(fd->get(), file, LoopOptions{}, env.dev_dir);
  if (!loop.ok()) return Fail(spec.str(), loop.error());
  std::string path = loop->path;
  return BundleSource{path, std::move(*loop)};
}

struct CheckedBundle {
  Manifest manifest;
  uint64_t device_size = 0;
  std::string key;
};

// Header, signature, manifest - in that order, so only signed bytes are
// parsed as a manifest. Reads at most the 64 KiB header area. In
// development mode (rootfs.insecure-dev-mode in the signed config) a
// signature that matches no trusted key is logged and the bundle used
// anyway: a developer's unsigned or locally re-signed image boots, still
// through dm-verity against its own manifest (key "" in the result).
Result<CheckedBundle> CheckBundle(const std::string& name, const std::string& path,
                                  const TrustedKeys& trusted, bool development) {
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return Fail(name, fd.error());
  auto size = DeviceSize(fd->get());
  if (!size.ok()) return Fail(name + ": size of " + path, size.error());
  std::string area(std::min<uint64_t>(*size, kBundleHeaderAreaSize), '\0');
  auto read = ReadFully(fd->get(), area.data(), area.size());  // fresh fd: from offset 0
  if (!read.ok()) return Fail(name + ": read the bundle header from " + path, read.error());
  auto header = ParseBundleHeader(area, *size);
  if (!header.ok())
    return Err() << "rootfs: " << name << " (" << path
                 << ") holds no valid image bundle: " << header.error().str();
  auto which = VerifyWithTrustedKeys(trusted.keys, header->manifest, header->signature);
  if (!which.ok() && !development)
    return Err() << "rootfs: signature of " << name << " does not match any of "
                 << trusted.keys.size() << " trusted key" << (trusted.keys.size() == 1 ? "" : "s")
                 << " (" << KeyList(trusted.paths) << ")";
  if (!which.ok())
    LOG(Warning) << "rootfs: DEVELOPMENT MODE: signature of " << name
                 << " does not match any trusted key (" << KeyList(trusted.paths)
                 << "); booting it anyway because the signed config sets "
                    "rootfs.insecure-dev-mode; a verified-mode initramfs refuses it";
  auto m = ParseManifest(header->manifest, {kBundleHeaderAreaSize, *size});
  if (!m.ok())
    return Err() << "rootfs: " << (which.ok() ? "signed " : "") << "manifest of " << name
                 << " is unusable: " << m.error().str();
  return CheckedBundle{std::move(*m), *size, which.ok() ? trusted.paths[*which] : std::string()};
}

}  // namespace

Result<std::string> MountStatePartition(const StateConfig& state, const BootEnv& env) {
  if (state.device.empty()) return std::string();
  auto spec = ParseBlockSpec(state.device);
  if (!spec.ok()) return Fail("state.device", spec.error());
  BlockScanRoots roots{env.class_block_dir, env.dev_dir};
  auto dev = WaitForBlockDevice(*spec, env.device_timeout_ms, roots);
  if (!dev.ok()) return Wrap(dev.error(), "rootfs: state partition");
  // The signed config names the partition by its type GUID: a partition an
  // attacker merely labelled "state" on another disk is not it, whether or
  // not create is on (the check fails the boot, closed).
  if (!state.partition_type.empty()) {
    auto entry = PartitionEntryOfPath(*dev, roots);
    if (!entry.ok())
      return Err() << "rootfs: state partition " << *dev << " (" << state.device
                   << "): cannot read its partition table entry to check state.partition-type: "
                   << entry.error().str();
    std::string problem = PartitionTypeProblem(*entry, state.partition_type);
    if (!problem.empty())
      return Err() << "rootfs: state partition " << *dev << " (" << state.device << ") " << problem;
  }
  auto prepared =
      PrepareStatePartition(*dev, StatePrepareOptions{state.device, state.create, env.mkfs_paths});
  if (!prepared.ok()) return Fail(prepared.error());
  std::string dir = env.run_dir + "/state";
  INITOS_TRY(Dirs(dir, 0700));
  auto m = MountExt4State(*dev, dir);
  if (!m.ok()) return Fail("state partition " + state.device, m.error());
  return dir;
}

namespace {

// dm-linear then dm-verity; removes the base again if verity fails.
Result<std::string> CreateVerityStack(RootMapping plan, const Manifest& m, const BootEnv& env) {
  auto dm = DeviceMapper::Open(env.dev_dir + "/mapper/control", env.sys_root);
  if (!dm.ok()) return Fail("device-mapper (load dm-mod and dm-verity)", dm.error());
  const std::string base_name = env.dm_name + "-base";
  auto base = CreateDmDevice(*dm, base_name, "", {plan.base}, true, env.dev_dir);
  if (!base.ok()) return Fail("create " + base_name, base.error());
  plan.verity.data_dev = plan.verity.hash_dev = *base;
  auto target = VerityTarget(plan.verity);
  // The dm UUID names the device and the image: unique per device even
  // when a jail runs the image the host booted.
  std::string uuid = env.dm_name;
  for (char& c : uuid) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  uuid += "-" + m.uuid;
  Result<std::string> root =
      target.ok() ? CreateDmDevice(*dm, env.dm_name, uuid, {*target}, true, env.dev_dir)
                  : Result<std::string>(target.error());
  if (!root.ok()) {
    (void)dm->Remove(base_name);
    return Fail("create dm-verity device " + env.dm_name, root.error());
  }
  return *root;
}

// The root overlay's upper layer is always a tmpfs: a disk attacker cannot
// shadow a file of the verified image. Only state.persistent directories get
// their upper layer from the state partition (init/persistent_dirs.h).
// The overlay's upper and work directories, and fds holding them.
struct OverlayLayers {
  unique_fd upper_fd, work_fd;
  std::string upper, work;
};

// A jail's persistent layer on the state partition: created beneath the
// mount point one component at a time (a planted symlink is refused, not
// followed), then handed to overlayfs as /proc/self/fd paths of the
// directories just checked, so nothing is resolved twice.
Result<OverlayLayers> StateLayers(const BootEnv& env) {
  auto base = OpenFile(env.upper_base, O_RDONLY | O_DIRECTORY);
  if (!base.ok()) return Fail("state partition", base.error());
  OverlayLayers l;
  for (auto [name, mode, fd, path] :
       {std::tuple{"upper", 0755, &l.upper_fd, &l.upper}, {"work", 0700, &l.work_fd, &l.work}}) {
    auto d = MakeDirsBeneath(base->get(), env.upper_dir + "/root/" + name, mode);
    if (!d.ok())
      return Err() << "rootfs: " << env.upper_base << "/" << d.error().str()
                   << ": remove it from the state partition";
    *path = "/proc/self/fd/" + std::to_string(d->get());
    *fd = std::move(*d);
  }
  return l;
}

Result<OverlayLayers> TmpfsLayers(const BootEnv& env) {
  std::string layer_root = env.run_dir + "/overlay";
  INITOS_TRY(Dirs(layer_root, 0700));
  auto t = MountTmpfs(layer_root, "0755");
  if (!t.ok()) return Fail("tmpfs for the overlay", t.error());
  OverlayLayers l;
  l.upper = layer_root + "/root/upper";
  l.work = layer_root + "/root/work";
  INITOS_TRY(Dirs(l.upper, 0755));
  INITOS_TRY(Dirs(l.work, 0700));
  for (auto [path, fd] : {std::pair{&l.upper, &l.upper_fd}, {&l.work, &l.work_fd}}) {
    auto f = OpenFile(*path, O_RDONLY | O_DIRECTORY);
    if (!f.ok()) return f.error();
    *fd = std::move(*f);
  }
  return l;
}

// The root overlay's upper layer is always a tmpfs: a disk attacker cannot
// shadow a file of the verified image. Only state.persistent directories get
// their upper layer from the state partition (init/persistent_dirs.h).
Result<void> MountOverlayRoot(MountedRoot& out, const StateConfig& state, const BootEnv& env) {
  auto layers = env.upper_dir.empty() ? TmpfsLayers(env) : StateLayers(env);
  if (!layers.ok()) return layers.error();
  const std::string& upper = layers->upper;
  const std::string& work = layers->work;
  INITOS_TRY(Dirs(env.target, 0755));
  std::string lower = out.lower_dir;
  if (env.lower_userns_fd >= 0) {
    lower = env.run_dir + "/lower-idmapped";
    INITOS_TRY(Dirs(lower, 0755));
    auto b = IdmappedBind(out.lower_dir, lower, env.lower_userns_fd);
    if (!b.ok()) return Fail("idmapped view of the image", b.error());
    for (const unique_fd* d : {&layers->upper_fd, &layers->work_fd})
      if (::fchown(d->get(), env.owner_uid, env.owner_gid) != 0)
        return Fail("overlay layer", ErrnoError()
                                         << "chown " << (d == &layers->upper_fd ? upper : work));
  }
  auto o = MountOverlay(lower, upper, work, env.target);
  if (!o.ok()) return Fail("overlay on " + env.target, o.error());
  if (out.state_dir.empty()) {
    if (!state.persistent.empty())
      LOG(Info) << "rootfs: no state partition: nothing persists across reboots";
    return {};
  }
  return MountPersistentDirs(PlanPersistentMounts(state.persistent, state.allow_exec),
                             out.lower_dir, out.state_dir, env.target, env.run_dir);
}

}  // namespace

Result<void> CheckImageName(const std::string& source, const std::string& image_name,
                            const std::string& configured) {
  if (configured.empty())
    return Err() << "rootfs: rootfs.name is not set; set it in the signed config to the --name "
                    "your images are built with (\""
                 << image_name << "\" for " << source << ")";
  if (image_name == configured) return {};
  return Err() << "rootfs: " << source << " holds image \"" << image_name
               << "\" but rootfs.name is \"" << configured
               << "\"; refusing it: point rootfs.image at an image built with --name "
               << configured;
}

Result<MountedRoot> MountVerifiedRoot(const Config& config, const BootEnv& env) {
  ImageRequest request;
  request.image = config.rootfs.image;
  return MountVerifiedImage(config, env, request);
}

namespace {

Result<BlockSpec> BundleSpec(const std::string& image) {
  auto spec = ParseBlockSpec(image);
  if (!spec.ok()) return Fail("rootfs.image", spec.error());
  // A bundle starts with its header area, not a filesystem superblock: a
  // bare LABEL= can never name one.
  if (spec->kind == BlockSpec::Kind::kLabel && spec->file.empty())
    return Err() << "rootfs: rootfs.image = \"" << image
                 << "\" names a filesystem, but a bundle has no filesystem label: use "
                    "PARTLABEL=name for a bundle partition or LABEL=name:/path/file.bundle";
  return spec;
}

}  // namespace

Result<unique_fd> OpenBundleImage(const std::string& image, const BootEnv& env,
                                  const std::string& image_fs) {
  auto spec = BundleSpec(image);
  if (!spec.ok()) return spec.error();
  auto source = FindBundle(*spec, env, image_fs, /*attach_loop=*/false);
  if (!source.ok()) return source.error();
  if (source->file.ok()) return std::move(source->file);
  auto fd = OpenFile(source->path, O_RDONLY | O_CLOEXEC);
  if (!fd.ok()) return Fail(spec->str(), fd.error());
  return fd;
}

Result<MountedRoot> MountVerifiedImage(const Config& config, const BootEnv& env,
                                       const ImageRequest& request) {
  const RootfsConfig& rc = config.rootfs;
  auto spec = BundleSpec(request.image);
  if (!spec.ok()) return spec.error();
  auto keys = LoadTrustedKeys(rc.keys);
  if (!keys.ok()) return keys.error();

  auto source = FindBundle(*spec, env, request.image_fs);
  if (!source.ok()) return source.error();
  auto bundle = CheckBundle(spec->str(), source->path, *keys, DevelopmentMode(config));
  if (!bundle.ok()) return bundle.error();
  const Manifest& m = bundle->manifest;
  // One signing key may sign several products; only the one this initramfs
  // is for may boot. Checked before the state partition, dm or the image.
  auto named = CheckImageName(spec->str(), m.name, rc.name);
  if (!named.ok()) return named.error();
  auto plan = PlanRootMapping(m, bundle->device_size, source->path, rc.on_corruption);
  if (!plan.ok()) return Fail(spec->str(), plan.error());

  MountedRoot out;
  out.target = env.target;
  out.source = request.image;
  out.image = {m.name, m.version, m.root_hash};
  out.key = bundle->key;
  if (request.state_dir) {
    out.state_dir = *request.state_dir;
  } else {
    auto state = MountStatePartition(config.state, env);
    if (!state.ok()) return state.error();
    out.state_dir = *state;
  }

  VersionFloor floor;
  if (request.floor) {
    floor.minimum = *request.floor;
    floor.source = "rootfs.min-version and the highest version marked good";
  } else {
    floor = ReadVersionFloor(out.state_dir, rc.min_version, rc.name);
    if (!floor.ignored.empty()) LOG(Warning) << "rootfs: " << floor.ignored;
  }
  auto check = CheckVersionFloor(m.version, floor);
  if (!check.ok()) return Fail(spec->str(), check.error());

  auto verity = CreateVerityStack(*plan, m, env);
  if (!verity.ok()) return verity.error();
  out.verity_device = *verity;
  source->loop.fd.reset();  // dm holds the loop device now; autoclear frees it with dm

  out.lower_dir = env.run_dir + "/lower";
  INITOS_TRY(Dirs(out.lower_dir, 0755));
  auto e = MountErofs(out.verity_device, out.lower_dir);
  if (!e.ok()) return Fail("mount the verified EROFS from " + out.verity_device, e.error());
  INITOS_TRY(MountOverlayRoot(out, config.state, env));
  LOG(Info) << "rootfs: " << m.name << " version " << m.version << " from " << spec->str()
            << " verified (key " << out.key << ", root hash " << m.root_hash.substr(0, 16)
            << "...) and mounted on " << env.target;
  return out;
}

Result<bool> RecordSuccessfulBoot(const MountedRoot& root) {
  // A/B slots: the floor rises only on mark-good (format/boot_slots.h), never
  // merely because a trial boot started its main program.
  if (root.state_dir.empty() || root.slot) return false;
  // An image no trusted key signed (development mode) must not raise the
  // floor that later verified boots of this product are held to.
  if (root.key.empty()) return false;
  return RaiseBootedRecord(root.state_dir, root.image);
}

}  // namespace boot
}  // namespace initos
