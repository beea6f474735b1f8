#include "image/initramfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "format/cpio_reader.h"

namespace initos {
namespace {

using testutil::RunProgram;
using testutil::TempDir;

constexpr const char kKver[] = "9.9.9-test";

// A fake kernel module tree plus a config and extra files, all under tmp.
InitramfsSpec SampleSpec(const TempDir& tmp) {
  std::string root = tmp / (std::string("modules/") + kKver);
  EXPECT_TRUE(MakeDirs(root + "/kernel/md").ok());
  EXPECT_TRUE(MakeDirs(root + "/kernel/fs").ok());
  EXPECT_TRUE(
      WriteStringToFile(root + "/modules.dep",
                        "kernel/md/dm-verity.ko: kernel/md/dm-bufio.ko kernel/md/dm-mod.ko\n"
                        "kernel/md/dm-bufio.ko: kernel/md/dm-mod.ko\n"
                        "kernel/md/dm-mod.ko:\n"
                        "kernel/fs/erofs.ko:\n"
                        "kernel/fs/unused.ko:\n")
          .ok());
  EXPECT_TRUE(WriteStringToFile(root + "/modules.builtin", "kernel/fs/ext4/ext4.ko\n").ok());
  for (const char* m : {"md/dm-verity", "md/dm-bufio", "md/dm-mod", "fs/erofs", "fs/unused"}) {
    EXPECT_TRUE(WriteStringToFile(root + "/kernel/" + m + ".ko", std::string("ko:") + m).ok());
  }
  EXPECT_TRUE(
      WriteStringToFile(tmp / "initos.toml", "[init]\nmodules = [\"erofs\", \"ext4\"]\n").ok());
  EXPECT_TRUE(MakeDirs(tmp / "tree/sub").ok());
  EXPECT_TRUE(WriteStringToFile(tmp / "tree/sub/run.sh", "#!/bin/sh\n", 0750).ok());
  EXPECT_TRUE(WriteStringToFile(tmp / "tree/key.pem", "KEY", 0600).ok());
  EXPECT_EQ(::chmod((tmp / "tree/sub/run.sh").c_str(), 0750), 0);  // umask-proof
  EXPECT_EQ(::chmod((tmp / "tree/key.pem").c_str(), 0600), 0);
  EXPECT_EQ(::symlink("key.pem", (tmp / "tree/link").c_str()), 0);
  EXPECT_TRUE(WriteStringToFile(tmp / "single", "one").ok());

  InitramfsSpec spec;
  spec.initos_path = INITOS_BINARY;
  spec.config_path = tmp / "initos.toml";
  spec.kver = kKver;
  spec.modules_root = root;
  spec.modules = {"dm_verity"};
  EXPECT_TRUE(MakeDirs(tmp / "overlay/bin").ok());
  EXPECT_TRUE(WriteStringToFile(tmp / "overlay/bin/tool", "tool").ok());
  spec.files = {
      {tmp / "tree", "/etc/extra"}, {tmp / "single", "/usr/share/one"}, {tmp / "overlay", "/"}};
  spec.compression = Compression::kNone;
  spec.level = 1;  // the real initos is megabytes: keep tests fast
  return spec;
}

std::map<std::string, CpioRecord> ByName(const std::string& archive) {
  std::map<std::string, CpioRecord> out;
  auto recs = ParseNewc(archive);
  EXPECT_TRUE(recs.ok()) << recs.error().str();
  if (recs.ok()) {
    for (auto& r : *recs) out[r.name] = r;
  }
  return out;
}

TEST(Initramfs, ContainsEverythingAsked) {
  TempDir tmp;
  InitramfsSpec spec = SampleSpec(tmp);
  ASSERT_TRUE(WriteInitramfs(spec, tmp / "out.cpio").ok());
  auto e = ByName(*ReadFileToString(tmp / "out.cpio"));

  EXPECT_EQ(e["init"].data, *ReadFileToString(INITOS_BINARY));
  EXPECT_EQ(e["init"].mode, S_IFREG | 0755u);
  EXPECT_EQ(e["etc/initos/initos.toml"].data, *ReadFileToString(spec.config_path));
  EXPECT_EQ(e["dev/console"].mode, S_IFCHR | 0600u);
  EXPECT_EQ(e["dev/console"].rdev_major, 5u);
  EXPECT_EQ(e["dev/console"].rdev_minor, 1u);
  for (const char* d : {"dev", "proc", "sys", "run", "tmp", "root"}) {
    ASSERT_TRUE(e.count(d)) << d;
    EXPECT_TRUE(S_ISDIR(e[d].mode)) << d;
  }
  EXPECT_EQ(e["tmp"].mode & 07777, 01777u);

  // dm-verity with deps from --module, erofs from the config; ext4 is built in.
  std::string mod = std::string("lib/modules/") + kKver + "/";
  for (const char* m : {"md/dm-verity", "md/dm-bufio", "md/dm-mod", "fs/erofs"}) {
    EXPECT_EQ(e[mod + "kernel/" + m + ".ko"].data, std::string("ko:") + m);
  }
  EXPECT_EQ(e.count(mod + "kernel/fs/unused.ko"), 0u);
  std::string dep = e[mod + "modules.dep"].data;
  EXPECT_NE(dep.find("kernel/md/dm-verity.ko: kernel/md/dm-bufio.ko kernel/md/dm-mod.ko\n"),
            std::string::npos)
      << dep;
  EXPECT_EQ(dep.find("unused"), std::string::npos);
  EXPECT_EQ(e[mod + "modules.builtin"].data, "kernel/fs/ext4/ext4.ko\n");

  EXPECT_EQ(e["etc/extra/sub/run.sh"].data, "#!/bin/sh\n");
  EXPECT_EQ(e["etc/extra/sub/run.sh"].mode, S_IFREG | 0750u);
  EXPECT_EQ(e["etc/extra/key.pem"].mode, S_IFREG | 0600u);
  EXPECT_EQ(e["etc/extra/link"].mode, S_IFLNK | 0777u);
  EXPECT_EQ(e["etc/extra/link"].data, "key.pem");
  EXPECT_EQ(e["usr/share/one"].data, "one");
  EXPECT_TRUE(S_ISDIR(e["usr/share"].mode));
  EXPECT_EQ(e["bin/tool"].data, "tool");  // a tree copied to "/" merges into the root
}

TEST(Initramfs, SameInputsSameBytes) {
  TempDir tmp;
  InitramfsSpec spec = SampleSpec(tmp);
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    spec.compression = c;
    ASSERT_TRUE(WriteInitramfs(spec, tmp / "a").ok());
    // Touch the sources: host mtimes must not leak into the image.
    ASSERT_EQ(::utimensat(AT_FDCWD, (tmp / "single").c_str(), nullptr, 0), 0);
    ASSERT_TRUE(WriteInitramfs(spec, tmp / "b").ok());
    auto a = ReadFileToString(tmp / "a"), b = ReadFileToString(tmp / "b");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_GT(a->size(), 100000u);
    EXPECT_EQ(*a, *b) << CompressionName(c);
  }
  spec.mtime = 1700000000;
  spec.compression = Compression::kNone;
  ASSERT_TRUE(WriteInitramfs(spec, tmp / "c").ok());
  EXPECT_EQ(ByName(*ReadFileToString(tmp / "c"))["init"].mtime, 1700000000u);
}

TEST(Initramfs, CompressedImagesUnpackWithRealTools) {
  TempDir tmp;
  InitramfsSpec spec = SampleSpec(tmp);
  spec.compression = Compression::kZstd;
  ASSERT_TRUE(WriteInitramfs(spec, tmp / "img.zst").ok());
  auto r = RunProgram({"sh", "-c", "zstd -dc img.zst | cpio -t --quiet"}, tmp.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\ninit\n"), std::string::npos) << r.out;
  spec.compression = Compression::kGzip;
  ASSERT_TRUE(WriteInitramfs(spec, tmp / "img.gz").ok());
  r = RunProgram({"sh", "-c", "gzip -dc img.gz | cpio -t --quiet"}, tmp.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("dev/console"), std::string::npos);
}

TEST(Initramfs, ErrorsNameTheProblem) {
  TempDir tmp;
  InitramfsSpec spec = SampleSpec(tmp);

  InitramfsSpec bad_file = spec;
  bad_file.files.push_back({tmp / "nope", "/x"});
  auto r = WriteInitramfs(bad_file, tmp / "o");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find(tmp / "nope"), std::string::npos) << r.error().str();
  EXPECT_NE(::access((tmp / "o").c_str(), F_OK), 0);  // nothing half-written

  InitramfsSpec bad_module = spec;
  bad_module.modules.push_back("no-such");
  r = WriteInitramfs(bad_module, tmp / "o");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("'no-such'"), std::string::npos) << r.error().str();

  InitramfsSpec escape = spec;
  escape.files.push_back({tmp / "tree", "/../.."});
  EXPECT_FALSE(WriteInitramfs(escape, tmp / "o").ok());

  InitramfsSpec clash = spec;
  clash.files.push_back({tmp / "single", "/init"});
  EXPECT_FALSE(WriteInitramfs(clash, tmp / "o").ok());

  InitramfsSpec dynamic = spec;
  dynamic.initos_path = "/proc/self/exe";  // unit_tests is dynamically linked
  r = WriteInitramfs(dynamic, tmp / "o");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("dynamically linked"), std::string::npos) << r.error().str();
}

TEST(Initramfs, DetectsDynamicElf) {
  EXPECT_FALSE(*IsDynamicElf(INITOS_BINARY));
  EXPECT_TRUE(*IsDynamicElf("/proc/self/exe"));
  TempDir tmp;
  ASSERT_TRUE(WriteStringToFile(tmp / "script", "#!/bin/sh\n").ok());
  EXPECT_FALSE(IsDynamicElf(tmp / "script").ok());
}

TEST(Initramfs, ConfigModules) {
  TempDir tmp;
  ASSERT_TRUE(WriteStringToFile(tmp / "a.toml", "[init]\nmodules = [\"loop\", \"dm-mod\"]\n").ok());
  EXPECT_EQ(*ConfigModules(tmp / "a.toml"), (std::vector<std::string>{"loop", "dm-mod"}));
  ASSERT_TRUE(WriteStringToFile(tmp / "b.toml", "[init]\nmain = [\"/bin/sh\"]\n").ok());
  EXPECT_TRUE(ConfigModules(tmp / "b.toml")->empty());
  ASSERT_TRUE(WriteStringToFile(tmp / "c.toml", "[init]\nmodules = \"loop\"\n").ok());
  EXPECT_FALSE(ConfigModules(tmp / "c.toml").ok());
  ASSERT_TRUE(WriteStringToFile(tmp / "d.toml", "[init\n").ok());
  auto bad = ConfigModules(tmp / "d.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("d.toml:1"), std::string::npos) << bad.error().str();
}

// ---- the command line, run as the real static binary ----------------------

TEST(InitramfsCli, BadFileIsOneLineError) {
  TempDir tmp;
  auto r = RunProgram({INITOS_BINARY, "image", "initramfs", "-o", tmp / "out.img", "--file",
                       "/nonexistent/initos-src=/x"});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  EXPECT_NE(r.err.find("/nonexistent/initos-src"), std::string::npos) << r.err;
  EXPECT_NE(::access((tmp / "out.img").c_str(), F_OK), 0);
}

TEST(InitramfsCli, BuildsReproduciblyWithDefaults) {
  TempDir tmp;
  InitramfsSpec spec = SampleSpec(tmp);
  std::vector<std::string> argv = {INITOS_BINARY,
                                   "image",
                                   "initramfs",
                                   "--modules-root",
                                   spec.modules_root,
                                   "--module",
                                   "dm-verity",
                                   "--config",
                                   spec.config_path,
                                   "--file=" + tmp / "single" + "=/one",
                                   "--compress",
                                   "zstd",
                                   "--level",
                                   "3",
                                   "-o"};
  auto a = argv, b = argv;
  a.push_back(tmp / "a.img");
  b.push_back(tmp / "b.img");
  auto ra = RunProgram(a), rb = RunProgram(b);
  ASSERT_EQ(ra.status, 0) << ra.err;
  ASSERT_EQ(rb.status, 0) << rb.err;
  EXPECT_EQ(*ReadFileToString(tmp / "a.img"), *ReadFileToString(tmp / "b.img"));
  // Default /init is the running (static) initos itself; kver from the root's name.
  auto list = RunProgram({"sh", "-c", "zstd -dc a.img | cpio -t --quiet"}, tmp.path());
  ASSERT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("\ninit\n"), std::string::npos);
  EXPECT_NE(list.out.find(std::string("lib/modules/") + kKver + "/kernel/md/dm-mod.ko"),
            std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("\none\n"), std::string::npos);
}

TEST(InitramfsCli, HelpAndUsage) {
  auto help = RunProgram({INITOS_BINARY, "image", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("initramfs"), std::string::npos);
  auto sub = RunProgram({INITOS_BINARY, "image", "initramfs", "--help"});
  EXPECT_EQ(sub.status, 0);
  EXPECT_NE(sub.out.find("--module"), std::string::npos);
  auto unknown = RunProgram({INITOS_BINARY, "image", "frobnicate"});
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.err.find("frobnicate"), std::string::npos);
  auto no_out = RunProgram({INITOS_BINARY, "image", "initramfs"});
  EXPECT_NE(no_out.status, 0);
  EXPECT_NE(no_out.err.find("-o"), std::string::npos);
  auto bad_opt = RunProgram({INITOS_BINARY, "image", "initramfs", "-o", "/tmp/x", "--bogus"});
  EXPECT_NE(bad_opt.status, 0);
  EXPECT_NE(bad_opt.err.find("--bogus"), std::string::npos);
}

}  // namespace
}  // namespace initos
