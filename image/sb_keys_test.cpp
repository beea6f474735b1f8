#include "image/sb_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/file.h"
#include "base/testing/test_util.h"
#include "image/sb_enrol.h"

namespace initos {
namespace {

using Argv = std::vector<std::string>;

SbKeysInput Input() {
  SbKeysInput in;
  in.dir = "/o";
  in.owner_name = "Acme";
  in.guid = "12345678-9abc-4def-8123-456789abcdef";
  return in;
}

size_t IndexOf(const std::vector<Argv>& plan, const Argv& argv) {
  auto it = std::find(plan.begin(), plan.end(), argv);
  EXPECT_NE(it, plan.end()) << argv[0] << " " << argv.back();
  return static_cast<size_t>(it - plan.begin());
}

TEST(SbKeysPlan, SignsPkAndKekWithPkAndDbWithKek) {
  auto plan = PlanSbKeys(Input());
  const std::string g = "12345678-9abc-4def-8123-456789abcdef";
  size_t pk = IndexOf(plan, {"sign-efi-sig-list", "-g", g, "-k", "/o/PK.key", "-c", "/o/PK.crt",
                             "PK", "/o/PK.esl", "/o/PK.auth"});
  size_t kek = IndexOf(plan, {"sign-efi-sig-list", "-g", g, "-k", "/o/PK.key", "-c", "/o/PK.crt",
                              "KEK", "/o/KEK.esl", "/o/KEK.auth"});
  size_t db = IndexOf(plan, {"sign-efi-sig-list", "-g", g, "-k", "/o/KEK.key", "-c", "/o/KEK.crt",
                             "db", "/o/db.esl", "/o/db.auth"});
  // Every update is signed after every key exists.
  size_t last_list = IndexOf(plan, {"cert-to-efi-sig-list", "-g", g, "/o/db.crt", "/o/db.esl"});
  EXPECT_GT(std::min({pk, kek, db}), last_list);
  EXPECT_EQ(plan.size(), 3u * 4 + 3);
}

TEST(SbKeysPlan, MakesRsa2048KeysAndSelfSignedCertificatesNamedAfterTheOwner) {
  auto plan = PlanSbKeys(Input());
  size_t key = IndexOf(plan, {"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt",
                              "rsa_keygen_bits:2048", "-out", "/o/KEK.key"});
  size_t crt = IndexOf(plan, {"openssl", "req", "-new", "-x509", "-key", "/o/KEK.key", "-sha256",
                              "-days", "3650", "-subj", "/CN=Acme KEK/", "-out", "/o/KEK.crt"});
  size_t cer = IndexOf(
      plan, {"openssl", "x509", "-in", "/o/KEK.crt", "-outform", "DER", "-out", "/o/KEK.cer"});
  size_t esl = IndexOf(plan, {"cert-to-efi-sig-list", "-g", "12345678-9abc-4def-8123-456789abcdef",
                              "/o/KEK.crt", "/o/KEK.esl"});
  EXPECT_LT(key, crt);
  EXPECT_LT(crt, cer);
  EXPECT_LT(crt, esl);
}

TEST(SbKeysPlan, SubjectEscapesOpensslSeparators) {
  EXPECT_EQ(SubjectArg("a/b+c=d\\e"), "/CN=a\\/b\\+c\\=d\\\\e/");
}

TEST(SbKeysGuid, AcceptsOnlyLowerCase8_4_4_4_12) {
  EXPECT_TRUE(CheckGuid("12345678-9abc-4def-8123-456789abcdef").ok());
  EXPECT_FALSE(CheckGuid("12345678-9ABC-4def-8123-456789abcdef").ok());
  EXPECT_FALSE(CheckGuid("12345678-9abc-4def-8123-456789abcde").ok());
  EXPECT_FALSE(CheckGuid("12345678-9abc-4def-8123-456789abcdef0").ok());
  EXPECT_FALSE(CheckGuid("123456789abc-4def-8123-456789abcdef").ok());
  EXPECT_FALSE(CheckGuid("").ok());
}

TEST(SbKeysGuid, FromBytesIsAVersion4Guid) {
  unsigned char b[16];
  for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(0xff - i);
  std::string g = GuidFromBytes(b);
  EXPECT_EQ(g, "fffefdfc-fbfa-49f8-b7f6-f5f4f3f2f1f0");
  EXPECT_TRUE(CheckGuid(g).ok());
}

TEST(SbKeysEnrol, EfivarfsWriteIsAttributesThenAuth) {
  std::string w = EfivarfsWrite(std::string("AUTH\0X", 6));
  EXPECT_EQ(w, std::string("\x27\x00\x00\x00"
                           "AUTH\0X",
                           10));
}

TEST(SbKeysEnrol, ScriptWritesDbThenKekThenPkLastAndChecksSetupMode) {
  std::string s = EnrolInitScript("/efivarfs.ko");
  size_t ins = s.find("insmod /efivarfs.ko");
  size_t db = s.find("of=$E/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f bs=1M");
  size_t kek = s.find("of=$E/KEK-8be4df61-93ca-11d2-aa0d-00e098032b8c bs=1M");
  size_t pk = s.find("of=$E/PK-8be4df61-93ca-11d2-aa0d-00e098032b8c bs=1M");
  size_t marker = s.find(kEnrolledMarker);
  ASSERT_NE(ins, std::string::npos);
  ASSERT_NE(db, std::string::npos);
  ASSERT_NE(kek, std::string::npos);
  ASSERT_NE(pk, std::string::npos);
  ASSERT_NE(marker, std::string::npos);
  EXPECT_LT(ins, db);
  EXPECT_LT(db, kek);
  EXPECT_LT(kek, pk);
  EXPECT_LT(pk, marker);
  EXPECT_NE(s.find("[ \"$m\" = 0 ] || fail setup-mode=$m"), std::string::npos);
  // Built-in efivarfs: nothing to load.
  EXPECT_EQ(EnrolInitScript("").find("insmod"), std::string::npos);
}

TEST(SbKeysEnrol, ConsoleCheckNamesTheRefusedVariable) {
  EXPECT_TRUE(CheckEnrolConsole("x\r\nINITOS-SB-ENROLLED setup-mode=0\r\n").ok());
  auto kek = CheckEnrolConsole("INITOS-SB-FAILED KEK\r\n");
  ASSERT_FALSE(kek.ok());
  EXPECT_NE(kek.error().str().find("refused the KEK update"), std::string::npos)
      << kek.error().str();
  auto mode = CheckEnrolConsole("INITOS-SB-FAILED not-in-setup-mode=0\r\n");
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.error().str().find("already has a PK"), std::string::npos);
  auto silent = CheckEnrolConsole("BdsDxe: loading\r\nKernel panic - x\r\n\r\n");
  ASSERT_FALSE(silent.ok());
  EXPECT_NE(silent.error().str().find("last console line: \"Kernel panic - x\""), std::string::npos)
      << silent.error().str();
}

// ---- end to end through the real binary (openssl and efitools, no QEMU) ----

TEST(SbKeysEndToEnd, MakesKeysListsAndUpdatesAndNeverReplacesKeys) {
  testutil::TempDir t;
  const std::string guid = "0badc0de-1234-4567-89ab-cdef01234567";
  auto r = testutil::RunProgram({INITOS_BINARY, "image", "sb-keys", "-o", t / "o", "--guid", guid,
                                 "--owner-name", "Acme", "--no-vars"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  for (const char* k : {"PK", "KEK", "db"}) {
    for (const char* ext : {".key", ".crt", ".cer", ".esl", ".auth"}) {
      std::string f = t / "o/" + std::string(k) + ext;
      struct stat st;
      ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
      EXPECT_GT(st.st_size, 0) << f;
      if (std::string(ext) == ".key") {
        EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
      }
    }
    // The owner GUID is the signature owner in the list (EFI_GUID bytes:
    // the first three fields little endian).
    auto esl = ReadFileToString(t / "o/" + std::string(k) + ".esl");
    ASSERT_TRUE(esl.ok());
    EXPECT_NE(esl->find(std::string("\xde\xc0\xad\x0b\x34\x12\x67\x45\x89\xab", 10)),
              std::string::npos)
        << k;
  }
  auto g = ReadFileToString(t / "o/GUID.txt");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, guid + "\n");
  auto subject = testutil::RunProgram(
      {"openssl", "x509", "-in", t / "o/KEK.crt", "-noout", "-subject", "-issuer"});
  EXPECT_NE(subject.out.find("subject=CN = Acme KEK"), std::string::npos) << subject.out;
  EXPECT_NE(subject.out.find("issuer=CN = Acme KEK"), std::string::npos) << subject.out;
  EXPECT_EQ(::access((t / "o/OVMF_VARS.fd").c_str(), F_OK), -1);

  auto again =
      testutil::RunProgram({INITOS_BINARY, "image", "sb-keys", "-o", t / "o", "--no-vars"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(
      again.err.find("/o/db.key already exists; refusing to replace an owner key (use --force)"),
      std::string::npos)
      << again.err;
}

TEST(SbKeysEndToEnd, MissingFirmwareFailsWithOneLineBeforeAnyKeyIsMade) {
  testutil::TempDir t;
  auto r = testutil::RunProgram(
      {INITOS_BINARY, "image", "sb-keys", "-o", t / "o", "--vars-template", t / "none.fd"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "initos: image sb-keys: " + t / "none.fd" +
                       " is missing; install ovmf (scripts/setup.sh): No such file or directory\n");
  EXPECT_EQ(::access((t / "o").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace initos

// ---- the enrolment executor against a fake QEMU (no firmware involved) ----

namespace initos {
namespace {

struct FakeEnrol {
  testutil::TempDir t;
  SbEnrolOptions o;
  FakeEnrol(const std::string& qemu_script) {
    o.dir = t.path();
    for (const char* f : {"vars.fd", "code.fd", "vmlinuz-test", "busybox"})
      EXPECT_TRUE(WriteStringToFile(t / f, std::string("content of ") + f).ok());
    EXPECT_TRUE(MakeDirs(t / "modules").ok());
    EXPECT_TRUE(
        WriteStringToFile(t / "modules/modules.builtin", "kernel/fs/efivarfs/efivarfs.ko\n").ok());
    for (const char* k : {"PK", "KEK", "db"})
      EXPECT_TRUE(
          WriteStringToFile(t / (std::string(k) + ".auth"), std::string("auth of ") + k).ok());
    EXPECT_TRUE(
        WriteStringToFile(
            t / "qemu", "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/argv\"\n" + qemu_script, 0755)
            .ok());
    o.vars_template = t / "vars.fd";
    o.firmware_code = t / "code.fd";
    o.kernel = t / "vmlinuz-test";
    o.modules_root = t / "modules";
    o.busybox = t / "busybox";
    o.qemu = t / "qemu";
  }
};

TEST(SbEnrol, MarkerMakesTheVariablesFileFromTheTemplate) {
  FakeEnrol f("echo 'INITOS-SB-ENROLLED setup-mode=0'\n");
  auto r = EnrolOvmfVars(f.o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  auto vars = ReadFileToString(f.t / "OVMF_VARS.fd");
  ASSERT_TRUE(vars.ok());
  EXPECT_EQ(*vars, "content of vars.fd");  // the fake guest wrote nothing into it
  auto argv = ReadFileToString(f.t / "argv");
  ASSERT_TRUE(argv.ok());
  for (const std::string& want : std::vector<std::string>{
           "-M q35,smm=on", "driver=cfi.pflash01,property=secure,value=on",
           "if=pflash,format=raw,unit=0,readonly=on,file=" + f.t / "code.fd",
           "if=pflash,format=raw,unit=1,file=" + f.t / "OVMF_VARS.fd.tmp",
           "-kernel " + f.t / "vmlinuz-test", "-initrd " + f.t / "enrol-initramfs.cpio"})
    EXPECT_NE(argv->find(want), std::string::npos) << want << " in " << *argv;
  // Scratch files are gone; the console stays for the record.
  EXPECT_EQ(::access((f.t / "enrol-initramfs.cpio").c_str(), F_OK), -1);
  EXPECT_EQ(::access((f.t / "OVMF_VARS.fd.tmp").c_str(), F_OK), -1);
  EXPECT_EQ(::access((f.t / "enrol-console.log").c_str(), F_OK), 0);
}

TEST(SbEnrol, RefusedVariableLeavesNoVariablesFile) {
  FakeEnrol f("echo 'INITOS-SB-FAILED PK'\n");
  auto r = EnrolOvmfVars(f.o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("the firmware refused the PK update (PK.auth)"), std::string::npos)
      << r.error().str();
  EXPECT_EQ(::access((f.t / "OVMF_VARS.fd").c_str(), F_OK), -1);
  EXPECT_EQ(::access((f.t / "OVMF_VARS.fd.tmp").c_str(), F_OK), -1);
}

TEST(SbEnrol, SilentGuestTimesOutWithOneLine) {
  FakeEnrol f("exec sleep 30\n");
  f.o.timeout = std::chrono::seconds(1);
  auto r = EnrolOvmfVars(f.o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("did not finish within 1 s"), std::string::npos)
      << r.error().str();
  EXPECT_NE(r.error().str().find("raise --timeout"), std::string::npos) << r.error().str();
  EXPECT_EQ(r.error().str().find('\n'), std::string::npos) << r.error().str();
  EXPECT_EQ(::access((f.t / "OVMF_VARS.fd").c_str(), F_OK), -1);
}

TEST(SbEnrol, KernelWithoutEfivarfsIsNamed) {
  FakeEnrol f("true\n");
  ASSERT_TRUE(WriteStringToFile(f.t / "modules/modules.builtin", "kernel/fs/ext4/ext4.ko\n").ok());
  auto r = EnrolOvmfVars(f.o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("efivarfs is neither built into the kernel nor at"),
            std::string::npos)
      << r.error().str();
}

}  // namespace
}  // namespace initos
