#include "boot/guest/guest_power_key.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/spawn.h"
#include "boot/guest/guest_agent.h"

namespace initos {
inline namespace boot {
namespace {

constexpr int kFirstKeyFd = 3;
constexpr size_t kMaxKeyFds = 8;

bool HasPowerKey(int fd) {
  unsigned long bits[KEY_MAX / (8 * sizeof(unsigned long)) + 1] = {};
  if (::ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(bits)), bits) < 0) return false;
  constexpr size_t kPer = 8 * sizeof(unsigned long);
  return (bits[KEY_POWER / kPer] >> (KEY_POWER % kPer)) & 1;
}

}  // namespace

Result<std::vector<unique_fd>> OpenPowerKeys(const std::string& root) {
  const std::string dir = PathUnderRoot(root, "/dev/input");
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoError() << "open " << dir << " (load evdev)";
  std::vector<std::string> names;
  while (auto* e = ::readdir(d))
    if (std::strncmp(e->d_name, "event", 5) == 0) names.push_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<unique_fd> out;
  for (const auto& n : names) {
    auto fd = OpenFile(dir + "/" + n, O_RDONLY);
    if (fd.ok() && HasPowerKey(fd->get()) && out.size() < kMaxKeyFds) out.push_back(std::move(*fd));
  }
  if (out.empty())
    return Err() << "no input device in " << dir
                 << " has a power key (load button for the ACPI power button)";
  return out;
}

Result<pid_t> StartGuestPowerKey(const std::string& root) {
  auto keys = OpenPowerKeys(root);
  if (!keys.ok()) return keys.error();
  auto null = OpenFile(PathUnderRoot(root, "/dev/null"), O_RDWR);
  auto kmsg = OpenFile(PathUnderRoot(root, "/dev/kmsg"), O_WRONLY);
  SpawnOptions so;
  // PID 1's own binary: /init, deleted by the handover, runs on from memory.
  so.argv = {"/proc/self/exe", kGuestPowerKeyCommand};
  for (size_t i = 0; i < keys->size(); ++i) {
    so.argv.push_back("--fd");
    so.argv.push_back(std::to_string(kFirstKeyFd + i));
    so.inherit_fds.push_back((*keys)[i].get());
  }
  so.argv0 = kGuestPowerKeyArgv0;
  so.new_session = true;  // no controlling terminal, own process group
  so.stdin_fd = null.ok() ? null->get() : -1;
  so.stdout_fd = kmsg.ok() ? kmsg->get() : -1;
  so.stderr_fd = kmsg.ok() ? kmsg->get() : -1;
  so.start_timeout = std::chrono::milliseconds(10000);
  return Spawn(so);
}

void StartGuestPowerKeyIfGuest(const Config& config, const std::string& root) {
  if (config.guest.jail.empty()) return;
  auto pid = StartGuestPowerKey(root);
  if (!pid.ok()) {
    LOG(Warning) << "guest: power button watcher: " << pid.error().str()
                 << "; a stop without vsock waits for the host's timeout";
    return;
  }
  LOG(Info) << "guest: power button watcher started (pid " << *pid << ")";
}

int GuestPowerKeyMain(const std::vector<std::string>& args) {
  std::vector<pollfd> fds;
  for (size_t i = 0; i + 1 < args.size() && args[i] == "--fd"; i += 2)
    fds.push_back({std::atoi(args[i + 1].c_str()), POLLIN, 0});
  if (fds.empty() || args.size() != 2 * fds.size()) {
    std::fprintf(stderr,
                 "usage: initos guest-power-key --fd N [--fd M ...]\n"
                 "The VM jail guest's power button watcher (started by PID 1 in the guest\n"
                 "as %s): a press of the power key on any evdev fd powers the guest off.\n",
                 kGuestPowerKeyArgv0);
    return 2;
  }
  input_event ev[16];
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      LOG(Error) << "guest-power-key: poll: " << std::strerror(errno);
      return 1;
    }
    for (auto& p : fds) {
      if (!p.revents) continue;
      ssize_t n = ::read(p.fd, ev, sizeof(ev));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        LOG(Error) << "guest-power-key: read: " << (n < 0 ? std::strerror(errno) : "end of file");
        return 1;
      }
      for (size_t i = 0; i < n / sizeof(input_event); ++i)
        if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER && ev[i].value == 1) {
          LOG(Notice) << "guest: power button pressed (the host stops this VM); powering off";
          PoweroffGuest();
          return 0;
        }
    }
  }
}

}  // namespace boot
}  // namespace initos
