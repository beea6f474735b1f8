#include "cli/status_cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

// A /proc/PID/stat line; comm may hold spaces and parentheses.
std::string Stat(const std::string& comm, uint64_t starttime) {
  std::string s = "42 (" + comm + ") S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 ";
  return s + std::to_string(starttime) + " 12345678 300 18446744073709551615 1 1 0 0 0 0\n";
}

TEST(StatusParse, StartTimeIsField22) {
  EXPECT_EQ(ParseStatStartTime(Stat("initos", 1700)), 1700u);
  EXPECT_EQ(ParseStatStartTime(Stat("a b) S 9 (c", 55)), 55u);
  EXPECT_FALSE(ParseStatStartTime("42 (x) S 1 2 3\n"));
  EXPECT_FALSE(ParseStatStartTime("no paren"));
  std::string bad = Stat("x", 1);
  bad.replace(bad.find(" 1 12345678"), 2, " z");
  EXPECT_FALSE(ParseStatStartTime(bad));
}

TEST(StatusParse, Uptime) {
  EXPECT_DOUBLE_EQ(*ParseUptimeSeconds("12345.67 2345.89\n"), 12345.67);
  EXPECT_DOUBLE_EQ(*ParseUptimeSeconds("3.5"), 3.5);
  EXPECT_FALSE(ParseUptimeSeconds(""));
  EXPECT_FALSE(ParseUptimeSeconds("-1 2\n"));
  EXPECT_FALSE(ParseUptimeSeconds("abc 2\n"));
}

TEST(StatusParse, SidecarCmdline) {
  EXPECT_TRUE(IsSidecarCmdline(std::string("@initos-sidecar\0sidecar\0--sshd\0", 32)));
  EXPECT_TRUE(IsSidecarCmdline("@initos-sidecar"));
  EXPECT_FALSE(IsSidecarCmdline(std::string("@sshd\0-D\0", 9)));
  EXPECT_FALSE(IsSidecarCmdline(std::string("/usr/lib/initos/initos\0@initos-sidecar\0", 39)));
  EXPECT_FALSE(IsSidecarCmdline(""));
}

TEST(StatusParse, Durations) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(42.9), "42s");
  EXPECT_EQ(FormatDuration(83), "1m23s");
  EXPECT_EQ(FormatDuration(3600 * 2 + 3 * 60 + 4), "2h03m04s");
  EXPECT_EQ(FormatDuration(86400 * 3 + 4 * 3600 + 5 * 60 + 6), "3d04h05m06s");
  EXPECT_EQ(FormatDuration(-5), "0s");
}

// A fake root: the record and a /proc with a sidecar started 17 s after
// boot, 100 s of uptime -> 83 s.
class StatusRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    BootStatus s;
    s.image = "debian";
    s.version = 3;
    s.root_hash = std::string(64, 'c');
    s.mode = "switch-root";
    s.source = "PARTLABEL=debian";
    s.initos_version = "0.1.0";
    s.booted_at = 4.25;
    s.measured = "pcr11";
    s.measured_event = std::string(64, 'e');
    s.measured_pcr = std::string(64, '9');
    s.secure_boot = "off (setup mode), firmware: EDK II 1.00";
    status_ = s;
    ASSERT_TRUE(MakeDirs(dir_ / "proc/77").ok());
    ASSERT_TRUE(MakeDirs(dir_ / "proc/78").ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "proc/uptime", "100.00 150.00\n").ok());
    long hz = ::sysconf(_SC_CLK_TCK);
    ASSERT_TRUE(
        WriteStringToFile(dir_ / "proc/77/cmdline", std::string("@initos-sidecar\0sidecar\0", 24))
            .ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "proc/77/stat", Stat("initos", 17 * hz)).ok());
    // sshd started later: not the sidecar.
    ASSERT_TRUE(WriteStringToFile(dir_ / "proc/78/cmdline", std::string("@sshd\0-D\0", 9)).ok());
    ASSERT_TRUE(WriteStringToFile(dir_ / "proc/78/stat", Stat("sshd", 90 * hz)).ok());
  }
  testutil::RunResult Run(std::vector<std::string> args) {
    std::vector<std::string> argv = {INITOS_BINARY, "status", "--root", dir_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testutil::RunProgram(argv);
  }
  testutil::TempDir dir_;
  BootStatus status_;
};

TEST_F(StatusRoot, SidecarUptimeFromProc) {
  auto up = SidecarUptime(dir_ / "proc", ::sysconf(_SC_CLK_TCK));
  ASSERT_TRUE(up);
  EXPECT_NEAR(*up, 83.0, 0.01);
  ASSERT_TRUE(WriteStringToFile(dir_ / "proc/77/cmdline", "other").ok());
  EXPECT_FALSE(SidecarUptime(dir_ / "proc", ::sysconf(_SC_CLK_TCK)));
}

TEST_F(StatusRoot, PrintsTheRecordFromRun) {
  ASSERT_TRUE(WriteBootStatus(dir_ / "run/initos/status", status_).ok());
  auto r = Run({});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "image: debian\nversion: 3\nroot hash: " + std::string(64, 'c') +
                       "\nsource: PARTLABEL=debian\nmode: switch-root\nverification: verified\n"
                       "secure boot: off (setup mode), firmware: EDK II 1.00\ninitos: 0.1.0\n"
                       "measured boot: PCR 11, event sha256:" +
                       std::string(64, 'e') + ", PCR 11 " + std::string(64, '9') +
                       "\n"
                       "sidecar uptime: 1m23s\n");
}

TEST_F(StatusRoot, PrintsJson) {
  ASSERT_TRUE(WriteBootStatus(dir_ / "run/initos/status", status_).ok());
  auto r = Run({"--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"image\": \"debian\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"version\": 3,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"root_hash\": \"" + std::string(64, 'c') + "\""), std::string::npos);
  EXPECT_NE(r.out.find("\"mode\": \"switch-root\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"sidecar_uptime_s\": 83,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"trust\": \"verified\","), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"secure_boot\": \"off (setup mode), firmware: EDK II 1.00\","),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"measured\": \"pcr11\",\n  \"measured_event\": \"" + std::string(64, 'e') +
                       "\",\n  \"measured_pcr\": \"" + std::string(64, '9') + "\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"record\": \"" + dir_.path() + "/run/initos/status\""), std::string::npos)
      << r.out;
}

// In the sidecar, /sysroot/run/initos/status is the OS's file, which root in
// the OS can rewrite: status reads only the sidecar's own copy.
TEST_F(StatusRoot, NeverReadsTheOsRecordUnderSysroot) {
  BootStatus forged = status_;
  forged.image = "forged";
  forged.root_hash = std::string(64, 'f');
  ASSERT_TRUE(WriteBootStatus(dir_ / "sysroot/run/initos/status", forged).ok());
  auto none = Run({});
  EXPECT_EQ(none.status, 1) << none.out;
  EXPECT_EQ(none.out.find("forged"), std::string::npos) << none.out;
  ASSERT_TRUE(WriteBootStatus(dir_ / "run/initos/status", status_).ok());
  auto r = Run({});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("image: debian\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("forged"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(std::string(64, 'f')), std::string::npos) << r.out;
}

TEST_F(StatusRoot, NoRecordIsOneClearLine) {
  auto r = Run({});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "initos status: no boot record at " + dir_.path() +
                       "/run/initos/status: is this an InitOS machine?\n");
}

TEST_F(StatusRoot, DamagedRecordIsNamed) {
  ASSERT_TRUE(MakeDirs(dir_ / "run/initos").ok());
  ASSERT_TRUE(WriteStringToFile(dir_ / "run/initos/status", "image=debian\n").ok());
  auto r = Run({});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(dir_.path() + "/run/initos/status: boot status record lacks"),
            std::string::npos)
      << r.err;
}

TEST_F(StatusRoot, NoImageAndNoSidecar) {
  BootStatus none;
  none.initos_version = "0.1.0";
  none.secure_boot = "unknown (no EFI firmware)";
  none.trust = "development";
  ASSERT_TRUE(WriteBootStatus(dir_ / "run/initos/status", none).ok());
  ASSERT_TRUE(WriteStringToFile(dir_ / "proc/77/cmdline", "sh").ok());
  auto r = Run({});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "image: none\nmode: run\nverification: DEVELOPMENT MODE (rootfs.insecure-dev-mode): "
            "images no trusted key signed boot too; never ship this\nsecure boot: unknown (no EFI "
            "firmware)\ninitos: 0.1.0\nmeasured boot: nothing measured (no verified "
            "root)\nsidecar uptime: not running\n");
  none.measured = "no-tpm";
  ASSERT_TRUE(WriteBootStatus(dir_ / "run/initos/status", none).ok());
  r = Run({});
  EXPECT_NE(r.out.find("measured boot: no TPM, boot not measured\n"), std::string::npos) << r.out;
}

TEST(StatusCli, UnknownArgument) {
  auto r = testutil::RunProgram({INITOS_BINARY, "status", "--bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option '--bogus'"), std::string::npos) << r.err;
}

TEST(LogsCli, FiltersInitosLinesFromSavedRecords) {
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir / "kmsg",
                                "6,1,1000,-;Linux version 6.1.0\n"
                                "14,2,4630123,-;initos: stage rootfs done t=4.630000\n"
                                " SUBSYSTEM=x\n"
                                "30,3,9000000,-;initos-sidecar: sshd started (pid 9)\n"
                                "garbage line\n")
                  .ok());
  auto r = testutil::RunProgram({INITOS_BINARY, "logs", "--kmsg", dir / "kmsg"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "[    4.630123] initos: stage rootfs done t=4.630000\n"
            "[    9.000000] initos-sidecar: sshd started (pid 9)\n");
  auto all = testutil::RunProgram({INITOS_BINARY, "logs", "--all", "--kmsg", dir / "kmsg"});
  EXPECT_EQ(all.status, 0) << all.err;
  EXPECT_EQ(all.out.find("[    0.001000] Linux version 6.1.0\n"), 0u) << all.out;
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 3);
}

TEST(LogsCli, UnreadableLogIsOneLine) {
  auto r = testutil::RunProgram({INITOS_BINARY, "logs", "--kmsg", "/nonexistent/kmsg"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("initos logs: cannot read the kernel log:"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

// The real /dev/kmsg, when this user may read it: non-blocking, so it ends.
TEST(LogsCli, RealKmsgTerminates) {
  if (::access("/dev/kmsg", R_OK) != 0) GTEST_SKIP() << "/dev/kmsg not readable";
  auto r = testutil::RunProgram({INITOS_BINARY, "logs", "--all"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty() || r.out[0] == '[') << r.out.substr(0, 200);
}

}  // namespace
}  // namespace initos

namespace initos {
namespace {

// `initos analyze` on a real console capture, and on the same boot's lines
// as saved /dev/kmsg records, gives the timeline and the SVG.
TEST(AnalyzeCli, ConsoleCaptureAndKmsgRecordsGiveTheTimeline) {
  testutil::TempDir dir;
  const std::string log =
      std::string(INITOS_SOURCE_DIR) + "/format/testdata/boot_logs/run-main.log";
  auto r = testutil::RunProgram({INITOS_BINARY, "analyze", log, "--svg", dir / "boot.svg"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("kernel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage rootfs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("main program started"), std::string::npos) << r.out;
  auto svg = ReadFileToString(dir / "boot.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_TRUE(svg->ends_with("</svg>\n"));

  ASSERT_TRUE(WriteStringToFile(dir / "kmsg",
                                "6,1,1644502,-;Run /init as init process\n"
                                "14,2,1709570,-;initos: initos 0.1.0 init starting t=1.675803\n"
                                "14,3,1709808,-;initos: stage early done t=1.682106\n"
                                "14,4,1729311,-;initos: starting main: /bin/sh t=1.712854\n")
                  .ok());
  auto k = testutil::RunProgram({INITOS_BINARY, "analyze", dir / "kmsg"});
  ASSERT_EQ(k.status, 0) << k.err;
  EXPECT_NE(k.out.find("stage early"), std::string::npos) << k.out;
  EXPECT_NE(k.out.find("main program started        1.713"), std::string::npos) << k.out;

  auto bad = testutil::RunProgram({INITOS_BINARY, "analyze", dir / "boot.svg"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("no 'Run /init as init process' line"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace initos
