#include "cli/upgrade_cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "base/file.h"
#include "base/options.h"
#include "base/spawn.h"
#include "cli/status_cli.h"
#include "format/jail_config.h"
#include "os/blockdev.h"
#include "os/boot_state_file.h"

namespace initos {
inline namespace cli {
namespace {

constexpr const char kUsage[] =
    "usage: initos upgrade COMMAND [OPTIONS]\n"
    "\n"
    "A/B upgrades of the root image (rootfs.slots) or, with --jail, of a jail's\n"
    "(rootfs-slots; docs/upgrades.md). Run in the SSH sidecar, except push, which\n"
    "runs on the admin's machine.\n"
    "  apply [PATH|-]       write a signed bundle (default: stdin) into the slot not\n"
    "                       booted, verify it, try it on the next boots\n"
    "  receive              the device end of push (stdin/stdout)\n"
    "  push [-p PORT] [-i KEY] [-o OPT]... [--jail NAME] HOST BUNDLE\n"
    "                       send BUNDLE to HOST over ssh, only the blocks it lacks\n"
    "  status               both slots, the booted one, the version floor\n"
    "  mark-good            the booted slot is healthy: keep it, raise the floor\n"
    "  mark-bad [a|b]       never boot this slot (default: the booted one) again\n"
    "                       unless it is written anew\n"
    "  rollback             boot the other (good) slot from the next boot on\n"
    "Options (defaults are what the sidecar sees):\n"
    "  --config FILE        signed config (/etc/initos/initos.toml)\n"
    "  --state DIR          state partition (/run/initos/state)\n"
    "  --slot-a P --slot-b P  slot devices or files instead of rootfs.slots\n"
    "  --booted a|b         the booted slot instead of /run/initos/status\n"
    "  --jail NAME          the [[jail]]'s rootfs-slots and its own record instead of\n"
    "                       the OS root's; its started slot is the record's primary\n"
    "Exit status: 0 done, 1 refused or failed (nothing changed unless said), 2 usage.\n";

int Usage(const std::string& what) {
  std::fprintf(stderr, "initos upgrade: %s; run `initos upgrade --help`\n", what.c_str());
  return 2;
}

int Fail(const std::string& cmd, const Error& e) {
  std::fprintf(stderr, "initos upgrade %s: %s\n", cmd.c_str(), e.str().c_str());
  return 1;
}

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

Result<BootStateFile> OpenRecord(const UpgradeSetup& setup) {
  auto f = BootStateFile::Open(setup.state_dir, false, RecordPath(setup));
  if (!f.ok() && f.error().code == ENOENT && ::access(setup.state_dir.c_str(), F_OK) == 0) {
    if (!setup.jail.empty())
      return Err() << "no boot-state record for jail " << setup.jail << " in " << setup.state_dir
                   << " yet: PID 1 writes it when it starts the jail from rootfs-slots; start "
                      "it once with rootfs-slots configured";
    return Err() << "no boot-state record in " << setup.state_dir
                 << " yet: PID 1 writes it when it boots from rootfs.slots; reboot with slots "
                    "configured";
  }
  if (!f.ok())
    return Err() << "boot-state record in " << setup.state_dir << ": " << f.error().str()
                 << "; is the state partition mounted there (--state)?";
  return f;
}

Result<Slot> Booted(const UpgradeSetup& setup) {
  if (!setup.booted && !setup.jail.empty())
    return Err() << "jail " << setup.jail
                 << " has no valid boot-state record naming its started slot; pass --booted a|b";
  if (!setup.booted)
    return Err() << "the booted slot is unknown (the boot status names none: is rootfs.slots "
                    "set?); pass --booted a|b";
  return *setup.booted;
}

// The record step of mark-good/mark-bad/rollback: load, change, store.
Result<BootState> Change(const UpgradeSetup& setup,
                         const std::function<Result<BootState>(const BootState&)>& step) {
  auto f = OpenRecord(setup);
  if (!f.ok()) return f.error();
  auto l = f->Load();
  if (!l.ok()) return l.error();
  auto next = step(l->state);
  if (!next.ok()) return next.error();
  INITOS_TRY(f->Store(*next));
  return *next;
}

bool SameDevice(const std::string& device, const std::string& dir) {
  struct stat d {
  }, s{};
  return ::stat(device.c_str(), &d) == 0 && ::stat(dir.c_str(), &s) == 0 && S_ISBLK(d.st_mode) &&
         d.st_rdev == s.st_dev;
}

// --booted, else the slot the boot status names (none: unknown); for a
// jail the record's primary: every start stores the slot it starts as the
// primary (boot/rootfs/slot_boot.cpp) before reading it.
Result<void> ResolveBooted(const UpgradePaths& p, UpgradeSetup& s) {
  if (!p.booted.empty()) {
    auto b = ParseSlotName(p.booted);
    if (!b) return Err() << "--booted \"" << p.booted << "\" is not a or b";
    s.booted = *b;
  } else if (!s.jail.empty()) {
    auto f = BootStateFile::Open(s.state_dir, false, RecordPath(s));
    if (!f.ok()) return {};
    if (auto l = f->Load(); l.ok()) s.booted = l->state.primary;
  } else if (auto st = FindBootStatus(p.status_root); st.ok() && !st->status.slot.empty()) {
    s.booted = ParseSlotName(st->status.slot);
  }
  return {};
}

const JailConfig* FindJail(const Config& c, const std::string& name) {
  for (const JailConfig& j : c.jails.jails)
    if (j.name == name) return &j;
  return nullptr;
}

}  // namespace

uint32_t SlotTries(const UpgradeSetup& setup) {
  if (!setup.jail.empty())
    if (const JailConfig* j = FindJail(setup.config, setup.jail); j && j->rootfs_tries)
      return *j->rootfs_tries;
  return setup.config.rootfs.tries;
}

std::string RecordPath(const UpgradeSetup& setup) {
  return setup.jail.empty() ? std::string(kBootStatePath) : JailBootStatePath(setup.jail);
}

Result<std::string> SlotPathFor(const std::string& locator, const std::string& device,
                                bool state_dev_matches, const std::string& state_dir) {
  size_t colon = locator.find(':');
  if (colon == std::string::npos) return device;
  if (!state_dev_matches)
    return Err() << "slot " << locator << " is a bundle file on a filesystem other than the "
                 << "state partition, which the sidecar does not mount; mount it and pass "
                    "--slot-a/--slot-b";
  return state_dir + locator.substr(colon + 1);
}

Result<UpgradeSetup> LoadUpgradeSetup(const UpgradePaths& p, bool record_only) {
  UpgradeSetup s;
  s.state_dir = p.state;
  if (!p.jail.empty()) {
    if (auto r = ValidateJailName(p.jail); !r.ok()) return Err() << "--jail: " << r.error().str();
    s.jail = p.jail;
  }
  auto text = ReadFileToString(p.config);
  if (text.ok()) {
    ParsedConfig parsed = LoadConfig(*text, p.config, "");
    if (!parsed.problems.empty()) return Err() << parsed.problems.front().str();
    s.config = std::move(parsed.config);
  } else if (!record_only) {
    return Err() << "read the config " << p.config << ": " << text.error().str();
  }
  INITOS_TRY(ResolveBooted(p, s));
  if (record_only) return s;
  const JailConfig* jail = s.jail.empty() ? nullptr : FindJail(s.config, s.jail);
  if (!s.jail.empty() && !jail)
    return Err() << p.config << " has no [[jail]] named \"" << s.jail << "\"; check --jail";
  const auto& slots = jail ? jail->rootfs_slots : s.config.rootfs.slots;
  if (jail && slots.size() != 2 && (p.slot_a.empty() || p.slot_b.empty()))
    return Err() << "jail " << s.jail
                 << " sets no rootfs-slots: A/B upgrades of a jail need two slots (see "
                    "configs/jails.toml), or pass --slot-a and --slot-b";
  if (slots.size() != 2 && (p.slot_a.empty() || p.slot_b.empty()))
    return Err() << p.config
                 << " sets no rootfs.slots: A/B upgrades need two slots (see "
                    "configs/initos.toml), or pass --slot-a and --slot-b";
  for (size_t i = 0; i < 2; ++i) {
    const std::string& given = i == 0 ? p.slot_a : p.slot_b;
    if (!given.empty()) {
      s.slot_paths[i] = given;
      continue;
    }
    auto spec = ParseBlockSpec(slots[i]);
    if (!spec.ok())
      return Err() << (jail ? "rootfs-slots: " : "rootfs.slots: ") << spec.error().str();
    auto dev = WaitForBlockDevice(*spec, 0, BlockScanRoots{p.class_block_dir, p.dev_dir});
    if (!dev.ok()) return Err() << "slot " << (i ? "b" : "a") << ": " << dev.error().str();
    auto path = SlotPathFor(slots[i], *dev, SameDevice(*dev, p.state), p.state);
    if (!path.ok()) return path.error();
    s.slot_paths[i] = *path;
  }
  return s;
}

Result<ApplyTarget> InactiveTarget(const UpgradeSetup& setup, const BootState& record) {
  auto booted = Booted(setup);
  if (!booted.ok()) return booted.error();
  // The slot running now is the fallback of the new one: if it is not
  // marked good, a new slot that never comes up healthy has nowhere to fall
  // back to (PID 1 would keep booting it as the last resort).
  if (!record.at(*booted).good)
    return Err() << "the booted slot " << SlotName(*booted)
                 << " is not marked good, so it could not serve as the fallback; check the "
                    "machine and run `initos upgrade mark-good` first";
  const RootfsConfig& rc = setup.config.rootfs;
  ApplyTarget t;
  t.slot = OtherSlot(*booted);
  t.slot_path = setup.slot_paths[static_cast<size_t>(t.slot)];
  t.name = rc.name;
  t.tries = SlotTries(setup);
  if (!setup.jail.empty()) {
    const JailConfig* j = FindJail(setup.config, setup.jail);
    if (!j) return Err() << "the config has no [[jail]] named \"" << setup.jail << "\"";
    t.name = j->rootfs_name;  // the same keys and floor rules, the jail's product name
  }
  for (const std::string& k : rc.keys) {
    auto key = LoadPublicKey(k);
    if (key.ok()) t.keys.push_back(std::move(*key));
  }
  if (t.keys.empty())
    return Err() << "none of rootfs.keys (" << rc.keys.size()
                 << ") loads; the sidecar has the initramfs' keys under /etc/initos";
  t.floor = std::max(rc.min_version, record.highest_good_version);
  t.staging_dir = setup.state_dir;
  return t;
}

Result<Manifest> UpgradeApply(const UpgradeSetup& setup, int in_fd,
                              const ApplyProgressFn& progress) {
  auto f = OpenRecord(setup);
  if (!f.ok()) return f.error();
  auto l = f->Load();
  if (!l.ok()) return l.error();
  auto t = InactiveTarget(setup, l->state);
  if (!t.ok()) return t.error();
  return ApplyBundle(in_fd, *t, *f, progress);
}

Result<Manifest> UpgradeReceive(const UpgradeSetup& setup, int in_fd, int out_fd) {
  auto f = OpenRecord(setup);
  if (!f.ok()) return f.error();
  auto l = f->Load();
  if (!l.ok()) return l.error();
  auto t = InactiveTarget(setup, l->state);
  if (!t.ok()) return t.error();
  std::vector<std::string> sources(setup.slot_paths.begin(), setup.slot_paths.end());
  return ReceiveBundle(in_fd, out_fd, *t, sources, *f);
}

Result<std::string> UpgradeStatus(const UpgradeSetup& setup) {
  auto f = OpenRecord(setup);
  if (!f.ok()) return f.error();
  auto l = f->Load();
  if (!l.ok()) return l.error();
  std::string out = DescribeBootState(l->state, setup.booted);
  if (!l->note.empty()) out += "note: " + l->note + "\n";
  return out;
}

Result<BootState> UpgradeMarkGood(const UpgradeSetup& setup) {
  auto booted = Booted(setup);
  if (!booted.ok()) return booted.error();
  return Change(setup, [&](const BootState& s) { return MarkGood(s, *booted); });
}

Result<BootState> UpgradeMarkBad(const UpgradeSetup& setup, std::optional<Slot> slot) {
  if (!slot) {
    auto booted = Booted(setup);
    if (!booted.ok()) return booted.error();
    slot = *booted;
  }
  return Change(setup, [&](const BootState& s) { return MarkBad(s, *slot); });
}

Result<BootState> UpgradeRollback(const UpgradeSetup& setup) {
  auto booted = Booted(setup);
  if (!booted.ok()) return booted.error();
  return Change(setup, [&](const BootState& s) { return Rollback(s, *booted); });
}

Result<PushPlan> ParsePushArgs(const std::vector<std::string>& args) {
  auto o = Options::Parse(args, {{"--port", "-p", true},
                                 {"--identity", "-i", true},
                                 {"--option", "-o", true},
                                 {"--ssh", "", true},
                                 {"--jail", "", true}});
  if (!o.ok()) return o.error();
  if (o->positional().size() != 2)
    return Err() << "push needs HOST and BUNDLE (got " << o->positional().size() << " arguments)";
  PushPlan p;
  p.ssh = {o->One("--ssh").value_or("ssh"), "-T"};
  if (auto port = o->One("--port")) {
    if (port->empty() || port->find_first_not_of("0123456789") != std::string::npos ||
        port->size() > 5 || std::stoul(*port) == 0 || std::stoul(*port) > 65535)
      return Err() << "-p \"" << *port << "\" is not a port (1-65535)";
    p.ssh.insert(p.ssh.end(), {"-p", *port});
  }
  if (auto key = o->One("--identity")) p.ssh.insert(p.ssh.end(), {"-i", *key});
  for (const std::string& opt : o->All("--option")) p.ssh.insert(p.ssh.end(), {"-o", opt});
  const std::string& host = o->positional()[0];
  if (host.empty() || host[0] == '-')
    return Err() << "host \"" << host << "\" must not be empty or start with '-'";
  p.ssh.insert(p.ssh.end(), {"--", host, "initos", "upgrade", "receive"});
  if (auto jail = o->One("--jail")) {
    // The name travels through the remote shell: only a jail name, no quoting needed.
    if (auto r = ValidateJailName(*jail); !r.ok()) return Err() << "--jail: " << r.error().str();
    p.ssh.insert(p.ssh.end(), {"--jail", *jail});
  }
  p.bundle = o->positional()[1];
  return p;
}

std::string PushSummary(const DeltaStats& stats, uint64_t bundle_size) {
  char pct[32];
  std::snprintf(
      pct, sizeof pct, "%.1f%%",
      bundle_size ? 100.0 * static_cast<double>(stats.bytes_sent) / static_cast<double>(bundle_size)
                  : 0.0);
  // Exact bytes first (scripts and tests parse them), then the same in MiB
  // and as a share of the bundle for people.
  return "sent " + std::to_string(stats.bytes_sent) + " of " + std::to_string(bundle_size) +
         " bytes (" + Mib(stats.bytes_sent) + " of " + Mib(bundle_size) + ", " + pct + "); " +
         std::to_string(stats.local) + " of " + std::to_string(stats.blocks) + " blocks reused";
}

namespace {

// A progress line on stderr about once a second ('\r' on a terminal, a
// line each on a pipe, which is what ssh gives).
class Progress {
 public:
  void operator()(uint64_t done, uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    double s = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "%s%s", ProgressLine(done, total, s).c_str(), tty_ ? "\r" : "\n");
    shown_ = true;
  }
  void End() {
    if (shown_ && tty_) std::fputc('\n', stderr);
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
  bool tty_ = ::isatty(STDERR_FILENO) == 1;
  bool shown_ = false;
};

int PushMain(const std::vector<std::string>& args) {
  auto plan = ParsePushArgs(args);
  if (!plan.ok()) return Usage(plan.error().str());
  auto bundle = OpenFile(plan->bundle, O_RDONLY);
  if (!bundle.ok()) return Fail("push", bundle.error());
  struct stat st {};
  if (::fstat(bundle->get(), &st) != 0) return Fail("push", ErrnoError() << plan->bundle);
  int to[2], from[2];
  if (::pipe2(to, O_CLOEXEC) != 0) return Fail("push", ErrnoError() << "pipe");
  unique_fd to_r(to[0]), to_w(to[1]);
  if (::pipe2(from, O_CLOEXEC) != 0) return Fail("push", ErrnoError() << "pipe");
  unique_fd from_r(from[0]), from_w(from[1]);
  SpawnOptions so;
  so.argv = plan->ssh;
  so.stdin_fd = to_r.get();
  so.stdout_fd = from_w.get();
  auto pid = Spawn(so);
  if (!pid.ok()) return Fail("push", pid.error());
  to_r.reset();
  from_w.reset();
  Progress progress;
  // PushBundle counts data blocks; the line shows bytes.
  auto stats = PushBundle(bundle->get(), to_w.get(), from_r.get(), [&](uint64_t d, uint64_t t) {
    progress(d * kDeltaBlockSize, t * kDeltaBlockSize);
  });
  progress.End();
  to_w.reset();
  from_r.reset();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!stats.ok()) return Fail("push", stats.error());
  std::printf("%s\n", PushSummary(*stats, static_cast<uint64_t>(st.st_size)).c_str());
  return 0;
}

}  // namespace

int UpgradeMain(const std::vector<std::string>& args) {
  if (args.empty())
    return Usage(
        "which command? apply, receive, push, status, mark-good, "
        "mark-bad or rollback");
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "push") return PushMain(rest);
  const bool known = cmd == "apply" || cmd == "receive" || cmd == "status" || cmd == "mark-good" ||
                     cmd == "mark-bad" || cmd == "rollback";
  if (!known) return Usage("unknown command '" + cmd + "'");
  auto o = Options::Parse(rest, {{"--config", "", true},
                                 {"--state", "", true},
                                 {"--slot-a", "", true},
                                 {"--slot-b", "", true},
                                 {"--booted", "", true},
                                 {"--jail", "", true}});
  if (!o.ok()) return Usage(o.error().str());
  if (o->help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  size_t max_pos = cmd == "apply" || cmd == "mark-bad" ? 1 : 0;
  if (o->positional().size() > max_pos)
    return Usage(cmd + " takes " + (max_pos ? "at most one argument" : "no arguments"));
  UpgradePaths p;
  p.config = o->One("--config").value_or(p.config);
  p.state = o->One("--state").value_or(p.state);
  p.slot_a = o->One("--slot-a").value_or("");
  p.slot_b = o->One("--slot-b").value_or("");
  p.booted = o->One("--booted").value_or("");
  p.jail = o->One("--jail").value_or("");
  std::optional<Slot> bad_slot;
  if (cmd == "mark-bad" && !o->positional().empty()) {
    bad_slot = ParseSlotName(o->positional()[0]);
    if (!bad_slot) return Usage("slot \"" + o->positional()[0] + "\" is not a or b");
  }
  auto setup = LoadUpgradeSetup(p, cmd != "apply" && cmd != "receive");
  if (!setup.ok()) return Fail(cmd, setup.error());

  if (cmd == "apply") {
    std::string path = o->positional().empty() ? "-" : o->positional()[0];
    unique_fd file;
    if (path != "-") {
      auto f = OpenFile(path, O_RDONLY);
      if (!f.ok()) return Fail(cmd, f.error());
      file = std::move(*f);
    }
    Progress progress;
    auto m = UpgradeApply(*setup, file.ok() ? file.get() : STDIN_FILENO,
                          [&](uint64_t d, uint64_t t) { progress(d, t); });
    progress.End();
    if (!m.ok()) return Fail(cmd, m.error());
    std::printf("%s version %llu written to slot %s; it %s next (%u tries)\n", m->name.c_str(),
                static_cast<unsigned long long>(m->version),
                std::string(SlotName(OtherSlot(*setup->booted))).c_str(),
                setup->jail.empty() ? "boots" : "starts", SlotTries(*setup));
    return 0;
  }
  if (cmd == "receive") {
    auto m = UpgradeReceive(*setup, STDIN_FILENO, STDOUT_FILENO);
    if (!m.ok()) return Fail(cmd, m.error());
    return 0;
  }
  if (cmd == "status") {
    auto s = UpgradeStatus(*setup);
    if (!s.ok()) return Fail(cmd, s.error());
    std::fputs(s->c_str(), stdout);
    return 0;
  }
  Result<BootState> r = cmd == "mark-good"  ? UpgradeMarkGood(*setup)
                        : cmd == "mark-bad" ? UpgradeMarkBad(*setup, bad_slot)
                                            : UpgradeRollback(*setup);
  if (!r.ok()) return Fail(cmd, r.error());
  std::fputs(DescribeBootState(*r, setup->booted).c_str(), stdout);
  return 0;
}

}  // namespace cli
}  // namespace initos
