#include "os/modules.h"

#include <glob.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

size_t IndexOf(const std::vector<std::string>& v, const std::string& s) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

// Every module appears once and after everything modules.dep says it needs.
void ExpectDepsFirst(const ModuleDb& db, const std::vector<std::string>& order) {
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(std::count(order.begin(), order.end(), order[i]), 1) << order[i];
    auto it = db.deps.find(order[i]);
    if (it == db.deps.end()) continue;
    for (const auto& dep : it->second) {
      size_t j = IndexOf(order, dep);
      ASSERT_LT(j, order.size()) << dep << " (needed by " << order[i] << ") missing";
      EXPECT_LT(j, i) << dep << " must load before " << order[i];
    }
  }
}

ModuleDb Parse(std::string_view dep, std::string_view builtin = "") {
  auto db = ParseModuleDb(dep, builtin, "/test");
  EXPECT_TRUE(db.ok()) << db.error().str();
  return db.ok() ? *db : ModuleDb{};
}

TEST(Modules, NormalizeName) {
  EXPECT_EQ(NormalizeModuleName("dm-verity"), "dm_verity");
  EXPECT_EQ(NormalizeModuleName("dm_verity"), "dm_verity");
  EXPECT_EQ(NormalizeModuleName("kernel/drivers/md/dm-verity.ko"), "dm_verity");
  EXPECT_EQ(NormalizeModuleName("kernel/fs/erofs/erofs.ko.zst"), "erofs");
}

TEST(Modules, ChainLoadsDeepestFirst) {
  // depmod lists the transitive closure; the order must still come out right.
  ModuleDb db = Parse(
      "k/a.ko: k/b.ko k/c.ko\n"
      "k/b.ko: k/c.ko\n"
      "k/c.ko:\n");
  auto r = ResolveModules(db, {"a"}, "/test");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->load, (std::vector<std::string>{"k/c.ko", "k/b.ko", "k/a.ko"}));
  EXPECT_TRUE(r->builtin.empty());
}

TEST(Modules, DiamondLoadsSharedDepOnce) {
  ModuleDb db = Parse(
      "k/top.ko: k/right.ko k/left.ko k/base.ko\n"
      "k/left.ko: k/base.ko\n"
      "k/right.ko: k/base.ko\n"
      "k/base.ko:\n"
      "k/other.ko: k/left.ko k/base.ko\n");
  auto r = ResolveModules(db, {"top", "other", "left"}, "/test");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->load.size(), 5u);
  ExpectDepsFirst(db, r->load);
  EXPECT_EQ(r->load.front(), "k/base.ko");
}

TEST(Modules, DashesAndUnderscoresAreTheSame) {
  ModuleDb db = Parse(
      "kernel/drivers/md/dm-verity.ko: kernel/drivers/md/dm-mod.ko\n"
      "kernel/drivers/md/dm-mod.ko:\n"
      "kernel/drivers/block/virtio_blk.ko:\n");
  for (const char* name : {"dm-verity", "dm_verity"}) {
    auto r = ResolveModules(db, {name}, "/test");
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(r->load.back(), "kernel/drivers/md/dm-verity.ko");
    EXPECT_EQ(r->load.size(), 2u);
  }
  auto r = ResolveModules(db, {"virtio-blk", "virtio_blk"}, "/test");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->load, (std::vector<std::string>{"kernel/drivers/block/virtio_blk.ko"}));
}

TEST(Modules, BuiltinNeedsNothing) {
  ModuleDb db = Parse("k/loop.ko:\n", "kernel/fs/ext4/ext4.ko\nkernel/fs/jbd2/jbd2.ko\n");
  auto r = ResolveModules(db, {"ext4", "loop"}, "/test");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->load, (std::vector<std::string>{"k/loop.ko"}));
  EXPECT_EQ(r->builtin, (std::vector<std::string>{"ext4"}));
}

TEST(Modules, UnknownNamesTheModuleAndTheFix) {
  ModuleDb db = Parse("k/loop.ko:\n");
  auto r = ResolveModules(db, {"loop", "no-such-mod"}, "/lib/modules/X", "use --module NAME");
  ASSERT_FALSE(r.ok());
  std::string msg = r.error().str();
  EXPECT_NE(msg.find("'no-such-mod'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/lib/modules/X/modules.dep"), std::string::npos) << msg;
  EXPECT_NE(msg.find("use --module no-such-mod"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Modules, CompressedModulesAreAClearError) {
  ModuleDb db = Parse(
      "k/a.ko: k/b.ko.xz\n"
      "k/b.ko.xz:\n"
      "k/c.ko.zst:\n");
  for (const char* name : {"a", "c"}) {
    auto r = ResolveModules(db, {name}, "/test");
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.error().str().find("compressed"), std::string::npos) << r.error().str();
  }
}

TEST(Modules, ParseErrorsAndCycles) {
  EXPECT_FALSE(ParseModuleDb("k/a.ko k/b.ko\n", "", "/t").ok());       // no colon
  EXPECT_FALSE(ParseModuleDb("/abs/a.ko:\n", "", "/t").ok());          // absolute
  EXPECT_FALSE(ParseModuleDb("k/a.ko: ../../x.ko\n", "", "/t").ok());  // escapes root
  ModuleDb db = Parse("k/a.ko: k/b.ko\nk/b.ko: k/a.ko\n");
  auto r = ResolveModules(db, {"a"}, "/test");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("cycle"), std::string::npos);
}

TEST(Modules, FormatModulesDepRoundTrips) {
  ModuleDb db = Parse(
      "k/a.ko: k/b.ko k/c.ko\n"
      "k/b.ko: k/c.ko\n"
      "k/c.ko:\n"
      "k/unused.ko: k/c.ko\n");
  auto r = ResolveModules(db, {"a"}, "/test");
  ASSERT_TRUE(r.ok());
  std::string text = FormatModulesDep(db, r->load);
  EXPECT_EQ(text.find("unused"), std::string::npos);
  ModuleDb again = Parse(text);
  EXPECT_EQ(again.path.size(), 3u);
  auto r2 = ResolveModules(again, {"a"}, "/test");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->load, r->load);
}

TEST(Modules, LoadModulesFailsCleanlyBeforeAnySyscall) {
  testutil::TempDir tmp;
  EXPECT_TRUE(LoadModules(tmp.path(), {}).ok());  // nothing asked, nothing read
  auto missing_db = LoadModules(tmp.path(), {"loop"});
  ASSERT_FALSE(missing_db.ok());
  EXPECT_NE(missing_db.error().str().find("modules.dep"), std::string::npos);
  ASSERT_TRUE(WriteStringToFile(tmp / "modules.dep", "k/x.ko.xz:\n").ok());
  auto unknown = LoadModules(tmp.path(), {"loop"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().str().find("initos image initramfs --module loop"), std::string::npos)
      << unknown.error().str();
  auto compressed = LoadModules(tmp.path(), {"x"});
  ASSERT_FALSE(compressed.ok());
  EXPECT_NE(compressed.error().str().find("compressed"), std::string::npos);
}

// The real Debian cloud kernel's database, if installed.
std::string CloudModulesRoot() {
  glob_t g;
  std::string root;
  if (::glob("/lib/modules/6.1.0-*-cloud-amd64/modules.dep", 0, nullptr, &g) == 0) {
    root = g.gl_pathv[0];
    root.resize(root.size() - std::string("/modules.dep").size());
  }
  ::globfree(&g);
  return root;
}

TEST(Modules, RealCloudKernelDepsFirst) {
  std::string root = CloudModulesRoot();
  if (root.empty()) GTEST_SKIP() << "no linux-image-cloud-amd64 modules installed";
  auto db = ReadModuleDb(root);
  ASSERT_TRUE(db.ok()) << db.error().str();
  auto r = ResolveModules(*db, {"dm-verity", "erofs", "virtio_blk", "ext4"}, root);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectDepsFirst(*db, r->load);
  EXPECT_EQ(r->builtin, (std::vector<std::string>{"ext4"}));
  auto pos = [&](const std::string& name) {
    for (size_t i = 0; i < r->load.size(); ++i) {
      if (NormalizeModuleName(r->load[i]) == name) return i;
    }
    return r->load.size();
  };
  for (const char* m : {"dm_mod", "dm_verity", "erofs", "virtio_blk", "virtio"}) {
    EXPECT_LT(pos(m), r->load.size()) << m;
  }
  EXPECT_LT(pos("dm_mod"), pos("dm_verity"));
  EXPECT_LT(pos("virtio"), pos("virtio_blk"));
  for (const auto& rel : r->load) {
    struct stat st;
    EXPECT_EQ(::stat((root + "/" + rel).c_str(), &st), 0) << rel;
  }
}

}  // namespace
}  // namespace initos
