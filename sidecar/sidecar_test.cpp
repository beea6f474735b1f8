#include "sidecar/sidecar.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "format/boot_status.h"
#include "gtest/gtest.h"
#include "sidecar/sidecar_files.h"
#include "sidecar/sshd_config.h"

namespace initos {
namespace {

TEST(SidecarBackoff, DoublesUpToMaxAndResetsAfterALongRun) {
  EXPECT_EQ(NextBackoffMs(1000, 1000, 30000, false), 2000);
  EXPECT_EQ(NextBackoffMs(16000, 1000, 30000, false), 30000);
  EXPECT_EQ(NextBackoffMs(30000, 1000, 30000, false), 30000);
  EXPECT_EQ(NextBackoffMs(30000, 1000, 30000, true), 1000);
  EXPECT_EQ(NextBackoffMs(0, 500, 30000, false), 500);
}

TEST(SidecarArgs, RoundTrip) {
  SidecarSupervisorOptions o;
  o.sshd = "/x/sshd";
  o.host_key = "/state/k";
  o.log_path = "/tmp/log";
  o.min_backoff_ms = 5;
  o.max_backoff_ms = 50;
  o.stop_timeout_ms = 7;
  auto back = ParseSupervisorArgs(SupervisorArgs(o));
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(back->sshd, "/x/sshd");
  EXPECT_EQ(back->keygen, o.keygen);
  EXPECT_EQ(back->config, o.config);
  EXPECT_EQ(back->host_key, "/state/k");
  EXPECT_EQ(back->log_path, "/tmp/log");
  EXPECT_EQ(back->min_backoff_ms, 5);
  EXPECT_EQ(back->max_backoff_ms, 50);
  EXPECT_EQ(back->stop_timeout_ms, 7);
}

TEST(SidecarArgs, BadInputIsOneClearLine) {
  auto r = ParseSupervisorArgs({"--bogus", "1"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown option '--bogus'"), std::string::npos);
  r = ParseSupervisorArgs({"--sshd"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--sshd needs a value"), std::string::npos);
  r = ParseSupervisorArgs({"--min-backoff-ms", "ten"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'ten'"), std::string::npos);
}

TEST(SidecarSpecForBoot, ManifestConfigAndState) {
  char t[] = "/tmp/sidecar_spec_test.XXXXXX";
  std::string root = ::mkdtemp(t);
  SidecarConfig cfg;
  cfg.listen = {"[::]:2022"};
  cfg.authorized_keys = {"ssh-ed25519 AAAA me"};
  auto missing = SidecarSpecForBoot(cfg, root, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("--with-sshd"), std::string::npos);

  ASSERT_TRUE(MakeDirs(root + "/etc/initos").ok());
  ASSERT_TRUE(
      WriteStringToFile(root + kSidecarManifest, "# x\n/usr/sbin/sshd\n/bin/busybox\n").ok());
  auto spec = SidecarSpecForBoot(cfg, root, "/run/initos/state");
  std::system(("rm -rf " + root).c_str());
  ASSERT_TRUE(spec.ok()) << spec.error().str();
  EXPECT_EQ(spec->source_root, root);
  EXPECT_EQ(spec->files,
            (std::vector<std::string>{"/usr/sbin/sshd", "/bin/busybox", "/etc/initos"}));
  EXPECT_EQ(spec->initos_binary, root + "/init");
  EXPECT_EQ(spec->listen, cfg.listen);
  EXPECT_EQ(spec->authorized_keys, cfg.authorized_keys);
  EXPECT_EQ(spec->state_dir, "/run/initos/state");
  EXPECT_EQ(spec->boot_status, root + "/run/initos/status");  // PID 1's record, copied at start
}

// An ssh session finds `initos` on sshd's default PATH (/usr/bin): a link
// to the copied binary, which runs.
TEST(PopulateSidecarRoot, InitosIsOnThePath) {
  testutil::TempDir tmp;
  ASSERT_TRUE(MakeDirs(tmp / "root").ok());
  SidecarSpec spec;
  spec.source_root = tmp / "src";
  spec.initos_binary = INITOS_BINARY;
  auto o = PopulateSidecarRoot(spec, tmp / "root");
  ASSERT_TRUE(o.ok()) << o.error().str();
  char target[4096] = {};
  ASSERT_GT(::readlink((tmp.path() + "/root" + kSidecarCommand).c_str(), target, sizeof target - 1),
            0);
  EXPECT_STREQ(target, kSidecarBinary);
  std::string copy = tmp.path() + "/root" + kSidecarBinary;
  EXPECT_EQ(::access(copy.c_str(), X_OK), 0);
  auto r = testutil::RunProgram({copy, "--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("initos "), std::string::npos) << r.out;
}

// `initos status` in the sidecar reads the copy taken into its tmpfs, and
// the only authorized_keys sshd reads is the one from the signed config.
TEST(PopulateSidecarRoot, CopiesTheBootRecordAndOnlyTheConfiguredKeys) {
  testutil::TempDir tmp;
  ASSERT_TRUE(MakeDirs(tmp / "root").ok());
  BootStatus st;
  st.image = "debian";
  st.version = 2;
  st.root_hash = std::string(64, 'b');
  st.mode = "switch-root";
  st.source = "PARTLABEL=debian";
  st.initos_version = "0.1.0";
  ASSERT_TRUE(WriteBootStatus(tmp / "record", st).ok());
  SidecarSpec spec;
  spec.source_root = tmp / "src";
  spec.initos_binary = "";
  spec.boot_status = tmp / "record";
  spec.state_dir = "/state";
  spec.authorized_keys = {"ssh-ed25519 AAAA configured"};
  auto o = PopulateSidecarRoot(spec, tmp / "root");
  ASSERT_TRUE(o.ok()) << o.error().str();
  // The OS rewriting its record later changes nothing in the copy.
  ASSERT_TRUE(WriteStringToFile(tmp / "record", "image=forged\n").ok());
  auto copy = ReadFileToString(tmp.path() + "/root" + kBootStatusPath);
  ASSERT_TRUE(copy.ok()) << copy.error().str();
  EXPECT_EQ(*copy, SerializeBootStatus(st));
  auto cfg = ReadFileToString(tmp.path() + "/root" + kSidecarSshdConfig);
  ASSERT_TRUE(cfg.ok());
  EXPECT_NE(cfg->find(std::string("AuthorizedKeysFile ") + kSidecarAuthorizedKeys + "\n"),
            std::string::npos)
      << *cfg;
  EXPECT_EQ(cfg->find("/run/initos/state/sidecar/authorized_keys"), std::string::npos) << *cfg;
  auto keys = ReadFileToString(tmp.path() + "/root" + kSidecarAuthorizedKeys);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, "ssh-ed25519 AAAA configured\n");

  // No record (PID 1 could not write one): no copy, and no error.
  testutil::TempDir tmp2;
  spec.boot_status = tmp2 / "missing";
  ASSERT_TRUE(PopulateSidecarRoot(spec, tmp2.path()).ok());
  EXPECT_NE(::access((tmp2.path() + kBootStatusPath).c_str(), F_OK), 0);
}

// sidecar.start = "after-os-init": the runtime unit runs the prepared copy.
TEST(SidecarUnit, StartsThePreparedSidecarEarlyAndStopsBeforeShutdown) {
  std::string unit = SidecarUnitText("/run/initos/sidecar", "/run/initos/state");
  EXPECT_NE(unit.find("\nExecStart=/run/initos/sidecar/usr/lib/initos/initos sidecar launch "
                      "--staging /run/initos/sidecar --state /run/initos/state\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(unit.find("\nDefaultDependencies=no\n"), std::string::npos) << unit;
  EXPECT_NE(unit.find("\nConflicts=shutdown.target\n"), std::string::npos) << unit;
  EXPECT_NE(unit.find("\nRestart=always\n"), std::string::npos) << unit;
  EXPECT_NE(unit.find("\nKillMode=mixed\n"), std::string::npos) << unit;
  EXPECT_EQ(SidecarUnitText("/s", "").find("--state"), std::string::npos);
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// A symlink or a FIFO planted where the host key lives (the state
// partition) is replaced by a fresh key, never followed or read.
TEST(EnsureHostKey, PlantedSymlinkOrFifoIsReplacedNotFollowed) {
  ASSERT_EQ(::access("/usr/bin/ssh-keygen", X_OK), 0) << "ssh-keygen missing (scripts/setup.sh)";
  testutil::TempDir tmp;
  const std::string target = tmp / "elsewhere";
  ASSERT_TRUE(WriteStringToFile(target, "not a key\n").ok());
  const std::string key = tmp / "ssh_host_ed25519_key";
  ASSERT_EQ(::symlink(target.c_str(), key.c_str()), 0);
  ASSERT_EQ(::mkfifo((key + ".pub").c_str(), 0644), 0);
  auto r = EnsureHostKey("/usr/bin/ssh-keygen", key);
  ASSERT_TRUE(r.ok()) << r.error().str();
  struct stat st {};
  ASSERT_EQ(::lstat(key.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  ASSERT_EQ(::lstat((key + ".pub").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  auto untouched = ReadFileToString(target);
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(*untouched, "not a key\n");
  // A regular key that is already there is kept.
  auto first = ReadFileToString(key);
  ASSERT_TRUE(EnsureHostKey("/usr/bin/ssh-keygen", key).ok());
  EXPECT_EQ(*ReadFileToString(key), *first);
}

}  // namespace
}  // namespace initos
