#include "base/sys/dm.h"

#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "base/file.h"

namespace initos {
inline namespace base {
namespace {

// Specs and their params are 8-byte aligned inside the buffer.
constexpr size_t Align8(size_t n) {
  return (n + 7) & ~size_t{7};
}

// Any interface 4.x kernel accepts version 4.0.0: a lower minor only means
// we use no newer feature.
void FillVersion(dm_ioctl& io) {
  io.version[0] = DM_VERSION_MAJOR;
  io.version[1] = 0;
  io.version[2] = 0;
}

Result<void> CheckName(const std::string& name, const std::string& uuid) {
  if (name.empty() || name.size() >= DM_NAME_LEN || name.find('/') != std::string::npos)
    return Err() << "dm device name '" << name << "' must be 1-" << DM_NAME_LEN - 1
                 << " characters without '/'";
  if (uuid.size() >= DM_UUID_LEN)
    return Err() << "dm uuid '" << uuid << "' is longer than " << DM_UUID_LEN - 1 << " characters";
  return {};
}

}  // namespace

Result<std::vector<uint8_t>> BuildDmHeader(const std::string& name, const std::string& uuid,
                                           uint32_t flags, size_t size) {
  if (!name.empty() || !uuid.empty()) INITOS_TRY(CheckName(name, uuid));
  if (size < sizeof(dm_ioctl) || size > UINT32_MAX) return Err() << "bad dm buffer size " << size;
  dm_ioctl io{};
  FillVersion(io);
  io.data_size = static_cast<uint32_t>(size);
  io.data_start = sizeof(dm_ioctl);
  io.flags = flags;
  std::memcpy(io.name, name.data(), name.size());
  std::memcpy(io.uuid, uuid.data(), uuid.size());
  std::vector<uint8_t> buf(size, 0);
  std::memcpy(buf.data(), &io, sizeof(io));
  return buf;
}

Result<std::vector<uint8_t>> BuildDmTableLoad(const std::string& name,
                                              const std::vector<DmTarget>& targets,
                                              uint32_t flags) {
  if (targets.empty()) return Err() << "dm table for " << name << " has no targets";
  size_t size = sizeof(dm_ioctl);
  for (const DmTarget& t : targets) {
    if (t.type.empty() || t.type.size() >= DM_MAX_TYPE_NAME)
      return Err() << "dm target type '" << t.type << "' must be 1-" << DM_MAX_TYPE_NAME - 1
                   << " characters";
    if (t.length == 0) return Err() << "dm target " << t.type << " has length 0";
    size += Align8(sizeof(dm_target_spec) + t.params.size() + 1);
  }
  auto buf = BuildDmHeader(name, "", flags, size);
  if (!buf.ok()) return buf.error();
  dm_ioctl io;
  std::memcpy(&io, buf->data(), sizeof(io));
  io.target_count = static_cast<uint32_t>(targets.size());
  std::memcpy(buf->data(), &io, sizeof(io));

  size_t off = sizeof(dm_ioctl);
  for (const DmTarget& t : targets) {
    size_t len = Align8(sizeof(dm_target_spec) + t.params.size() + 1);
    dm_target_spec spec{};
    spec.sector_start = t.start;
    spec.length = t.length;
    spec.next = static_cast<uint32_t>(len);  // relative to this spec on load
    std::memcpy(spec.target_type, t.type.data(), t.type.size());
    std::memcpy(buf->data() + off, &spec, sizeof(spec));
    std::memcpy(buf->data() + off + sizeof(spec), t.params.data(), t.params.size());
    off += len;  // the NUL and padding are already zero
  }
  return buf;
}

Result<std::vector<DmTarget>> ParseDmTargets(const std::vector<uint8_t>& reply) {
  if (reply.size() < sizeof(dm_ioctl)) return Err() << "dm reply shorter than its header";
  dm_ioctl io;
  std::memcpy(&io, reply.data(), sizeof(io));
  size_t end = std::min<size_t>(io.data_size, reply.size());
  size_t base = io.data_start;
  std::vector<DmTarget> out;
  size_t off = base;
  for (uint32_t i = 0; i < io.target_count; i++) {
    if (off < base || off + sizeof(dm_target_spec) > end)
      return Err() << "dm reply: target " << i << " lies outside the buffer";
    dm_target_spec spec;
    std::memcpy(&spec, reply.data() + off, sizeof(spec));
    DmTarget t;
    t.start = spec.sector_start;
    t.length = spec.length;
    t.type.assign(spec.target_type, strnlen(spec.target_type, sizeof(spec.target_type)));
    const char* p = reinterpret_cast<const char*>(reply.data()) + off + sizeof(spec);
    t.params.assign(p, strnlen(p, end - off - sizeof(spec)));
    out.push_back(std::move(t));
    // `next` is relative to the first spec on status, and must move forward.
    if (i + 1 < io.target_count && base + spec.next <= off)
      return Err() << "dm reply: target " << i << " does not point past itself";
    off = base + spec.next;
  }
  return out;
}

Result<DeviceMapper> DeviceMapper::Open(const std::string& control_path,
                                        const std::string& sys_root) {
  int fd = ::open(control_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // devtmpfs names it mapper/control; without it (or before the module
    // loaded) create the node from the misc device number.
    auto dev = ReadFileToString(sys_root + "/class/misc/device-mapper/dev");
    if (!dev.ok())
      return Err() << "device-mapper is not available (no " << control_path
                   << "): load the dm-mod module or build CONFIG_BLK_DEV_DM into the kernel";
    unsigned maj = 0, min = 0;
    if (std::sscanf(dev->c_str(), "%u:%u", &maj, &min) != 2)
      return Err() << "bad device number '" << *dev << "' for device-mapper";
    auto slash = control_path.rfind('/');
    if (slash != std::string::npos) INITOS_TRY(MakeDirs(control_path.substr(0, slash)));
    if (::mknod(control_path.c_str(), S_IFCHR | 0600, makedev(maj, min)) != 0 && errno != EEXIST)
      return ErrnoError() << "mknod " << control_path;
    fd = ::open(control_path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return ErrnoError() << "open " << control_path;
  DeviceMapper dm{unique_fd(fd)};
  auto v = dm.Version();
  if (!v.ok()) return v.error();
  if ((*v)[0] != DM_VERSION_MAJOR)
    return Err() << "device-mapper ioctl interface " << (*v)[0] << ".x is not supported (need "
                 << DM_VERSION_MAJOR << ".x)";
  return dm;
}

Result<void> DeviceMapper::Ioctl(unsigned long cmd, const char* what, const std::string& name,
                                 std::vector<uint8_t>& buf) {
  if (::ioctl(fd_.get(), cmd, buf.data()) != 0)
    return ErrnoError() << "device-mapper " << what << (name.empty() ? "" : " ") << name;
  return {};
}

Result<std::vector<uint32_t>> DeviceMapper::Version() {
  auto buf = BuildDmHeader("", "", 0, sizeof(dm_ioctl));
  if (!buf.ok()) return buf.error();
  INITOS_TRY(Ioctl(DM_VERSION, "version", "", *buf));
  dm_ioctl io;
  std::memcpy(&io, buf->data(), sizeof(io));
  return std::vector<uint32_t>{io.version[0], io.version[1], io.version[2]};
}

Result<dev_t> DeviceMapper::Create(const std::string& name, const std::string& uuid,
                                   uint32_t flags) {
  auto buf = BuildDmHeader(name, uuid, flags, sizeof(dm_ioctl));
  if (!buf.ok()) return buf.error();
  INITOS_TRY(Ioctl(DM_DEV_CREATE, "create", name, *buf));
  dm_ioctl io;
  std::memcpy(&io, buf->data(), sizeof(io));
  return static_cast<dev_t>(io.dev);
}

Result<void> DeviceMapper::LoadTable(const std::string& name, const std::vector<DmTarget>& targets,
                                     bool read_only) {
  auto buf = BuildDmTableLoad(name, targets, read_only ? DM_READONLY_FLAG : 0);
  if (!buf.ok()) return buf.error();
  return Ioctl(DM_TABLE_LOAD, "table load", name, *buf);
}

Result<void> DeviceMapper::Resume(const std::string& name) {
  // DM_DEV_SUSPEND without DM_SUSPEND_FLAG means resume.
  auto buf = BuildDmHeader(name, "", 0, sizeof(dm_ioctl));
  if (!buf.ok()) return buf.error();
  return Ioctl(DM_DEV_SUSPEND, "resume", name, *buf);
}

Result<void> DeviceMapper::Remove(const std::string& name) {
  auto buf = BuildDmHeader(name, "", 0, sizeof(dm_ioctl));
  if (!buf.ok()) return buf.error();
  return Ioctl(DM_DEV_REMOVE, "remove", name, *buf);
}

Result<dev_t> DeviceMapper::DevNo(const std::string& name) {
  auto buf = BuildDmHeader(name, "", 0, sizeof(dm_ioctl));
  if (!buf.ok()) return buf.error();
  INITOS_TRY(Ioctl(DM_DEV_STATUS, "status", name, *buf));
  dm_ioctl io;
  std::memcpy(&io, buf->data(), sizeof(io));
  return static_cast<dev_t>(io.dev);
}

Result<std::vector<DmTarget>> DeviceMapper::Status(const std::string& name) {
  // Grow the buffer until the kernel stops flagging it as too small.
  for (size_t size = 16384; size <= (1u << 24); size *= 4) {
    auto buf = BuildDmHeader(name, "", 0, size);
    if (!buf.ok()) return buf.error();
    INITOS_TRY(Ioctl(DM_TABLE_STATUS, "table status", name, *buf));
    dm_ioctl io;
    std::memcpy(&io, buf->data(), sizeof(io));
    if (!(io.flags & DM_BUFFER_FULL_FLAG)) return ParseDmTargets(*buf);
  }
  return Err() << "device-mapper status of " << name << " does not fit in 16 MiB";
}

Result<std::string> EnsureBlockNode(dev_t dev, const std::string& dev_dir, const std::string& name,
                                    int timeout_ms) {
  std::string path = dev_dir + "/" + name;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISBLK(st.st_mode) && st.st_rdev == dev) return path;
      return Err() << path << " exists but is not block device " << major(dev) << ":" << minor(dev);
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // No devtmpfs (or it is slow): make the node ourselves.
  if (::mknod(path.c_str(), S_IFBLK | 0600, dev) != 0 && errno != EEXIST)
    return ErrnoError() << "mknod " << path << " (" << major(dev) << ":" << minor(dev) << ")";
  return path;
}

Result<std::string> CreateDmDevice(DeviceMapper& dm, const std::string& name,
                                   const std::string& uuid, const std::vector<DmTarget>& targets,
                                   bool read_only, const std::string& dev_dir, int timeout_ms) {
  auto dev = dm.Create(name, uuid, read_only ? DM_READONLY_FLAG : 0);
  if (!dev.ok()) return dev.error();
  auto fail = [&](const Error& e) -> Error {
    (void)dm.Remove(name);  // best effort: the original error matters more
    return e;
  };
  if (auto r = dm.LoadTable(name, targets, read_only); !r.ok()) return fail(r.error());
  if (auto r = dm.Resume(name); !r.ok()) return fail(r.error());
  // The kernel names every dm block device dm-<minor>.
  auto path = EnsureBlockNode(*dev, dev_dir, "dm-" + std::to_string(minor(*dev)), timeout_ms);
  if (!path.ok()) return fail(path.error());
  return path;
}

}  // namespace base
}  // namespace initos
