#include "image/sb_keys.h"

#include <gtest/gtest.h>

#include <algorithm>

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

}  // namespace
}  // namespace initos
