#include "boot/jails/leave_initramfs.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/log.h"

namespace initos {
inline namespace boot {

Result<std::vector<SwitchRootStep>> PlanLeaveInitramfs(
    const std::string& mountinfo, const std::vector<std::string>& keep_mounts) {
  SwitchRootInput in;
  in.new_root = kJailHostRoot;
  in.mountinfo = mountinfo;
  in.api_mounts.insert(in.api_mounts.end(), keep_mounts.begin(), keep_mounts.end());
  in.init = "/init";  // planned, then dropped: PID 1 does not exec
  auto steps = PlanSwitchRoot(in);
  if (!steps.ok()) return steps.error();
  if (!steps->empty() && steps->back().kind == SwitchRootStep::Kind::kExec) steps->pop_back();
  return steps;
}

Result<void> LeaveInitramfs(const std::string& root, const std::vector<std::string>& keep_mounts) {
  std::string target = PathUnderRoot(root, kJailHostRoot);
  if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST)
    return ErrnoError() << "mkdir " << target;
  if (::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return ErrnoError() << "mount a tmpfs on " << target;
  auto names = ReadFileToString(PathUnderRoot(root, "/proc/self/mountinfo"));
  if (!names.ok()) return names.error();
  // Everything of the initramfs' own filesystem. Mount points (/proc,
  // /run, ..., the new root itself) come along as empty directories: the
  // plan moves the API mounts onto them.
  auto copy = CopyTree(PathUnderRoot(root, "/"), target, CopyOptions{false, true});
  if (!copy.ok()) return Err() << "copy the initramfs: " << copy.error().str();
  auto steps = PlanLeaveInitramfs(*names, keep_mounts);
  if (!steps.ok()) return steps.error();
  for (const auto& s : *steps) LOG(Debug) << "leave initramfs: " << s.str();
  return ExecuteSwitchRoot(root, *steps);
}

}  // namespace boot
}  // namespace initos
