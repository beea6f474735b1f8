// Root-only: attaches real loop devices, builds a dm-verity mapping with our
// own ioctls over an image made by mkfs.erofs + veritysetup, and mounts it.
// Each test body runs in a forked child inside a private mount namespace.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "base/file.h"
#include "base/sys/dm.h"
#include "base/testing/require.h"
#include "boot/rootfs/persistent_dirs.h"
#include "format/verity_table.h"
#include "os/loop.h"
#include "os/mount_util.h"

namespace initos {
namespace {

namespace fs = std::filesystem;

bool Have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// Runs fn in a child with a private mount namespace; fn returns "" on
// success or a failure message, which the parent reports.
std::string InChild(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string msg;
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr))
      msg = "private mount namespace failed";
    else
      msg = fn();
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(msg.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  unique_fd r(fds[0]);
  auto msg = ReadFdToString(r.get());
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "child died: status " + std::to_string(status);
  if (WEXITSTATUS(status) != 0) return msg.ok() && !msg->empty() ? *msg : "child failed";
  return "";
}

// Whether loopN still has a backing file (the kernel removes the sysfs
// "loop" directory when it is detached); waits for autoclear to finish.
bool LoopDetached(int n, int timeout_ms = 3000) {
  std::string dir = "/sys/block/loop" + std::to_string(n) + "/loop";
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (!fs::exists(dir)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/initos-dmroot-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// 64 KiB of numbered lines: whole data blocks (not inlined in the inode),
// and every block distinct so a flipped byte is easy to place.
std::string KnownContent() {
  std::string s;
  for (int i = 0; s.size() < 65536; i++) {
    char line[64];
    std::snprintf(line, sizeof(line), "initos verity test line %08d\n", i);
    s += line;
  }
  return s;
}

class RootImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!Have("mkfs.erofs")) GTEST_SKIP() << "mkfs.erofs not installed";
    // Modules of the running kernel, if it has them as modules at all.
    (void)std::system("modprobe -q loop 2>/dev/null; modprobe -q erofs 2>/dev/null");
    if (::access("/dev/loop-control", R_OK | W_OK) != 0)
      INITOS_KERNEL_FEATURE_MISSING() << "no /dev/loop-control";
    ASSERT_TRUE(MakeDirs(dir_.path() + "/src/etc").ok());
    ASSERT_TRUE(MakeDirs(dir_.path() + "/mnt").ok());
    content_ = KnownContent();
    ASSERT_TRUE(WriteStringToFile(dir_.path() + "/src/etc/known", content_).ok());
    data_ = dir_.path() + "/data.img";
    ASSERT_EQ(std::system(
                  ("mkfs.erofs --quiet " + data_ + " " + dir_.path() + "/src >/dev/null").c_str()),
              0);
  }

  std::string ReadKnown() {
    auto s = ReadFileToString(dir_.path() + "/mnt/etc/known");
    if (!s.ok()) return "read failed: " + s.error().str();
    return *s == content_ ? "" : "content differs";
  }

  TempDir dir_;
  std::string content_;
  std::string data_;
};

TEST_F(RootImageTest, LoopMountsErofsAtOffsetAndAutoclears) {
  // Put the image 1 MiB into a bigger file, like a bundle with a header.
  std::string bundle = dir_.path() + "/bundle";
  auto img = ReadFileToString(data_);
  ASSERT_TRUE(img.ok());
  ASSERT_TRUE(WriteStringToFile(bundle, std::string(1 << 20, 'H') + *img + "trailer").ok());

  int number = -1;
  std::string err = InChild([&]() -> std::string {
    auto loop = AttachLoop(bundle, {.offset = 1 << 20, .sizelimit = img->size()});
    if (!loop.ok()) return loop.error().str();
    number = loop->number;
    std::string sys = "/sys/block/loop" + std::to_string(loop->number);
    auto ro = ReadFileToString(sys + "/ro");
    if (!ro.ok() || *ro != "1\n") return "loop device is not read-only";
    auto size = ReadFileToString(sys + "/size");
    if (!size.ok() || std::stoull(*size) * 512 != img->size())
      return "loop size is not the sizelimit";
    if (auto r = MountErofs(loop->path, dir_.path() + "/mnt"); !r.ok()) return r.error().str();
    std::string read = ReadKnown();
    if (!read.empty()) return read;
    if (::umount2((dir_.path() + "/mnt").c_str(), 0) != 0) return "umount failed";
    int n = loop->number;
    loop->fd.reset();  // last close: autoclear detaches it
    return LoopDetached(n) ? "" : "loop" + std::to_string(n) + " still attached after close";
  });
  EXPECT_EQ(err, "");
}

TEST_F(RootImageTest, MountOverlayAndTmpfs) {
  std::string err = InChild([&]() -> std::string {
    std::string t = dir_.path() + "/t";
    if (!MakeDirs(t).ok()) return "mkdir";
    if (auto r = MountTmpfs(t, "0700", "4m"); !r.ok()) return r.error().str();
    struct stat st;
    if (::stat(t.c_str(), &st) != 0 || (st.st_mode & 07777) != 0700) return "tmpfs mode not 0700";
    for (const char* d : {"/upper", "/work", "/merged"})
      if (!MakeDirs(t + d).ok()) return "mkdir";
    if (auto r = MountOverlay(dir_.path() + "/src", t + "/upper", t + "/work", t + "/merged");
        !r.ok())
      return r.error().str();
    auto s = ReadFileToString(t + "/merged/etc/known");
    if (!s.ok() || *s != content_) return "overlay does not show the lower file";
    if (!WriteStringToFile(t + "/merged/new", "x").ok()) return "overlay not writable";
    if (!fs::exists(t + "/upper/new")) return "write did not land in upperdir";
    if (fs::exists(dir_.path() + "/src/new")) return "write leaked into lowerdir";
    return "";
  });
  EXPECT_EQ(err, "");
}

// state.persistent: /var (missing in the lower) and /etc (present, in
// allow-exec) get overlays with their upper layers on the "state" tmpfs;
// /var is noexec, both nosuid; a symlink planted on the state filesystem is
// refused, not followed.
TEST_F(RootImageTest, PersistentDirsGetTheirOwnOverlays) {
  std::string err = InChild([&]() -> std::string {
    std::string t = dir_.path() + "/t", lower = dir_.path() + "/src";
    if (!MakeDirs(t).ok()) return "mkdir";
    if (auto r = MountTmpfs(t, "0755", "16m"); !r.ok()) return r.error().str();
    for (const char* d : {"/ru", "/rw", "/root", "/state", "/run", "/state2", "/elsewhere"})
      if (!MakeDirs(t + d).ok()) return "mkdir";
    if (auto r = MountOverlay(lower, t + "/ru", t + "/rw", t + "/root"); !r.ok())
      return r.error().str();
    auto plan = PlanPersistentMounts({"/var", "/etc"}, {"/etc"});
    if (auto r = MountPersistentDirs(plan, lower, t + "/state", t + "/root", t + "/run"); !r.ok())
      return r.error().str();
    struct statvfs var {
    }, etc{};
    if (::statvfs((t + "/root/var").c_str(), &var) != 0) return "statvfs /var";
    if (::statvfs((t + "/root/etc").c_str(), &etc) != 0) return "statvfs /etc";
    if (!(var.f_flag & ST_NOEXEC) || !(var.f_flag & ST_NOSUID) || !(var.f_flag & ST_NODEV))
      return "/var is not nosuid,nodev,noexec";
    if ((etc.f_flag & ST_NOEXEC) || !(etc.f_flag & ST_NOSUID)) return "/etc flags wrong";
    if (!WriteStringToFile(t + "/root/var/x", "kept").ok()) return "write /var/x";
    if (!fs::exists(t + "/state/initos/persist/var/upper/x")) return "/var/x not on the state fs";
    auto known = ReadFileToString(t + "/root/etc/known");
    if (!known.ok() || *known != content_) return "/etc does not show the image's file";
    if (!WriteStringToFile(t + "/root/etc/y", "y").ok()) return "write /etc/y";
    if (!fs::exists(t + "/state/initos/persist/etc/upper/y")) return "/etc/y not on the state fs";
    // A disk attacker's symlink in the layer path: refused, nothing mounted there.
    if (!MakeDirs(t + "/state2/initos").ok()) return "mkdir";
    if (::symlink((t + "/elsewhere").c_str(), (t + "/state2/initos/persist").c_str()) != 0)
      return "symlink";
    auto bad = MountPersistentDirs(PlanPersistentMounts({"/etc"}, {}), lower, t + "/state2",
                                   t + "/root", t + "/run");
    if (bad.ok()) return "a symlinked initos/persist was followed";
    if (bad.error().str().find("initos/persist is a symlink, not a directory; not followed") ==
        std::string::npos)
      return "unexpected error: " + bad.error().str();
    if (fs::exists(t + "/elsewhere/etc")) return "created dirs through the symlink";
    return "";
  });
  EXPECT_EQ(err, "");
}

TEST_F(RootImageTest, BadMountOptionNamesTheProblem) {
  std::string err = InChild([&]() -> std::string {
    auto r = Mount(MountRequest{"tmpfs", "tmpfs", dir_.path() + "/mnt", {{"nosuchoption", "1"}}});
    if (r.ok()) return "mount with a bogus option succeeded";
    if (r.error().message.find("nosuchoption") == std::string::npos)
      return "error does not name the option: " + r.error().str();
    return "";
  });
  EXPECT_EQ(err, "");
}

// ---- dm-verity ----

struct VeritySetup {
  std::string root_hash, salt;
  uint64_t data_blocks = 0;
};

std::string Field(const std::string& out, const std::string& key) {
  auto pos = out.find(key + ":");
  if (pos == std::string::npos) return "";
  pos += key.size() + 1;
  while (pos < out.size() && (out[pos] == ' ' || out[pos] == '\t')) pos++;
  return out.substr(pos, out.find('\n', pos) - pos);
}

class VerityRootTest : public RootImageTest {
 protected:
  void SetUp() override {
    RootImageTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!Have("veritysetup")) GTEST_SKIP() << "veritysetup not installed";
    (void)std::system("modprobe -q dm-verity 2>/dev/null");
    auto dm = DeviceMapper::Open();
    if (!dm.ok()) INITOS_KERNEL_FEATURE_MISSING() << "device-mapper unusable: " << dm.error().str();
    hash_ = dir_.path() + "/hash.img";
    std::string out = RunCapture("veritysetup format " + data_ + " " + hash_ + " 2>&1");
    vs_.root_hash = Field(out, "Root hash");
    vs_.salt = Field(out, "Salt");
    vs_.data_blocks = std::strtoull(Field(out, "Data blocks").c_str(), nullptr, 10);
    ASSERT_EQ(vs_.root_hash.size(), 64u) << out;
    ASSERT_GT(vs_.data_blocks, 0u) << out;
    name_ = "initos-test-" + std::to_string(::getpid());
  }
  void TearDown() override {
    // Leftovers from a failed child: remove them so later tests start clean.
    if (auto dm = DeviceMapper::Open(); dm.ok() && !name_.empty()) (void)dm->Remove(name_);
  }

  // Flips one byte inside the known file's data in the data image.
  void CorruptKnownFile() {
    auto img = ReadFileToString(data_);
    ASSERT_TRUE(img.ok());
    size_t at = img->find(content_.substr(4096 * 3, 64));
    ASSERT_NE(at, std::string::npos);
    unique_fd fd = std::move(*OpenFile(data_, O_RDWR));
    char c = static_cast<char>((*img)[at + 10] ^ 0x20);
    ASSERT_EQ(::pwrite(fd.get(), &c, 1, static_cast<off_t>(at + 10)), 1);
  }

  // Attaches, maps, mounts and reads; returns "" or what went wrong.
  // `expect_corrupt` flips what counts as success.
  std::string MapAndRead(bool expect_corrupt) {
    auto data = AttachLoop(data_, {});
    if (!data.ok()) return data.error().str();
    auto hash = AttachLoop(hash_, {});
    if (!hash.ok()) return hash.error().str();
    int data_n = data->number, hash_n = hash->number;

    VerityTableParams p;
    p.data_dev = data->path;
    p.hash_dev = hash->path;
    p.data_blocks = vs_.data_blocks;
    p.hash_start_block = 1;  // veritysetup's superblock is block 0 of hash.img
    p.root_hash_hex = vs_.root_hash;
    p.salt_hex = vs_.salt == "-" ? "" : vs_.salt;
    auto target = VerityTarget(p);
    if (!target.ok()) return target.error().str();
    auto dm = DeviceMapper::Open();
    if (!dm.ok()) return dm.error().str();
    auto path = CreateDmDevice(*dm, name_, "INITOS-TEST-" + name_, {*target}, true);
    if (!path.ok()) return path.error().str();
    // dm holds the loops open now; our fds can go (autoclear on dm removal).
    data->fd.reset();
    hash->fd.reset();
    struct stat st;
    if (::stat(path->c_str(), &st) != 0) return "no node " + *path;
    std::string dm_sys = "/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" +
                         std::to_string(minor(st.st_rdev));
    auto ro = ReadFileToString(dm_sys + "/ro");
    if (!ro.ok() || *ro != "1\n") return "dm device is not read-only";

    std::string mnt = dir_.path() + "/mnt";
    if (auto r = MountErofs(*path, mnt); !r.ok()) return r.error().str();
    std::string read_result;
    auto s = ReadFileToString(mnt + "/etc/known");
    if (expect_corrupt) {
      if (s.ok())
        read_result = "corrupted file read without error";
      else if (s.error().code != EIO)
        read_result = "read failed but not EIO: " + s.error().str();
    } else {
      if (!s.ok())
        read_result = "read failed: " + s.error().str();
      else if (*s != content_)
        read_result = "content differs";
    }
    auto status = dm->Status(name_);
    std::string want = expect_corrupt ? "C" : "V";
    std::string status_result;
    if (!status.ok())
      status_result = status.error().str();
    else if (status->size() != 1 || (*status)[0].type != "verity" ||
             (*status)[0].params.substr(0, 1) != want)
      status_result = "status is not " + want + ": " + (status->empty() ? "" : (*status)[0].params);

    if (::umount2(mnt.c_str(), 0) != 0) return "umount failed";
    if (auto r = dm->Remove(name_); !r.ok()) return r.error().str();
    if (fs::exists(dm_sys)) return dm_sys + " still exists after remove";
    if (!LoopDetached(data_n) || !LoopDetached(hash_n)) return "loop devices left attached";
    if (!read_result.empty()) return read_result;
    return status_result;
  }

  std::string hash_;
  std::string name_;
  VeritySetup vs_;
};

TEST_F(VerityRootTest, VerifiedImageMountsAndReads) {
  EXPECT_EQ(InChild([&] { return MapAndRead(false); }), "");
}

TEST_F(VerityRootTest, FlippedByteFailsWithEioAndStatusC) {
  CorruptKnownFile();
  EXPECT_EQ(InChild([&] { return MapAndRead(true); }), "");
}

TEST_F(VerityRootTest, WrongRootHashDoesNotMount) {
  vs_.root_hash[0] = vs_.root_hash[0] == '0' ? '1' : '0';
  std::string err = InChild([&]() -> std::string {
    std::string r = MapAndRead(false);
    return r.empty() ? "mapping with a wrong root hash read fine" : "";
  });
  EXPECT_EQ(err, "");
}

}  // namespace
}  // namespace initos
