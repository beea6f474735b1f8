#include "os/blockdev.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "format/config_values.h"

namespace initos {
inline namespace os {
namespace {

constexpr size_t kSuperOffset = 1024;
constexpr size_t kExt4MagicOff = kSuperOffset + 56;
constexpr size_t kExt4LabelOff = kSuperOffset + 120;
constexpr size_t kErofsMagicOff = kSuperOffset;
constexpr size_t kErofsLabelOff = kSuperOffset + 64;
constexpr size_t kLabelLen = 16;

uint32_t Le(std::string_view b, size_t off, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; i++) v |= uint32_t(uint8_t(b[off + i])) << (8 * i);
  return v;
}

// Labels are NUL-padded, or exactly 16 bytes without a terminator.
std::string Label(std::string_view b, size_t off) {
  std::string_view l = b.substr(off, kLabelLen);
  return std::string(l.substr(0, l.find('\0')));
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool Matches(const BlockSpec& spec, const BlockDeviceInfo& d, const std::string& path,
             const BlockScanRoots& roots) {
  if (spec.kind == BlockSpec::Kind::kPartLabel)
    return !d.partname.empty() && d.partname == spec.value;
  if (spec.kind == BlockSpec::Kind::kPartUuid) {
    if (d.partn <= 0) return false;
    // An unreadable parent (gone, no table yet) is simply not it.
    auto entry = PartitionEntryOf(d, roots);
    return entry.ok() && *entry && (*entry)->uuid == spec.value;
  }
  if (spec.kind == BlockSpec::Kind::kSerial) {
    // Only a whole disk: its partitions would otherwise share the serial.
    if (d.partn > 0) return false;
    auto serial = ReadDiskSerial(roots.class_block_dir, d.name);
    return serial.ok() && *serial == spec.value;
  }
  // Unreadable devices (empty CD drive, half-gone disk) are simply not it.
  auto probe = ProbeFilesystem(path);
  return probe.ok() && probe->type != FsType::kNone && probe->label == spec.value;
}

}  // namespace

std::string BlockSpec::str() const {
  std::string s = (kind == Kind::kPartLabel  ? "PARTLABEL="
                   : kind == Kind::kPartUuid ? "PARTUUID="
                   : kind == Kind::kSerial   ? "SERIAL="
                                             : "LABEL=") +
                  value;
  if (!file.empty()) s += ":" + file;
  return s;
}

Result<BlockSpec> ParseBlockSpec(std::string_view spec) {
  BlockSpec out;
  std::string_view rest;
  if (spec.starts_with("PARTLABEL=")) {
    out.kind = BlockSpec::Kind::kPartLabel;
    rest = spec.substr(10);
  } else if (spec.starts_with("LABEL=")) {
    out.kind = BlockSpec::Kind::kLabel;
    rest = spec.substr(6);
  } else if (spec.starts_with("PARTUUID=")) {
    out.kind = BlockSpec::Kind::kPartUuid;
    out.value = LowerAscii(spec.substr(9));
    if (auto v = ValidateGuid(out.value); !v.ok())
      return Err() << "block device '" << spec << "': " << v.error().str();
    return out;
  } else if (spec.starts_with("SERIAL=")) {
    out.kind = BlockSpec::Kind::kSerial;
    out.value = std::string(spec.substr(7));
    if (auto v = ValidateDiskSerial(out.value); !v.ok())
      return Err() << "block device '" << spec << "': " << v.error().str();
    return out;
  } else {
    return Err() << "block device '" << spec
                 << "' must be PARTLABEL=name, LABEL=name, PARTUUID=guid, SERIAL=serial or "
                    "LABEL=name:/path/file.bundle";
  }
  // The file part starts at the first ":/" (labels may contain ':' but not ":/").
  if (auto colon = rest.find(":/"); colon != std::string_view::npos) {
    out.file = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (out.file.size() < 2 || out.file.back() == '/')
      return Err() << "block device '" << spec << "': the path after ':' must name a file";
  } else if (!rest.empty() && rest.back() == ':') {
    return Err() << "block device '" << spec << "': the path after ':' must start with '/'";
  }
  out.value = std::string(rest);
  if (out.value.empty()) return Err() << "block device '" << spec << "' has an empty label";
  // ext4/EROFS labels hold 16 bytes; GPT names 36 UTF-16 units.
  size_t max = out.kind == BlockSpec::Kind::kLabel ? kLabelLen : 36;
  if (out.value.size() > max)
    return Err() << "block device '" << spec << "': label is longer than " << max << " bytes";
  return out;
}

std::string_view FsTypeName(FsType t) {
  switch (t) {
    case FsType::kNone:
      return "none";
    case FsType::kExt4:
      return "ext4";
    case FsType::kErofs:
      return "erofs";
  }
  return "?";
}

FsProbe ProbeSuperblock(std::string_view head) {
  FsProbe p;
  if (head.size() < kProbeSize) return p;
  if (Le(head, kErofsMagicOff, 4) == 0xE0F5E1E2u) {
    p.type = FsType::kErofs;
    p.label = Label(head, kErofsLabelOff);
  } else if (Le(head, kExt4MagicOff, 2) == 0xEF53u) {
    p.type = FsType::kExt4;  // ext2/3 share the magic; mount tells them apart
    p.label = Label(head, kExt4LabelOff);
  }
  return p;
}

Result<FsProbe> ProbeFilesystem(const std::string& path) {
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.error();
  std::string head(kProbeSize, '\0');
  ssize_t n = ::pread(fd->get(), head.data(), head.size(), 0);
  if (n < 0) return ErrnoError() << "read superblock of " << path;
  head.resize(static_cast<size_t>(n));  // short devices are "none"
  return ProbeSuperblock(head);
}

BlockDeviceInfo ParseBlockUevent(std::string_view name, std::string_view uevent) {
  BlockDeviceInfo d;
  d.name = std::string(name);
  d.devname = d.name;  // DEVNAME is normally the same; the file says for sure
  unsigned maj = 0, min = 0;
  while (!uevent.empty()) {
    size_t nl = uevent.find('\n');
    std::string_view line = uevent.substr(0, nl);
    uevent = nl == std::string_view::npos ? std::string_view() : uevent.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "DEVNAME") d.devname = std::string(value);
    if (key == "PARTNAME") d.partname = std::string(value);
    if (key == "PARTN") d.partn = std::atoi(std::string(value).c_str());
    if (key == "MAJOR")
      maj = static_cast<unsigned>(std::strtoul(std::string(value).c_str(), nullptr, 10));
    if (key == "MINOR")
      min = static_cast<unsigned>(std::strtoul(std::string(value).c_str(), nullptr, 10));
  }
  d.dev = makedev(maj, min);
  return d;
}

Result<std::string> ReadDiskSerial(const std::string& class_block_dir, const std::string& name) {
  auto serial = ReadFileToString(class_block_dir + "/" + name + "/serial");
  if (!serial.ok()) return serial.error();
  while (!serial->empty() &&
         (serial->back() == '\n' || serial->back() == ' ' || serial->back() == '\0'))
    serial->pop_back();
  return *serial;
}

Result<std::vector<BlockDeviceInfo>> ListBlockDevices(const std::string& class_block_dir) {
  DIR* dir = ::opendir(class_block_dir.c_str());
  if (!dir) return ErrnoError() << "open " << class_block_dir;
  std::vector<BlockDeviceInfo> out;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    // A device may vanish between readdir and read: skip it.
    auto uevent = ReadFileToString(class_block_dir + "/" + e->d_name + "/uevent");
    if (uevent.ok()) out.push_back(ParseBlockUevent(e->d_name, *uevent));
  }
  ::closedir(dir);
  return out;
}

Result<std::optional<std::string>> FindBlockDevice(const BlockSpec& spec,
                                                   const BlockScanRoots& roots) {
  auto devices = ListBlockDevices(roots.class_block_dir);
  if (!devices.ok()) return devices.error();
  std::optional<std::string> found;
  for (const BlockDeviceInfo& d : *devices) {
    std::string path = roots.dev_dir + "/" + d.devname;
    // devtmpfs creates the node a moment after sysfs: not there yet = not found yet.
    if (::access(path.c_str(), F_OK) != 0) continue;
    if (!Matches(spec, d, path, roots)) continue;
    if (found)
      return Err() << "both " << *found << " and " << path << " have " << spec.str()
                   << ": relabel or detach one of them";
    found = path;
  }
  return found;
}

Result<std::string> WaitForBlockDevice(const BlockSpec& spec, int timeout_ms,
                                       const BlockScanRoots& roots) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto found = FindBlockDevice(spec, roots);
    if (!found.ok()) return found.error();
    if (*found) return **found;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string hint = spec.kind == BlockSpec::Kind::kPartLabel
                         ? "check the disk is attached and labelled (sgdisk -c)"
                     : spec.kind == BlockSpec::Kind::kPartUuid
                         ? "check the disk is attached and the GUID is right (sgdisk -i N DISK)"
                     : spec.kind == BlockSpec::Kind::kSerial
                         ? "check the disk is attached with that serial (QEMU: -device "
                           "virtio-blk-pci,serial=...) and the virtio_blk driver is loaded"
                         : "check the disk is attached and the filesystem labelled (mkfs -L)";
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%g", timeout_ms / 1000.0);
  BlockSpec bare = spec;
  bare.file.clear();
  return Err() << "no block device with " << bare.str() << " after " << secs << " s: " << hint;
}

Result<std::optional<PartitionEntry>> PartitionEntryOf(const BlockDeviceInfo& d,
                                                       const BlockScanRoots& roots) {
  if (d.partn <= 0) return std::optional<PartitionEntry>();
  // sysfs: /sys/class/block/vda2 -> ../../devices/.../block/vda/vda2.
  char buf[PATH_MAX];
  std::string link = roots.class_block_dir + "/" + d.name;
  if (!::realpath(link.c_str(), buf)) return ErrnoError() << "resolve " << link;
  std::string real = buf;
  std::string parent_dir = real.substr(0, real.rfind('/'));
  auto uevent = ReadFileToString(parent_dir + "/uevent");
  if (!uevent.ok()) return Wrap(uevent.error(), "parent disk of " + d.name);
  std::string parent_name = parent_dir.substr(parent_dir.rfind('/') + 1);
  BlockDeviceInfo parent = ParseBlockUevent(parent_name, *uevent);
  auto entries = ReadPartitionEntries(roots.dev_dir + "/" + parent.devname);
  if (!entries.ok()) return entries.error();
  for (const PartitionEntry& e : *entries)
    if (e.number == d.partn) return std::optional<PartitionEntry>(e);
  return Err() << d.name << " is partition " << d.partn << " but the partition table of "
               << parent.devname << " has no such entry";
}

Result<std::optional<PartitionEntry>> PartitionEntryOfPath(const std::string& path,
                                                           const BlockScanRoots& roots) {
  auto devices = ListBlockDevices(roots.class_block_dir);
  if (!devices.ok()) return devices.error();
  for (const BlockDeviceInfo& d : *devices)
    if (roots.dev_dir + "/" + d.devname == path) return PartitionEntryOf(d, roots);
  return Err() << path << " is not in " << roots.class_block_dir;
}

}  // namespace os
}  // namespace initos
