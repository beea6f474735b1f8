#include "format/boot_status.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

BootStatus Sample() {
  BootStatus s;
  s.image = "debian";
  s.version = 7;
  s.root_hash = std::string(64, 'a');
  s.mode = "switch-root";
  s.source = "PARTLABEL=debian";
  s.initos_version = "0.1.0";
  s.booted_at = 4.5;
  s.secure_boot = "on (user mode), stub: systemd-stub 252.39-1~deb12u1";
  s.trust = "verified";
  return s;
}

TEST(BootStatus, RoundTrips) {
  std::string text = SerializeBootStatus(Sample());
  EXPECT_EQ(text,
            "image=debian\nversion=7\nroot-hash=" + std::string(64, 'a') +
                "\nmode=switch-root\nsource=PARTLABEL=debian\ninitos=0.1.0\nbooted-at=4.500000\n"
                "secure-boot=on (user mode), stub: systemd-stub 252.39-1~deb12u1\ntrust=verified\n"
                "measured=none\nmeasured-event=\nmeasured-pcr=\n");
  auto back = ParseBootStatus(text);
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(*back, Sample());
}

TEST(BootStatus, MeasurementRoundTrips) {
  BootStatus s = Sample();
  s.measured = "pcr11";
  s.measured_event = std::string(64, 'b');
  s.measured_pcr = std::string(64, 'c');
  std::string text = SerializeBootStatus(s);
  EXPECT_NE(text.find("\nmeasured=pcr11\nmeasured-event=" + s.measured_event +
                      "\nmeasured-pcr=" + s.measured_pcr + "\n"),
            std::string::npos);
  auto back = ParseBootStatus(text);
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(*back, s);
}

TEST(BootStatus, NoImageRoundTrips) {
  BootStatus s;
  s.initos_version = "0.1.0";
  s.booted_at = 1.25;
  auto back = ParseBootStatus(SerializeBootStatus(s));
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(back->image, "none");
  EXPECT_EQ(back->mode, "run");
}

TEST(BootStatus, KeysInAnyOrder) {
  std::string text =
      "trust=development\nmode=run\nbooted-at=0.000001\ninitos=1\nsource=\nroot-hash=\n"
      "secure-boot=unknown (no EFI firmware)\nversion=0\nimage=none\nmeasured-pcr=\n"
      "measured=no-tpm\nmeasured-event=\n";
  auto s = ParseBootStatus(text);
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_DOUBLE_EQ(s->booted_at, 0.000001);
}

void ExpectBad(const std::string& text, const std::string& needle) {
  auto s = ParseBootStatus(text);
  ASSERT_FALSE(s.ok()) << text;
  EXPECT_NE(s.error().str().find(needle), std::string::npos) << s.error().str();
}

TEST(BootStatus, RejectsDamagedRecords) {
  std::string good = SerializeBootStatus(Sample());
  ExpectBad("", "newline");
  ExpectBad(good.substr(0, good.size() - 1), "newline");
  ExpectBad(good + "extra=1\n", "unknown key 'extra'");
  ExpectBad(good + "mode=run\n", "'mode' repeated");
  ExpectBad(good + "garbage\n", "not key=value");
  ExpectBad(good.substr(good.find('\n') + 1), "lacks 'image='");
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  ExpectBad(replace("version=7", "version=07"), "version '07'");
  ExpectBad(replace("version=7", "version=x"), "version 'x'");
  ExpectBad(replace("mode=switch-root", "mode=boot"), "mode 'boot'");
  ExpectBad(replace("image=debian", "image=de bian"), "image 'de bian'");
  ExpectBad(replace(std::string(64, 'a'), std::string(64, 'A')), "root-hash");
  ExpectBad(replace(std::string(64, 'a'), "abc"), "root-hash");
  ExpectBad(replace("booted-at=4.500000", "booted-at=4.5"), "booted-at '4.5'");
  ExpectBad(replace("booted-at=4.500000", "booted-at=-4.500000"), "booted-at");
  ExpectBad(replace("initos=0.1.0", "initos="), "initos ''");
  ExpectBad(
      "image=none\nversion=3\nroot-hash=\nmode=run\nsource=\ninitos=1\nbooted-at=1.000000\n"
      "secure-boot=off\ntrust=verified\nmeasured=none\nmeasured-event=\nmeasured-pcr=\n",
      "image none");
  ExpectBad(replace("measured=none", "measured=yes"), "measured 'yes'");
  ExpectBad(replace("measured=none", "measured=pcr11"), "needs measured-event");
  ExpectBad(replace("measured-event=", "measured-event=" + std::string(64, 'b')),
            "only set with measured=pcr11");
  ExpectBad(replace("measured-pcr=", "measured-pcr=abc"), "64 lowercase hex");
  ExpectBad(replace("trust=verified", "trust=maybe"), "trust 'maybe'");
  ExpectBad(replace("trust=verified\n", ""), "lacks 'trust='");
  ExpectBad(replace("secure-boot=on (user mode)", "secure-boot=on\x1b[2J"), "secure-boot");
  ExpectBad(
      replace("secure-boot=on (user mode), stub: systemd-stub 252.39-1~deb12u1", "secure-boot="),
      "secure-boot is empty");
  ExpectBad(std::string(5000, 'x') + "\n", "over 4096 bytes");
}

TEST(BootStatus, WritesAtomicallyAndCreatesTheDirectory) {
  testutil::TempDir dir;
  std::string path = dir / "run/initos/status";
  ASSERT_TRUE(WriteBootStatus(path, Sample()).ok());
  auto text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  auto s = ParseBootStatus(*text);
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(*s, Sample());
  struct stat st {};
  EXPECT_NE(::stat((path + ".tmp").c_str(), &st), 0) << "temp file left behind";

  BootStatus next = Sample();
  next.version = 8;
  ASSERT_TRUE(WriteBootStatus(path, next).ok());
  EXPECT_EQ(ParseBootStatus(*ReadFileToString(path))->version, 8u);
}

TEST(BootStatus, RefusesToWriteAnInvalidRecord) {
  testutil::TempDir dir;
  BootStatus s = Sample();
  s.mode = "bogus";
  EXPECT_FALSE(WriteBootStatus(dir / "status", s).ok());
  struct stat st {};
  EXPECT_NE(::stat((dir / "status").c_str(), &st), 0);
}

TEST(BootStatus, BootTimeAdvances) {
  double a = BootTimeSeconds();
  EXPECT_GT(a, 0);
  EXPECT_GE(BootTimeSeconds(), a);
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// rootfs.slots: the booted slot rides along (the CLI's "not booted" slot).
TEST(BootStatusSlot, RoundTripsAndIsOptional) {
  BootStatus s;
  s.image = "os";
  s.version = 2;
  s.root_hash = std::string(64, 'b');
  s.source = "PARTLABEL=os-b";
  s.initos_version = "0.1.0";
  s.slot = "b";
  std::string text = SerializeBootStatus(s);
  EXPECT_NE(text.find("\nslot=b\n"), std::string::npos);
  auto back = ParseBootStatus(text);
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(*back, s);
  s.slot.clear();
  EXPECT_EQ(SerializeBootStatus(s).find("slot="), std::string::npos);
  EXPECT_FALSE(ParseBootStatus(text + "slot=a\n").ok());  // repeated
  std::string bad = text;
  bad.replace(bad.find("slot=b"), 6, "slot=c");
  EXPECT_FALSE(ParseBootStatus(bad).ok());
}

}  // namespace
}  // namespace initos
