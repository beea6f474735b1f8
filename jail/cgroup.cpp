#include "jail/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <thread>

#include "base/file.h"

namespace initos {
inline namespace jail {
namespace {

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

bool Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// The words of cgroup.controllers.
std::vector<std::string> Controllers(const std::string& dir) {
  std::vector<std::string> out;
  auto text = ReadFileToString(dir + "/cgroup.controllers");
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}

// Enables in dir's subtree_control each jail controller dir offers; one at
// a time, so a controller the kernel refuses does not take the others.
void EnableControllers(const std::string& dir) {
  std::vector<std::string> offered = Controllers(dir);
  for (const char* c : kJailControllers) {
    if (!Contains(offered, c)) continue;
    (void)WriteStringToFile(dir + "/cgroup.subtree_control", std::string("+") + c);
  }
}

}  // namespace

Result<void> CheckCgroup2(const std::string& parent) {
  // The parent may not exist yet: its directory above decides the mount.
  std::string probe = Exists(parent) ? parent : Dirname(parent);
  struct statfs s {};
  if (::statfs(probe.c_str(), &s) != 0) return ErrnoError() << "statfs " << probe;
  if (s.f_type != CGROUP2_SUPER_MAGIC)
    return Err() << "jail cgroup parent " << parent
                 << " is not on a cgroup2 filesystem; boot with a unified cgroup hierarchy "
                    "(systemd.unified_cgroup_hierarchy=1) or set the cgroup parent under the "
                    "cgroup2 mount";
  return {};
}

bool HasLimits(const JailLimits& l) {
  return l.memory_max || l.memory_high || l.pids_max || !l.cpu_max.empty() || l.cpu_weight ||
         !l.io_max.empty();
}

std::string CgroupControllerOf(const std::string& file) {
  return file.substr(0, file.find('.'));
}

std::vector<CgroupWrite> CgroupLimitWrites(const JailLimits& limits) {
  std::vector<CgroupWrite> out;
  if (limits.memory_high) out.push_back({"memory.high", std::to_string(*limits.memory_high)});
  if (limits.memory_max) out.push_back({"memory.max", std::to_string(*limits.memory_max)});
  // A jail that hits memory.max should be killed, not pushed into host swap.
  if (limits.memory_max) out.push_back({"memory.swap.max", "0"});
  if (limits.pids_max) out.push_back({"pids.max", std::to_string(*limits.pids_max)});
  if (!limits.cpu_max.empty()) out.push_back({"cpu.max", limits.cpu_max});
  if (limits.cpu_weight) out.push_back({"cpu.weight", std::to_string(*limits.cpu_weight)});
  for (const auto& line : limits.io_max) out.push_back({"io.max", line});
  return out;
}

Result<JailCgroup> CreateJailCgroup(const std::string& parent, const std::string& name,
                                    const JailLimits& limits) {
  if (auto r = CheckCgroup2(parent); !r.ok()) return r.error();
  if (!Exists(parent)) {
    EnableControllers(Dirname(parent));
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoError() << "mkdir jail cgroup parent " << parent;
  }
  EnableControllers(parent);
  JailCgroup cg;
  cg.path = parent + "/" + name;
  if (Exists(cg.path)) {  // left over from a crashed supervisor
    if (auto r = RemoveJailCgroup(cg.path); !r.ok()) return r.error();
  }
  if (::mkdir(cg.path.c_str(), 0755) != 0) return ErrnoError() << "mkdir jail cgroup " << cg.path;
  for (const CgroupWrite& w : CgroupLimitWrites(limits)) {
    std::string file = cg.path + "/" + w.file;
    if (!Exists(file)) {
      // memory.swap.max is absent without swap accounting: nothing to cap.
      if (w.file == "memory.swap.max") continue;
      (void)RemoveJailCgroup(cg.path);
      return Err() << file << ": the " << CgroupControllerOf(w.file)
                   << " controller is not enabled for " << parent
                   << "; enable it in the cgroup.subtree_control of every level above";
    }
    if (auto r = WriteStringToFile(file, w.value); !r.ok()) {
      (void)RemoveJailCgroup(cg.path);
      return Err() << "write " << w.value << " to " << file << ": " << r.error().str();
    }
  }
  cg.dir.reset(::open(cg.path.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!cg.dir.ok()) return ErrnoError() << "open jail cgroup " << cg.path;
  return cg;
}

Result<void> DelegateCgroup(const std::string& path, uid_t uid, gid_t gid) {
  for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"}) {
    std::string p = path + f;
    if (::chown(p.c_str(), uid, gid) != 0 && !(errno == ENOENT && *f != '\0'))
      return ErrnoError() << "chown " << p << " to " << uid << ":" << gid << " (delegation)";
  }
  return {};
}

namespace {

void KillAll(const std::string& path) {
  if (WriteStringToFile(path + "/cgroup.kill", "1").ok()) return;
  auto procs = ReadFileToString(path + "/cgroup.procs");
  if (!procs.ok()) return;
  std::istringstream in(*procs);
  pid_t pid;
  while (in >> pid) ::kill(pid, SIGKILL);
}

bool Populated(const std::string& path) {
  auto events = ReadFileToString(path + "/cgroup.events");
  return events.ok() && events->find("populated 1") != std::string::npos;
}

Result<void> RemoveTree(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return errno == ENOENT ? Result<void>() : ErrnoError() << "opendir " << path;
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (e->d_type == DT_DIR && n != "." && n != "..") subdirs.push_back(path + "/" + n);
  }
  ::closedir(d);
  for (const auto& s : subdirs)
    if (auto r = RemoveTree(s); !r.ok()) return r;
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return ErrnoError() << "rmdir " << path;
  return {};
}

}  // namespace

namespace {

bool ListsPid(const std::string& dir, pid_t pid) {
  auto procs = ReadFileToString(dir + "/cgroup.procs");
  if (!procs.ok()) return false;
  std::istringstream in(*procs);
  pid_t p;
  while (in >> p)
    if (p == pid) return true;
  return false;
}

std::optional<std::string> FindPid(const std::string& dir, pid_t pid, int depth) {
  if (ListsPid(dir, pid)) return dir;
  if (depth == 0) return std::nullopt;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (e->d_type == DT_DIR && n != "." && n != "..") subdirs.push_back(dir + "/" + n);
  }
  ::closedir(d);
  for (const auto& sub : subdirs)
    if (auto found = FindPid(sub, pid, depth - 1)) return found;
  return std::nullopt;
}

}  // namespace

std::string CgroupOfPidUnder(const std::string& path, pid_t pid) {
  auto found = FindPid(path, pid, 8);
  return found ? *found : path;
}

Result<void> RemoveJailCgroup(const std::string& path) {
  if (!Exists(path)) return {};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  KillAll(path);
  while (Populated(path)) {
    if (std::chrono::steady_clock::now() > deadline)
      return Err() << "cgroup " << path << " still has processes 5 s after SIGKILL";
    KillAll(path);  // without cgroup.kill, sub-cgroups and new forks need another round
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return RemoveTree(path);
}

}  // namespace jail
}  // namespace initos
