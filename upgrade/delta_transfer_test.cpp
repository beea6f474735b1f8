#include "upgrade/delta_transfer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/bundle.h"
#include "image/testing/test_bundles.h"

namespace initos {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

// Two versions of a tree that differ in one small file, next to 2 MiB that
// stay the same; and one more version signed by a key the device does not
// trust.
class DeltaTransferTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string d = dir_->path();
    std::mt19937 rng(42);
    std::string big(2 << 20, '\0');
    for (char& c : big) c = static_cast<char>(rng());
    for (int v : {1, 2}) {
      std::string tree = d + "/tree" + std::to_string(v);
      ASSERT_TRUE(MakeDirs(tree + "/usr/lib").ok());
      ASSERT_TRUE(WriteStringToFile(tree + "/usr/lib/big", big).ok());
      ASSERT_TRUE(WriteStringToFile(tree + "/version", "version " + std::to_string(v) + "\n").ok());
    }
    testutil::WriteTestKeys(d, {"a", "b"});
    testutil::BuildTestBundle(d, "tree1", "v1.bundle", "a", 1, 7);
    // Another salt: block names must still match.
    testutil::BuildTestBundle(d, "tree2", "v2.bundle", "a", 2, 9);
    testutil::BuildTestBundle(d, "tree2", "v2-other-key.bundle", "b", 2, 9);
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    state_ = work_ / "state";
    fs::create_directories(state_);
    // Slot a runs version 1; slot b is the inactive one.
    std::string v1 = *ReadFileToString(dir_->path() + "/v1.bundle");
    v1.resize(kSlotSize, '\0');
    ASSERT_TRUE(WriteStringToFile(work_ / "slot-a", v1).ok());
    ASSERT_TRUE(WriteStringToFile(work_ / "slot-b", std::string(kSlotSize, 'o')).ok());
    auto f = BootStateFile::Open(state_, true);
    ASSERT_TRUE(f.ok());
    BootState s;
    s.at(Slot::kA) = {1, true, 0};
    s.highest_good_version = 1;
    ASSERT_TRUE(f->Store(s).ok());
    target_.slot_path = work_ / "slot-b";
    target_.slot = Slot::kB;
    target_.name = "testos";
    target_.keys = {*LoadPublicKey(dir_->path() + "/a.pub")};
    target_.floor = 1;
    target_.staging_dir = state_;
  }

  struct Outcome {
    Result<DeltaStats> host = Err() << "not run";
    Result<Manifest> device = Err() << "not run";
  };
  Outcome Push(const std::string& bundle) {
    int to_dev[2], from_dev[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_dev), 0);
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, from_dev), 0);
    unique_fd host_out(to_dev[0]), dev_in(to_dev[1]), dev_out(from_dev[0]), host_in(from_dev[1]);
    Outcome o;
    std::thread device([&] {
      auto record = BootStateFile::Open(state_, false);
      o.device = ReceiveBundle(dev_in.get(), dev_out.get(), target_,
                               {work_ / "slot-a", work_ / "slot-b"}, *record);
      dev_in.reset();
      dev_out.reset();
    });
    auto in = OpenFile(dir_->path() + "/" + bundle, O_RDONLY);
    o.host = PushBundle(in->get(), host_out.get(), host_in.get());
    host_out.reset();  // a host that failed early must not leave the device waiting
    device.join();
    return o;
  }

  static constexpr size_t kSlotSize = 8 << 20;
  static TempDir* dir_;
  TempDir work_;
  std::string state_;
  ApplyTarget target_;
};
TempDir* DeltaTransferTest::dir_ = nullptr;

TEST_F(DeltaTransferTest, AOneFileChangeSendsAFractionAndInstallsTheSameBytes) {
  Outcome o = Push("v2.bundle");
  ASSERT_TRUE(o.host.ok()) << o.host.error().str();
  ASSERT_TRUE(o.device.ok()) << o.device.error().str();
  std::string v2 = *ReadFileToString(dir_->path() + "/v2.bundle");
  EXPECT_EQ(ReadFileToString(work_ / "slot-b")->substr(0, v2.size()), v2);
  // The header area (64 KiB) always crosses; of 2 MiB of data, only blocks
  // that changed (the file, metadata) do.
  EXPECT_LT(o.host->bytes_sent, 64u * 1024 + 64 * 1024)
      << o.host->bytes_sent << " of " << v2.size();
  EXPECT_GT(o.host->local, o.host->blocks * 9 / 10);
  auto l = BootStateFile::Open(state_, false)->Load();
  EXPECT_EQ(l->state.primary, Slot::kB);
  EXPECT_EQ(l->state.at(Slot::kB).version, 2u);
}

TEST_F(DeltaTransferTest, AnUntrustedBundleIsRefusedBeforeAnyDataMoves) {
  std::string before = *ReadFileToString(work_ / "slot-b");
  Outcome o = Push("v2-other-key.bundle");
  ASSERT_FALSE(o.host.ok());
  EXPECT_NE(o.host.error().str().find("device refused the bundle: bundle signature"),
            std::string::npos)
      << o.host.error().str();
  EXPECT_EQ(*ReadFileToString(work_ / "slot-b"), before);
}

// A disk attacker changed a block of a local slot: its name changes with
// it, so it is not offered and the host sends the real block; the slot
// written gets exactly the signed bytes.
TEST_F(DeltaTransferTest, AChangedLocalBlockIsNotReused) {
  Outcome first = Push("v2.bundle");  // slot b now holds v2
  ASSERT_TRUE(first.device.ok());
  std::string b = *ReadFileToString(work_ / "slot-b");
  b[kBundleHeaderAreaSize + 100] ^= 1;
  ASSERT_TRUE(WriteStringToFile(work_ / "slot-b", b).ok());
  target_.slot_path = work_ / "slot-a";
  target_.slot = Slot::kA;
  Outcome o = Push("v2.bundle");
  ASSERT_TRUE(o.device.ok()) << o.device.error().str();
  std::string v2 = *ReadFileToString(dir_->path() + "/v2.bundle");
  EXPECT_EQ(ReadFileToString(work_ / "slot-a")->substr(0, v2.size()), v2);
  EXPECT_LT(o.host->local, o.host->blocks);  // the changed block was sent
}

}  // namespace
}  // namespace initos
