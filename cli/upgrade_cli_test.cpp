#include "cli/upgrade_cli.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "cli/status_cli.h"
#include "format/boot_status.h"
#include "image/bundle.h"
#include "image/testing/test_bundles.h"
#include "os/boot_state_file.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

TEST(UpgradeCliPush, SshArgv) {
  auto p = ParsePushArgs({"-p", "2222", "-i", "/k", "-o", "StrictHostKeyChecking=no", "-o",
                          "BatchMode=yes", "admin@host", "new.bundle"});
  ASSERT_TRUE(p.ok()) << p.error().str();
  EXPECT_EQ(p->ssh, (std::vector<std::string>{"ssh", "-T", "-p", "2222", "-i", "/k", "-o",
                                              "StrictHostKeyChecking=no", "-o", "BatchMode=yes",
                                              "--", "admin@host", "initos", "upgrade", "receive"}));
  EXPECT_EQ(p->bundle, "new.bundle");
  p = ParsePushArgs({"host", "b"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ssh,
            (std::vector<std::string>{"ssh", "-T", "--", "host", "initos", "upgrade", "receive"}));
  // --jail goes to the device end (a jail name needs no shell quoting).
  p = ParsePushArgs({"--jail", "web", "host", "b"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ssh, (std::vector<std::string>{"ssh", "-T", "--", "host", "initos", "upgrade",
                                              "receive", "--jail", "web"}));
  EXPECT_FALSE(ParsePushArgs({"--jail", "a;rm", "host", "b"}).ok());
}

TEST(UpgradeCliPush, BadArgs) {
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"host"},
                                             {"host", "b", "c"},
                                             {"-p", "0", "h", "b"},
                                             {"-p", "65536", "h", "b"},
                                             {"-p", "22x", "h", "b"},
                                             {"-p"},
                                             {"--frob", "h", "b"},
                                             {"--", "-oProxyCommand=x", "b"}})
    EXPECT_FALSE(ParsePushArgs(bad).ok()) << bad.size();
}

TEST(UpgradeCliPush, Summary) {
  DeltaStats s{512, 500, 3 << 20};
  EXPECT_EQ(PushSummary(s, 300 << 20),
            "sent 3145728 of 314572800 bytes (3.0 MiB of 300.0 MiB, 1.0%); 500 of 512 blocks "
            "reused");
  // Exact counts, not rounded: 131073 bytes is not "0.1 MiB".
  DeltaStats odd{733, 733, 131073};
  EXPECT_EQ(PushSummary(odd, 3145729),
            "sent 131073 of 3145729 bytes (0.1 MiB of 3.0 MiB, 4.2%); 733 of 733 blocks reused");
  EXPECT_EQ(PushSummary(DeltaStats{0, 0, 0}, 0),
            "sent 0 of 0 bytes (0.0 MiB of 0.0 MiB, 0.0%); 0 of 0 blocks reused");
}

TEST(UpgradeCliSlots, SlotPaths) {
  EXPECT_EQ(*SlotPathFor("PARTLABEL=os-a", "/dev/vda3", false, "/run/initos/state"), "/dev/vda3");
  EXPECT_EQ(*SlotPathFor("LABEL=state:/os/b.bundle", "/dev/vda4", true, "/run/initos/state"),
            "/run/initos/state/os/b.bundle");
  auto r = SlotPathFor("LABEL=imgs:/os/b.bundle", "/dev/vda5", false, "/run/initos/state");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("--slot-a"), std::string::npos);
}

TEST(UpgradeCliMain, UsageErrorsExit2) {
  EXPECT_EQ(UpgradeMain({}), 2);
  EXPECT_EQ(UpgradeMain({"frob"}), 2);
  EXPECT_EQ(UpgradeMain({"status", "--frob"}), 2);
  EXPECT_EQ(UpgradeMain({"status", "extra"}), 2);
  EXPECT_EQ(UpgradeMain({"mark-bad", "c"}), 2);
  EXPECT_EQ(UpgradeMain({"push", "host"}), 2);
  EXPECT_EQ(UpgradeMain({"--help"}), 0);
  EXPECT_EQ(UpgradeMain({"apply", "--config", "/nonexistent/initos.toml"}), 1);
  EXPECT_EQ(UpgradeMain({"status", "--state", "/nonexistent/state"}), 1);
}

// Files as slots: slot a holds version 1 (booted, good), slot b is free.
class UpgradeCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string d = dir_->path();
    std::mt19937 rng(1);
    std::string big(1 << 20, '\0');
    for (char& c : big) c = static_cast<char>(rng());
    for (int v : {1, 2}) {
      std::string tree = d + "/tree" + std::to_string(v);
      ASSERT_TRUE(MakeDirs(tree + "/usr").ok());
      ASSERT_TRUE(WriteStringToFile(tree + "/usr/big", big).ok());
      ASSERT_TRUE(WriteStringToFile(tree + "/version", std::to_string(v) + "\n").ok());
    }
    testutil::WriteTestKeys(d, {"a", "b"});
    testutil::BuildTestBundle(d, "tree1", "v1.bundle", "a", 1, 1);
    testutil::BuildTestBundle(d, "tree2", "v2.bundle", "a", 2, 2);
    testutil::BuildTestBundle(d, "tree2", "v2-other-key.bundle", "b", 2, 2);
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    state_ = work_ / "state";
    fs::create_directories(state_);
    std::string v1 = *ReadFileToString(Bundle("v1.bundle"));
    v1.resize(kSlotSize, '\0');
    ASSERT_TRUE(WriteStringToFile(work_ / "slot-a", v1).ok());
    ASSERT_TRUE(WriteStringToFile(work_ / "slot-b", std::string(kSlotSize, 'o')).ok());
    BootState s;
    s.at(Slot::kA) = {1, true, 0};
    s.highest_good_version = 1;
    ASSERT_TRUE(BootStateFile::Open(state_, true)->Store(s).ok());
    config_ = work_ / "initos.toml";
    ASSERT_TRUE(
        WriteStringToFile(
            config_, "[rootfs]\nname = \"testos\"\ntries = 2\nkeys = [\"" + dir_->path() +
                         "/a.pub\"]\nslots = [\"PARTLABEL=os-a\", \"PARTLABEL=os-b\"]\n[state]\n"
                         "device = \"PARTLABEL=state\"\n")
            .ok());
    paths_.config = config_;
    paths_.state = state_;
    paths_.slot_a = work_ / "slot-a";
    paths_.slot_b = work_ / "slot-b";
    paths_.booted = "a";
    paths_.status_root = work_ / "no-root";
  }

  UpgradeSetup Load() {
    auto s = LoadUpgradeSetup(paths_);
    EXPECT_TRUE(s.ok()) << s.error().str();
    return s.ok() ? *s : UpgradeSetup{};
  }
  BootState Record() { return BootStateFile::Open(state_, false)->Load()->state; }
  std::string Snapshot() {
    std::string s;
    for (const char* f : {"/slot-a", "/slot-b", "/state/initos/boot-state"})
      s += *ReadFileToString(work_ / f);
    return s;
  }
  Result<Manifest> Apply(const std::string& bundle) {
    auto in = OpenFile(Bundle(bundle), O_RDONLY);
    if (!in.ok()) return in.error();
    return UpgradeApply(Load(), in->get(), {});
  }
  static std::string Bundle(const std::string& name) { return dir_->path() + "/" + name; }

  static constexpr size_t kSlotSize = 4 << 20;
  static TempDir* dir_;
  TempDir work_;
  std::string state_, config_;
  UpgradePaths paths_;
};
TempDir* UpgradeCliTest::dir_ = nullptr;

TEST_F(UpgradeCliTest, SetupFromConfigAndOptions) {
  UpgradeSetup s = Load();
  EXPECT_EQ(s.slot_paths[1], work_ / "slot-b");
  EXPECT_EQ(s.booted, Slot::kA);
  EXPECT_EQ(s.config.rootfs.tries, 2u);
  paths_.booted = "c";
  EXPECT_FALSE(LoadUpgradeSetup(paths_).ok());
  // No --booted and no boot status: the booted slot is unknown, and the
  // commands that need it say how to give it.
  paths_.booted.clear();
  auto unknown = LoadUpgradeSetup(paths_);
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->booted);
  auto r = UpgradeMarkGood(*unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("--booted"), std::string::npos);
}

// The booted OS has the record and the boot status (moved in with /run) but
// not the initramfs' config: mark-good still works there.
TEST_F(UpgradeCliTest, MarkGoodNeedsNoConfig) {
  ASSERT_TRUE(Apply("v2.bundle").ok());
  paths_.config = work_ / "missing.toml";
  paths_.booted = "b";
  EXPECT_FALSE(LoadUpgradeSetup(paths_).ok());
  auto s = LoadUpgradeSetup(paths_, true);
  ASSERT_TRUE(s.ok()) << s.error().str();
  ASSERT_TRUE(UpgradeMarkGood(*s).ok());
  EXPECT_EQ(Record().highest_good_version, 2u);
}

TEST_F(UpgradeCliTest, SetupReadsTheBootedSlotFromTheBootStatus) {
  paths_.booted.clear();
  paths_.status_root = work_ / "root";
  BootStatus st;
  st.image = "testos";
  st.version = 1;
  st.root_hash = std::string(64, 'a');
  st.initos_version = "0.1.0";
  st.slot = "b";
  ASSERT_TRUE(WriteBootStatus(work_ / "root/run/initos/status", st).ok());
  EXPECT_EQ(Load().booted, Slot::kB);
}

TEST_F(UpgradeCliTest, ApplyWritesTheSlotNotBootedAndMarksItNext) {
  auto m = Apply("v2.bundle");
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(m->version, 2u);
  std::string v2 = *ReadFileToString(Bundle("v2.bundle"));
  EXPECT_EQ(ReadFileToString(work_ / "slot-b")->substr(0, v2.size()), v2);
  BootState r = Record();
  EXPECT_EQ(r.primary, Slot::kB);
  EXPECT_EQ(r.at(Slot::kB), (SlotState{2, false, 2}));  // rootfs.tries = 2
  EXPECT_EQ(r.highest_good_version, 1u);                // rises only on mark-good
  EXPECT_TRUE(r.at(Slot::kA).good);
}

TEST_F(UpgradeCliTest, ApplyRefusalsChangeNothing) {
  std::string before = Snapshot();
  auto r = Apply("v2-other-key.bundle");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Snapshot(), before);
  // A floor of 2 from the record (marked good earlier) refuses version 1.
  BootState s = Record();
  s.highest_good_version = 2;
  ++s.sequence;
  ASSERT_TRUE(BootStateFile::Open(state_, false)->Store(s).ok());
  before = Snapshot();
  r = Apply("v1.bundle");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("2"), std::string::npos) << r.error().str();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(UpgradeCliTest, ApplyNeedsAGoodFallback) {
  BootState s = Record();
  s.at(Slot::kA).good = false;
  ++s.sequence;
  ASSERT_TRUE(BootStateFile::Open(state_, false)->Store(s).ok());
  std::string before = Snapshot();
  auto r = Apply("v2.bundle");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("mark-good"), std::string::npos) << r.error().str();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(UpgradeCliTest, MarkGoodAfterTheTrialRaisesTheFloor) {
  ASSERT_TRUE(Apply("v2.bundle").ok());
  paths_.booted = "b";  // rebooted into slot b
  auto r = UpgradeMarkGood(Load());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Record().highest_good_version, 2u);
  EXPECT_TRUE(Record().at(Slot::kB).good);
  auto status = UpgradeStatus(Load());
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("slot b: version 2, good, primary, booted"), std::string::npos) << *status;
  EXPECT_NE(status->find("floor: 2"), std::string::npos) << *status;
  // Slot a (version 1) is below the floor now: no rollback to it.
  auto back = UpgradeRollback(Load());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.error().str().find("below the floor"), std::string::npos);
}

TEST_F(UpgradeCliTest, MarkBadAndRollback) {
  ASSERT_TRUE(Apply("v2.bundle").ok());
  paths_.booted = "b";
  // The new slot misbehaves: roll back to a (good, version 1, floor 1).
  auto back = UpgradeRollback(Load());
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(Record().primary, Slot::kA);
  auto bad = UpgradeMarkBad(Load(), Slot::kB);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(Record().at(Slot::kB).tries_left, 0u);
  EXPECT_FALSE(Record().at(Slot::kB).good);
  EXPECT_EQ(ChooseBootSlot(Record()).slot, Slot::kA);
  // Without a record the commands say where they looked.
  fs::remove(work_ / "state/initos/boot-state");
  auto fresh = UpgradeStatus(Load());
  ASSERT_FALSE(fresh.ok());
  EXPECT_NE(fresh.error().str().find("no boot-state record"), std::string::npos)
      << fresh.error().str();
  paths_.state = work_ / "elsewhere";
  auto none = UpgradeStatus(Load());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().str().find("--state"), std::string::npos) << none.error().str();
}

TEST_F(UpgradeCliTest, ReceiveAssemblesFromTheBootedSlot) {
  int to_dev[2], from_dev[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_dev), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, from_dev), 0);
  unique_fd host_out(to_dev[0]), dev_in(to_dev[1]), dev_out(from_dev[0]), host_in(from_dev[1]);
  UpgradeSetup setup = Load();
  Result<Manifest> device = Err() << "not run";
  std::thread t([&] { device = UpgradeReceive(setup, dev_in.get(), dev_out.get()); });
  auto in = OpenFile(Bundle("v2.bundle"), O_RDONLY);
  ASSERT_TRUE(in.ok());
  auto host = PushBundle(in->get(), host_out.get(), host_in.get());
  host_out.reset();
  t.join();
  ASSERT_TRUE(host.ok()) << host.error().str();
  ASSERT_TRUE(device.ok()) << device.error().str();
  uint64_t size = fs::file_size(Bundle("v2.bundle"));
  EXPECT_LT(host->bytes_sent, size / 4) << PushSummary(*host, size);
  EXPECT_EQ(Record().at(Slot::kB).version, 2u);
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// `initos status` with rootfs.slots: both slots, the booted one marked.
// --jail: the jail's slots (files here), its own record beside the OS
// one, its rootfs-name and rootfs-tries; the OS record is never touched.
TEST_F(UpgradeCliTest, JailSlotsUseTheJailsRecord) {
  ASSERT_TRUE(
      WriteStringToFile(config_, *ReadFileToString(config_) +
                                     "[[jail]]\nname = \"web\"\nrootfs-slots = "
                                     "[\"LABEL=state:/jails/web-a.bundle\", "
                                     "\"LABEL=state:/jails/web-b.bundle\"]\nrootfs-name = "
                                     "\"testos\"\nrootfs-tries = 4\ncommand = [\"/bin/app\"]\n"
                                     "[[jail]]\nname = \"plain\"\nrootfs = "
                                     "\"PARTLABEL=p\"\nrootfs-name = \"testos\"\ncommand = "
                                     "[\"/bin/app\"]\n")
          .ok());
  std::string os_record = *ReadFileToString(work_ / "state/initos/boot-state");
  paths_.jail = "web";
  paths_.booted.clear();
  // No record yet: PID 1 writes it at the jail's first start.
  auto none = UpgradeStatus(Load());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().str().find("jail web"), std::string::npos) << none.error().str();
  auto no_record = Apply("v2.bundle");
  ASSERT_FALSE(no_record.ok());
  EXPECT_NE(no_record.error().str().find("no boot-state record for jail web"), std::string::npos)
      << no_record.error().str();
  auto no_booted = UpgradeMarkGood(Load());
  ASSERT_FALSE(no_booted.ok());
  EXPECT_NE(no_booted.error().str().find("--booted"), std::string::npos) << no_booted.error().str();

  // As PID 1 leaves it after starting slot a, marked good by the supervisor.
  BootState s;
  s.at(Slot::kA) = {1, true, 0};
  s.highest_good_version = 1;
  ASSERT_TRUE(BootStateFile::Open(state_, true, JailBootStatePath("web"))->Store(s).ok());
  UpgradeSetup setup = Load();
  EXPECT_EQ(setup.booted, Slot::kA);  // the record's primary
  EXPECT_EQ(RecordPath(setup), "initos/jails/web/boot-state");
  EXPECT_EQ(SlotTries(setup), 4u);

  auto m = Apply("v2.bundle");
  ASSERT_TRUE(m.ok()) << m.error().str();
  std::string v2 = *ReadFileToString(Bundle("v2.bundle"));
  EXPECT_EQ(ReadFileToString(work_ / "slot-b")->substr(0, v2.size()), v2);
  auto jail_record = [&] {
    return BootStateFile::Open(state_, false, JailBootStatePath("web"))->Load()->state;
  };
  EXPECT_EQ(jail_record().primary, Slot::kB);
  EXPECT_EQ(jail_record().at(Slot::kB), (SlotState{2, false, 4}));  // rootfs-tries = 4
  EXPECT_EQ(*ReadFileToString(work_ / "state/initos/boot-state"), os_record);

  // Started from b (the primary now): mark it good, the jail's floor rises.
  ASSERT_TRUE(UpgradeMarkGood(Load()).ok());
  EXPECT_TRUE(jail_record().at(Slot::kB).good);
  EXPECT_EQ(jail_record().highest_good_version, 2u);
  auto status = UpgradeStatus(Load());
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("slot b: version 2, good, primary, booted"), std::string::npos) << *status;
  ASSERT_TRUE(UpgradeMarkBad(Load(), Slot::kA).ok());
  EXPECT_EQ(jail_record().at(Slot::kA).tries_left, 0u);
  auto back = UpgradeRollback(Load());
  ASSERT_FALSE(back.ok());  // slot a is below the jail's floor
  EXPECT_EQ(Record(), BootStateFile::Open(state_, false)->Load()->state);
  EXPECT_EQ(*ReadFileToString(work_ / "state/initos/boot-state"), os_record);

  // The jail must exist and have slots; the name must be a jail name.
  paths_.jail = "db";
  auto missing = LoadUpgradeSetup(paths_);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().str().find("no [[jail]] named \"db\""), std::string::npos);
  paths_.jail = "plain";
  paths_.slot_a.clear();
  auto plain = LoadUpgradeSetup(paths_);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().str().find("sets no rootfs-slots"), std::string::npos)
      << plain.error().str();
  paths_.jail = "../x";
  EXPECT_FALSE(LoadUpgradeSetup(paths_, true).ok());
}

TEST(StatusSlots, ShowsBothSlots) {
  TempDir dir;
  BootState s;
  s.at(Slot::kA) = {1, true, 0};
  s.at(Slot::kB) = {2, false, 2};
  s.primary = Slot::kB;
  s.highest_good_version = 1;
  auto f = BootStateFile::Open(dir.path(), true);
  ASSERT_TRUE(f->Store(s).ok());
  ++s.sequence;
  ASSERT_TRUE(f->Store(s).ok());  // both copies valid: no note
  BootStatus st;
  st.slot = "b";
  std::string out = FormatSlotsText(st, dir.path());
  EXPECT_EQ(out,
            "slots:\n  slot a: version 1, good\n  slot b: version 2, not good, 2 tries left, "
            "primary, booted\n  floor: 1\n");
  EXPECT_NE(FormatSlotsText(st, dir.path() + "/none").find("unreadable"), std::string::npos);
}

}  // namespace
}  // namespace initos
