#include "boot/jails/jail_mode.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <memory>

#include "base/file.h"
#include "base/log.h"
#include "base/options.h"
#include "boot/rootfs/slot_boot.h"
#include "format/signing.h"
#include "format/version_floor.h"
#include "image/bundle.h"
#include "jail/cgroup.h"
#include "jail/control_server.h"
#include "os/boot_state_file.h"
#include "os/idmap.h"

namespace initos {
inline namespace boot {

BootEnv JailBootEnv(const BootEnv& base, const std::string& jail_name) {
  BootEnv e = base;
  // Not below run_dir (/run/initos, 0700: the state partition, the boot
  // record): an unprivileged jail's root must traverse the path to its
  // rootfs, so /run/initos-jails and its NAME directories are 0711.
  e.run_dir = base.run_dir + "-jails/" + jail_name;
  e.target = e.run_dir + "/root";
  e.dm_name = "initos-jail-" + jail_name;
  return e;
}

Result<VmRootfs> PrepareVmRootfs(const Config& config, const JailModeSetup& setup,
                                 const JailConfig& jail) {
  if (JailRootfsIsDirectory(jail))
    return Err() << "rootfs " << jail.rootfs
                 << " is a directory, but a VM jail boots a signed bundle as its disk; build one "
                    "with `initos image build` and name it here";
  if (!jail.rootfs_slots.empty())
    return Err() << "rootfs-slots are not supported for kind = \"vm\" yet; use rootfs";
  // The container path's locator and keys; the bundle is verified in full
  // here (every block, not just the signature): QEMU gets exactly this fd,
  // and the guest verifies it again through dm-verity.
  BootEnv env = JailBootEnv(setup.env, jail.name);
  INITOS_TRY(MakeDirs(env.run_dir, 0700));
  auto fd = OpenBundleImage(jail.rootfs, env);
  if (!fd.ok()) return fd.error();
  std::vector<SigningKey> keys;
  std::vector<std::string> key_paths;
  for (const std::string& p : config.rootfs.keys) {
    auto key = LoadPublicKey(p);
    if (!key.ok()) {
      LOG(Warning) << "jail " << jail.name << ": trusted key " << p
                   << " skipped: " << key.error().str();
      continue;
    }
    keys.push_back(std::move(*key));
    key_paths.push_back(p);
  }
  if (keys.empty())
    return Err() << "rootfs: no trusted key loads from rootfs.keys; a VM jail's bundle must be "
                    "verified: list the .pub files that sign it in rootfs.keys";
  auto verified = VerifyBundle(fd->get(), keys);
  if (!verified.ok())
    return Err() << "rootfs: " << jail.rootfs << ": " << verified.error().str()
                 << "; refusing to boot it";
  const Manifest& m = verified->bundle.manifest;
  INITOS_TRY(CheckImageName(jail.rootfs, m.name, jail.rootfs_name));
  VersionFloor floor = ReadVersionFloor("", config.rootfs.min_version, jail.rootfs_name);
  if (auto f = CheckVersionFloor(m.version, floor); !f.ok())
    return Err() << "rootfs: " << jail.rootfs << ": " << f.error().str();
  LOG(Info) << "jail " << jail.name << ": " << m.name << " version " << m.version << " from "
            << jail.rootfs << " verified (every block, key " << key_paths[verified->key_index]
            << ")";
  VmRootfs out;
  out.bundle_fd = std::make_shared<unique_fd>(std::move(*fd));
  out.version = m.version;
  out.floor = floor.minimum;
  out.key_paths = key_paths;
  return out;
}

JailHooks JailHooksFor(const Config& config, const JailModeSetup& setup) {
  JailHooks hooks;
  hooks.log_base = setup.state_dir;
  // rootfs-slots: the slot each jail last started from, for the healthy mark.
  auto booted = std::make_shared<std::map<std::string, MountedRoot>>();
  hooks.prepare_rootfs = [config, setup, booted](const JailConfig& jail, const IdRange& uids,
                                                 const IdRange& gids) -> Result<std::string> {
    if (!jail.rootfs_slots.empty() && setup.state_dir.empty())
      return Err() << "rootfs-slots needs the state partition for the jail's boot-state record, "
                      "but none is mounted; set state.device";
    if (JailRootfsIsDirectory(jail)) {
      if (!setup.allow_directories)
        return Err() << "rootfs " << jail.rootfs
                     << " is a directory: only a signed bundle runs outside development mode; "
                        "build one with `initos image build` and name it here";
      return jail.rootfs;
    }
    // The root image's verification path, with this jail's bundle and
    // name: the same keys and version floor, no state partition of its own
    // (the upper layer is a tmpfs), its own dm-verity device.
    Config c = config;
    c.rootfs.image = jail.rootfs;
    c.rootfs.name = jail.rootfs_name;
    c.state = StateConfig{};
    c.state.persistent.clear();
    BootEnv env = JailBootEnv(setup.env, jail.name);
    INITOS_TRY(MakeDirs(env.target, 0755));
    // Search only: the jail's root walks the path, nobody lists it.
    for (const std::string& d : {env.run_dir.substr(0, env.run_dir.rfind('/')), env.run_dir})
      if (::chmod(d.c_str(), 0711) != 0) return ErrnoError() << "chmod " << d;
    unique_fd userns;
    if (jail.kind == JailKind::kUnprivileged) {
      auto ns = UserNamespaceWithMaps(uids, gids);
      if (!ns.ok()) return ns.error();
      userns = std::move(*ns);
      env.lower_userns_fd = userns.get();
      env.owner_uid = uids.host;
      env.owner_gid = gids.host;
    }
    if (jail.upper == "state") {
      if (setup.state_dir.empty())
        return Err() << "upper = \"state\" but no state partition is mounted: set state.device "
                        "or use upper = \"tmpfs\"";
      env.upper_base = setup.state_dir;
      env.upper_dir = "jails/" + jail.name;
    }
    if (jail.rootfs_slots.empty()) {
      auto root = MountVerifiedRoot(c, env);
      if (!root.ok()) return root.error();
      return root->target;
    }
    // The OS root's slot step with this jail's slots and record: chosen and
    // stored before it is read, verified, the other slot on failure.
    SlotSet set{jail.rootfs_slots, JailBootStatePath(jail.name), "jail " + jail.name};
    auto root = MountSlotRootOn(c, env, setup.state_dir, set);
    if (!root.ok()) return root.error();
    (*booted)[jail.name] = *root;
    return root->target;
  };
  hooks.prepare_vm_rootfs = [config, setup](const JailConfig& jail) -> Result<VmRootfs> {
    return PrepareVmRootfs(config, setup, jail);
  };
  // [jails] mark-good-after-s: every jail ran healthy, so each jail's
  // started slot is good (the OS root's slot is pid1.cpp's part).
  hooks.healthy = [booted] {
    for (const auto& [name, root] : *booted) {
      auto r = MarkBootedSlotGood(root);
      if (!r.ok())
        LOG(Error) << "jail " << name << ": cannot mark slot " << SlotName(*root.slot)
                   << " good: " << r.error().str();
      else if (*r)
        LOG(Notice) << "jail " << name << ": slot " << SlotName(*root.slot) << " (version "
                    << root.image.version << ") marked good";
    }
  };
  return hooks;
}

namespace {

constexpr const char kRunHelp[] =
    "usage: initos jail run [--once] CONFIG [NAME...]\n"
    "\n"
    "Runs the [[jail]] entries of CONFIG (all, or the NAMEs) on this machine\n"
    "with the code PID 1 uses in jail mode, until SIGINT or SIGTERM, then stops\n"
    "them in reverse order. Directory rootfs entries are allowed here. The\n"
    "control socket is jails.socket: `initos jail list` etc. work meanwhile.\n"
    "  --once   return when every jail has ended and none will restart: exit 0\n"
    "           when all ended cleanly, 1 otherwise\n"
    "Without cgroup2 at /sys/fs/cgroup (a hybrid host) the jails get no cgroup\n"
    "of their own (a warning says so) and a jail with limits is refused.\n";

}  // namespace

int JailRunMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--once", "", false}});
  if (!a.ok() || a->help() || a->positional().empty()) {
    std::fputs(kRunHelp, a.ok() && a->help() ? stdout : stderr);
    return a.ok() && a->help() ? 0 : 2;
  }
  const std::string path = a->positional()[0];
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    std::fprintf(stderr, "initos jail run: %s\n", text.error().str().c_str());
    return 1;
  }
  ParsedConfig parsed = ParseConfig(*text, path);
  bool fatal = false;
  for (const auto& p : parsed.problems) {
    std::fprintf(stderr, "%s\n", p.str().c_str());
    fatal = fatal || p.fatal;
  }
  if (fatal) return 1;
  Config config = parsed.config;
  std::vector<std::string> names(a->positional().begin() + 1, a->positional().end());
  if (!names.empty()) {
    std::vector<JailConfig> chosen;
    for (const auto& n : names) {
      auto it = std::find_if(config.jails.jails.begin(), config.jails.jails.end(),
                             [&](const JailConfig& j) { return j.name == n; });
      if (it == config.jails.jails.end()) {
        std::fprintf(stderr, "initos jail run: %s has no jail named \"%s\"\n", path.c_str(),
                     n.c_str());
        return 1;
      }
      chosen.push_back(*it);
      chosen.back().start_after.clear();  // the others are not run here
    }
    config.jails.jails = chosen;
  }
  if (config.jails.jails.empty()) {
    std::fprintf(stderr, "initos jail run: %s has no [[jail]] entries\n", path.c_str());
    return 1;
  }
  // The jails' processes are ours to reap, whatever they leave behind.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t set;
  ::sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGHUP}) ::sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  unique_fd sfd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  Supervision loop(sfd.get(), /*reap_orphans=*/true);
  JailModeSetup setup;
  setup.allow_directories = true;
  JailHooks hooks = JailHooksFor(config, setup);
  if (auto cg = CheckCgroup2(hooks.cgroup_parent); !cg.ok()) {
    for (const JailConfig& j : config.jails.jails)
      if (HasLimits(j.limits)) {
        std::fprintf(stderr, "initos jail run: jail %s has cgroup limits, but %s\n", j.name.c_str(),
                     cg.error().str().c_str());
        return 1;
      }
    LOG(Warning) << cg.error().str()
                 << ": the jails run without a cgroup of their own (development host only)";
    hooks.cgroup_parent.clear();
  }
  const bool once = a->Has("--once");
  JailSupervisor jails(config.jails, loop, std::move(hooks));
  if (auto r = jails.Prepare(); !r.ok()) {
    std::fprintf(stderr, "initos jail run: %s\n", r.error().str().c_str());
    return 1;
  }
  JailControlServer control(jails, loop);
  if (auto r = control.Listen(config.jails.socket); !r.ok())
    LOG(Warning) << "jail control socket: " << r.error().str()
                 << "; `initos jail` commands will not reach these jails";
  // On a development host the jails' consoles go to our stdout, each line
  // as the jail wrote it (a console's \r\n becomes \n).
  jails.AddOutputListener([](const std::string& name, std::string_view data) {
    std::string text;
    for (char c : data)
      if (c != '\r') text += c;
    (void)name;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  jails.StartAll();
  Supervision::Events ev;
  // --once: done when no jail runs, waits or is about to restart.
  auto all_ended = [&] {
    for (const JailConfig& j : jails.config().jails) {
      JailState st = jails.State(j.name);
      if (st != JailState::kStopped && st != JailState::kFailed) return false;
    }
    return true;
  };
  ev.exited = [&](Supervision::ChildId id, int status) {
    if (jails.Owns(id)) jails.OnExit(id, status);
    return once && all_ended();
  };
  ev.deadline = [&](Supervision::ChildId id) {
    if (jails.Owns(id)) jails.OnDeadline(id);
    return false;
  };
  ev.signal = [](const signalfd_siginfo& si) {
    LOG(Info) << "jail run: " << SignalName(static_cast<int>(si.ssi_signo))
              << " received, stopping the jails";
    return true;
  };
  ev.orphan = [](pid_t, int) {};
  if (!(once && all_ended()))
    if (auto r = loop.Run(ev); !r.ok()) LOG(Error) << r.error().str();
  jails.StopAll();
  for (const JailConfig& j : jails.config().jails)
    if (jails.State(j.name) == JailState::kFailed) return 1;
  return 0;
}

}  // namespace boot
}  // namespace initos
