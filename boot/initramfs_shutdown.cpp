#include "boot/initramfs_shutdown.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/children.h"
#include "base/file.h"
#include "base/log.h"
#include "base/sys/dm.h"
#include "boot/shutdown.h"
#include "boot/terminate.h"
#include "format/stage.h"

namespace initos {
inline namespace boot {

std::vector<std::string> TeardownMounts(const std::vector<MountInfoEntry>& mounts,
                                        const std::vector<std::string>& keep) {
  std::vector<std::string> out;
  for (const std::string& mp : UnmountOrder(mounts)) {
    if (mp == "/" || std::find(keep.begin(), keep.end(), mp) != keep.end()) continue;
    out.push_back(mp);
  }
  return out;
}

Result<void> PrepareShutdownRoot(const std::string& root, const std::string& initos_binary) {
  std::string dir = PathUnderRoot(root, kShutdownRootDir);
  INITOS_TRY(MakeDirs(dir, 0755));
  std::error_code ec;
  std::filesystem::copy_file(initos_binary, dir + "/shutdown",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    return Err() << "copy " << initos_binary << " to " << dir << "/shutdown: " << ec.message();
  if (::chmod((dir + "/shutdown").c_str(), 0755) != 0)
    return ErrnoError() << "chmod " << dir << "/shutdown";
  return {};
}

namespace {

constexpr const char* kKeepMounted[] = {"/proc", "/sys", "/dev"};

// systemd binds /proc /sys /dev into /run/initramfs before the pivot; mount
// them ourselves if anyone execs us without.
void EnsureApiMounts() {
  struct {
    const char* path;
    const char* probe;
    const char* fstype;
  } api[] = {{"/proc", "/proc/self/mountinfo", "proc"},
             {"/sys", "/sys/block", "sysfs"},
             {"/dev", "/dev/null", "devtmpfs"}};
  for (const auto& a : api) {
    if (::access(a.probe, F_OK) == 0) continue;
    ::mkdir(a.path, 0755);
    if (::mount(a.fstype, a.path, a.fstype, MS_NOSUID | MS_NOEXEC, nullptr) != 0)
      LOG(Warning) << "initramfs-shutdown: mount " << a.path << ": " << std::strerror(errno);
  }
}

// Whatever survived systemd's killing spree: the '@' sidecar above all. Its
// supervisor stops sshd on SIGTERM; once it is gone its mount namespace (and
// with it the last reference to the state partition) goes too.
void StopRemaining(int timeout_ms) {
  ::kill(-1, SIGTERM);
  ::kill(-1, SIGCONT);
  if (ReapUntilGone(timeout_ms)) return;
  LOG(Warning) << "initramfs-shutdown: processes left after " << timeout_ms
               << " ms, sending SIGKILL";
  ::kill(-1, SIGKILL);
  if (!ReapUntilGone(3000)) LOG(Warning) << "initramfs-shutdown: some processes did not die";
}

std::vector<std::string> CurrentTeardownMounts() {
  auto text = ReadFileToString("/proc/self/mountinfo");
  if (!text.ok()) return {};
  return TeardownMounts(ParseMountInfo(*text),
                        std::vector<std::string>(std::begin(kKeepMounted), std::end(kKeepMounted)));
}

// Names of the device-mapper devices that still exist (/sys/block/dm-*/dm/name).
std::vector<std::string> DmNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/block", ec)) {
    if (e.path().filename().string().rfind("dm-", 0) != 0) continue;
    auto name = ReadFileToString(e.path().string() + "/dm/name");
    if (!name.ok()) continue;
    std::string n = *name;
    while (!n.empty() && n.back() == '\n') n.pop_back();
    if (!n.empty()) names.push_back(n);
  }
  return names;
}

struct TeardownResult {
  int unmounted = 0, detached = 0, dm_removed = 0;
  std::vector<std::string> left;  // mounts and dm devices still there
};

// Unmount and DM remove in passes until nothing moves: verity sits on the
// linear device, the EROFS on verity, the overlay on the EROFS and the state.
TeardownResult Teardown() {
  TeardownResult r;
  auto dm = DeviceMapper::Open();
  for (int pass = 0; pass < 8; ++pass) {
    bool progress = false;
    for (const std::string& mp : CurrentTeardownMounts()) {
      if (::umount2(mp.c_str(), 0) == 0) {
        ++r.unmounted;
        progress = true;
      }
    }
    if (dm.ok()) {
      for (const std::string& name : DmNames()) {
        if (dm->Remove(name).ok()) {
          ++r.dm_removed;
          progress = true;
        }
      }
    }
    if (!progress) break;
  }
  // Still busy: detach (the filesystem goes once its last user does) and
  // make sure nothing more is written.
  for (const std::string& mp : CurrentTeardownMounts()) {
    ::mount(nullptr, mp.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr);
    if (::umount2(mp.c_str(), MNT_DETACH) == 0) {
      ++r.detached;
      r.left.push_back(mp + " (detached)");
    } else {
      r.left.push_back(mp);
    }
  }
  if (dm.ok()) {
    for (const std::string& name : DmNames()) {
      if (dm->Remove(name).ok())
        ++r.dm_removed;
      else
        r.left.push_back("dm " + name);
    }
  }
  return r;
}

std::string JoinList(const std::vector<std::string>& v) {
  if (v.empty()) return "nothing";
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

}  // namespace

int InitramfsShutdownMain(const std::vector<std::string>& args) {
  if (::getpid() != 1) {
    std::fprintf(stderr,
                 "initos shutdown: only systemd runs this, as PID 1 from /run/initramfs; "
                 "use `systemctl poweroff` or `initos poweroff`\n");
    return 2;
  }
  InstallPid1TerminateHandler(RB_AUTOBOOT);  // until the verb is known
  ::umask(022);
  EnsureApiMounts();
  auto kmsg = OpenFile("/dev/kmsg", O_WRONLY);
  if (kmsg.ok()) LogToKmsg(std::move(*kmsg));
  (void)::chdir("/");

  std::string word = args.empty() ? "" : args[0];
  auto verb = ParseShutdownKind(word);
  if (!verb.ok()) LOG(Error) << "initramfs-shutdown: " << verb.error().str() << "; rebooting";
  ShutdownKind v = verb.ok() ? *verb : ShutdownKind::kReboot;
  // An escaping exception must still end in the verb systemd asked for
  // (not a kernel panic, and not a reboot instead of a poweroff).
  InstallPid1TerminateHandler(RebootCommand(v));
  LOG(Notice) << "initramfs-shutdown: " << ShutdownKindName(v)
              << " t=" << FormatSeconds(MonotonicSeconds());

  InitramfsShutdownOptions o;
  StopRemaining(o.stop_timeout_ms);
  ::sync();
  TeardownResult t = Teardown();
  ::sync();
  LOG(Notice) << "initramfs-shutdown: unmounted " << t.unmounted << ", removed " << t.dm_removed
              << " device-mapper device(s), left " << JoinList(t.left);
  LOG(Notice) << "initramfs-shutdown: " << ShutdownKindName(v) << " now";
  if (!o.call_reboot) return 0;
  ::reboot(RebootCommand(v));
  LOG(Emerg) << "initramfs-shutdown: reboot(2) failed: " << std::strerror(errno) << "; halting";
  ::reboot(RB_HALT_SYSTEM);
  for (;;) ::pause();
}

}  // namespace boot
}  // namespace initos
