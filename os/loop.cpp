#include "os/loop.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/sys/dm.h"

namespace initos {
inline namespace os {
namespace {

constexpr int kLoopMajor = 7;

// loopN's dev_t: 7:N unless loop.max_part shifted the minors, which sysfs knows.
dev_t LoopDevNo(int n) {
  auto text = ReadFileToString("/sys/class/block/loop" + std::to_string(n) + "/dev");
  unsigned maj = 0, min = 0;
  if (text.ok() && std::sscanf(text->c_str(), "%u:%u", &maj, &min) == 2) return makedev(maj, min);
  return makedev(kLoopMajor, n);
}

loop_info64 MakeInfo(const std::string& file, const LoopOptions& o) {
  loop_info64 info{};
  info.lo_offset = o.offset;
  info.lo_sizelimit = o.sizelimit;
  info.lo_flags = (o.read_only ? LO_FLAGS_READ_ONLY : 0) | (o.autoclear ? LO_FLAGS_AUTOCLEAR : 0);
  // What `losetup -l` shows on kernels without sysfs backing_file.
  std::strncpy(reinterpret_cast<char*>(info.lo_file_name), file.c_str(), LO_NAME_SIZE - 1);
  return info;
}

// Configures an open loop device; EBUSY means someone else took it.
Result<void> Configure(int loop_fd, int file_fd, const std::string& file, const LoopOptions& o) {
  loop_config config{};
  config.fd = static_cast<uint32_t>(file_fd);
  config.info = MakeInfo(file, o);
  if (::ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return {};
  if (errno != EINVAL && errno != ENOTTY) return ErrnoError() << "LOOP_CONFIGURE";
  // Pre-5.8 kernel: two steps, with a window where the device has no limits.
  if (::ioctl(loop_fd, LOOP_SET_FD, file_fd) != 0) return ErrnoError() << "LOOP_SET_FD";
  loop_info64 info = MakeInfo(file, o);
  if (::ioctl(loop_fd, LOOP_SET_STATUS64, &info) != 0) {
    Error e = ErrnoError() << "LOOP_SET_STATUS64";
    ::ioctl(loop_fd, LOOP_CLR_FD, 0);
    return e;
  }
  return {};
}

}  // namespace

Result<LoopDevice> AttachLoop(const std::string& file, const LoopOptions& options,
                              const std::string& dev_dir) {
  auto file_fd = OpenFile(file, options.read_only ? O_RDONLY : O_RDWR);
  if (!file_fd.ok()) return file_fd.error();
  return AttachLoopFd(file_fd->get(), file, options, dev_dir);
}

Result<LoopDevice> AttachLoopFd(int file_fd, const std::string& file, const LoopOptions& options,
                                const std::string& dev_dir) {
  auto control = OpenFile(dev_dir + "/loop-control", O_RDWR);
  if (!control.ok())
    return Wrap(control.error(), "loop devices unavailable (load the loop module)");

  for (int attempt = 0; attempt < 16; attempt++) {
    int n = ::ioctl(control->get(), LOOP_CTL_GET_FREE);
    if (n < 0) return ErrnoError() << "LOOP_CTL_GET_FREE on " << dev_dir << "/loop-control";
    auto path = EnsureBlockNode(LoopDevNo(n), dev_dir, "loop" + std::to_string(n), 1000);
    if (!path.ok()) return path.error();
    auto loop_fd = OpenFile(*path, options.read_only ? O_RDONLY : O_RDWR);
    if (!loop_fd.ok()) return loop_fd.error();
    auto r = Configure(loop_fd->get(), file_fd, file, options);
    if (r.ok()) return LoopDevice{*path, n, std::move(*loop_fd)};
    if (r.error().code != EBUSY) return Wrap(r.error(), "attach " + file + " to " + *path);
  }
  return Err() << "attach " << file << ": every free loop device was taken by someone else";
}

Result<void> DetachLoop(const LoopDevice& loop) {
  int fd = loop.fd.get();
  unique_fd own;
  if (fd < 0) {
    auto opened = OpenFile(loop.path, O_RDONLY);
    if (!opened.ok()) return opened.error();
    own = std::move(*opened);
    fd = own.get();
  }
  if (::ioctl(fd, LOOP_CLR_FD, 0) != 0 && errno != ENXIO)
    return ErrnoError() << "LOOP_CLR_FD " << loop.path;
  return {};
}

}  // namespace os
}  // namespace initos
