#include "format/efi_vars.h"

#include <gtest/gtest.h>

namespace initos {
namespace {

// efivarfs attribute word: NV | BS | RT (0x7), little-endian.
const std::string kAttrs("\x07\x00\x00\x00", 4);

std::string Bool(unsigned char v) {
  return kAttrs + std::string(1, static_cast<char>(v));
}

// ASCII text as NUL-terminated UTF-16LE after the attribute word.
std::string Utf16(std::string_view ascii) {
  std::string out = kAttrs;
  for (char c : ascii) {
    out.push_back(c);
    out.push_back('\0');
  }
  out += std::string("\0\0", 2);
  return out;
}

std::string SbName() {
  return EfiVarFileName("SecureBoot", kEfiGlobalGuid);
}
std::string SmName() {
  return EfiVarFileName("SetupMode", kEfiGlobalGuid);
}
std::string LoaderName(std::string_view n) {
  return EfiVarFileName(n, kLoaderGuid);
}

EfiVarFile Present(std::string content) {
  EfiVarFile f;
  f.present = true;
  f.content = std::move(content);
  return f;
}

EfiVarsInput Efi() {
  EfiVarsInput in;
  in.efi_firmware = true;
  return in;
}

TEST(EfiVars, FileNames) {
  EXPECT_EQ(SbName(), "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c");
  EXPECT_EQ(LoaderName("StubInfo"), "StubInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
  auto names = EfiBootVarFileNames();
  EXPECT_EQ(names.size(), 6u);
  EXPECT_NE(std::find(names.begin(), names.end(), LoaderName("LoaderEntrySelected")), names.end());
}

TEST(EfiVars, BoolDecodes) {
  auto on = ParseEfiBool(Bool(1));
  ASSERT_TRUE(on.ok()) << on.error().str();
  EXPECT_TRUE(*on);
  auto off = ParseEfiBool(Bool(0));
  ASSERT_TRUE(off.ok()) << off.error().str();
  EXPECT_FALSE(*off);
}

TEST(EfiVars, BoolGarbageIsAnError) {
  EXPECT_FALSE(ParseEfiBool("").ok());
  EXPECT_FALSE(ParseEfiBool(kAttrs).ok());                      // no data byte
  EXPECT_FALSE(ParseEfiBool(std::string("\x07\x00", 2)).ok());  // short file
  EXPECT_FALSE(ParseEfiBool(Bool(1) + "x").ok());               // two data bytes
  auto two = ParseEfiBool(Bool(2));
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().str().find("data byte is 2"), std::string::npos) << two.error().str();
}

TEST(EfiVars, StringDecodes) {
  auto s = ParseEfiString(Utf16("systemd-stub 252.39-1~deb12u1"));
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(*s, "systemd-stub 252.39-1~deb12u1");
  auto empty = ParseEfiString(Utf16(""));
  ASSERT_TRUE(empty.ok()) << empty.error().str();
  EXPECT_EQ(*empty, "");
  // U+00E9 (2 bytes UTF-8), U+20AC (3 bytes), U+1F600 as a surrogate pair.
  std::string wide = kAttrs + std::string("\xe9\x00\xac\x20\x3d\xd8\x00\xde\x00\x00", 10);
  auto w = ParseEfiString(wide);
  ASSERT_TRUE(w.ok()) << w.error().str();
  EXPECT_EQ(*w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

void ExpectStringError(const std::string& content, const std::string& needle) {
  auto s = ParseEfiString(content);
  ASSERT_FALSE(s.ok()) << "decoded as \"" << *s << "\"";
  EXPECT_NE(s.error().str().find(needle), std::string::npos) << s.error().str();
}

TEST(EfiVars, StringGarbageIsAnError) {
  ExpectStringError("", "less than the 4 attribute bytes");
  ExpectStringError(std::string("\x07\x00\x00", 3), "less than the 4 attribute bytes");
  ExpectStringError(kAttrs, "not NUL-terminated");  // no data at all
  ExpectStringError(Utf16("abc").substr(0, 4 + 7), "odd UTF-16 length 7");
  ExpectStringError(Utf16("abc").substr(0, 4 + 6), "not NUL-terminated");
  ExpectStringError(kAttrs + std::string("a\0\0\0b\0\0\0", 8), "NUL at character 1");
  ExpectStringError(kAttrs + std::string("\x00\xdc\x00\x00", 4), "unpaired low surrogate");
  ExpectStringError(kAttrs + std::string("\x00\xd8"
                                         "a\0\0\0",
                                         6),
                    "unpaired high surrogate");
  ExpectStringError(kAttrs + std::string("\x00\xd8\x00\x00", 4), "unpaired high surrogate");
  ExpectStringError(Utf16("a\x1b[2Jb"), "control character 27");
  ExpectStringError(Utf16(std::string(kMaxEfiString, 'a')), "more than 1024");
}

TEST(EfiVars, NoFirmwareIsUnknown) {
  EfiVarsInput in;  // efi_firmware = false
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_FALSE(info.efi);
  EXPECT_EQ(info.secure_boot, SecureBootState::kUnknown);
  EXPECT_EQ(EfiBootSummary(info), "unknown (no EFI firmware)");
}

TEST(EfiVars, UnreadableEfivarfsIsUnknown) {
  EfiVarsInput in = Efi();
  in.efivarfs_problem = "module efivarfs is not in the initramfs";
  in.vars[SbName()] = Present(Bool(1));  // never trusted without a readable efivarfs
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_TRUE(info.efi);
  EXPECT_EQ(info.secure_boot, SecureBootState::kUnknown);
  EXPECT_EQ(EfiBootSummary(info), "unknown (efivarfs: module efivarfs is not in the initramfs)");
}

TEST(EfiVars, SecureBootOnWithStub) {
  EfiVarsInput in = Efi();
  in.vars[SbName()] = Present(Bool(1));
  in.vars[SmName()] = Present(Bool(0));
  in.vars[LoaderName("StubInfo")] = Present(Utf16("systemd-stub 252.39-1~deb12u1"));
  in.vars[LoaderName("LoaderImageIdentifier")] = Present(Utf16("\\EFI\\BOOT\\BOOTX64.EFI"));
  in.vars[LoaderName("LoaderFirmwareInfo")] = Present(Utf16("EDK II 1.00"));
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_EQ(info.secure_boot, SecureBootState::kOn);
  EXPECT_EQ(info.setup_mode, std::optional<bool>(false));
  EXPECT_EQ(info.stub_info, "systemd-stub 252.39-1~deb12u1");
  EXPECT_TRUE(info.problems.empty());
  EXPECT_EQ(EfiBootSummary(info),
            "on (user mode), stub: systemd-stub 252.39-1~deb12u1, image: "
            "\\EFI\\BOOT\\BOOTX64.EFI, firmware: EDK II 1.00");
}

TEST(EfiVars, SecureBootOffInSetupModeWithLoaderEntry) {
  EfiVarsInput in = Efi();
  in.vars[SbName()] = Present(Bool(0));
  in.vars[SmName()] = Present(Bool(1));
  in.vars[LoaderName("LoaderEntrySelected")] = Present(Utf16("initos-b.conf"));
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_EQ(info.secure_boot, SecureBootState::kOff);
  EXPECT_EQ(info.loader_entry, "initos-b.conf");
  EXPECT_EQ(EfiBootSummary(info), "off (setup mode), entry: initos-b.conf");
}

TEST(EfiVars, FirmwareWithoutSecureBootIsOff) {
  EfiVarsInput in = Efi();
  in.vars[SbName()] = EfiVarFile{};  // looked up, ENOENT
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_EQ(info.secure_boot, SecureBootState::kOff);
  EXPECT_EQ(EfiBootSummary(info), "off (firmware without Secure Boot)");
}

TEST(EfiVars, GarbageSecureBootIsUnknownWithTheReason) {
  EfiVarsInput in = Efi();
  in.vars[SbName()] = Present(std::string("\x07\x00\x00", 3));
  in.vars[SmName()] = Present(Bool(0));
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_EQ(info.secure_boot, SecureBootState::kUnknown);
  EXPECT_EQ(EfiBootSummary(info),
            "unknown (SecureBoot: holds 3 bytes, expected 5 (4 attribute bytes and one data "
            "byte))");

  in.vars[SbName()] = Present(Bool(0x80));
  EXPECT_EQ(EfiBootSummary(DecodeEfiBoot(in)),
            "unknown (SecureBoot: data byte is 128, expected 0 or 1)");

  EfiVarFile unreadable;
  unreadable.present = true;
  unreadable.error = "read: Input/output error";
  in.vars[SbName()] = unreadable;
  EXPECT_EQ(EfiBootSummary(DecodeEfiBoot(in)), "unknown (SecureBoot: read: Input/output error)");
}

TEST(EfiVars, UnreadableSetupModeIsSaid) {
  EfiVarsInput in = Efi();
  in.vars[SbName()] = Present(Bool(1));
  in.vars[SmName()] = Present("junk");
  EXPECT_EQ(EfiBootSummary(DecodeEfiBoot(in)), "on (setup mode unknown)");
}

TEST(EfiVars, GarbageStubVariablesAreProblemsNotCrashes) {
  EfiVarsInput in = Efi();
  in.vars[SbName()] = Present(Bool(1));
  in.vars[SmName()] = Present(Bool(0));
  in.vars[LoaderName("StubInfo")] = Present(Utf16("abc").substr(0, 4 + 5));
  in.vars[LoaderName("LoaderEntrySelected")] = Present(kAttrs + std::string("\x00\xdc\0\0", 4));
  EfiBootInfo info = DecodeEfiBoot(in);
  EXPECT_EQ(info.secure_boot, SecureBootState::kOn);
  ASSERT_EQ(info.problems.size(), 2u);
  EXPECT_EQ(info.problems[0], "StubInfo: odd UTF-16 length 5");
  EXPECT_NE(info.problems[1].find("LoaderEntrySelected: has an unpaired low surrogate"),
            std::string::npos);
  EXPECT_EQ(EfiBootSummary(info), "on (user mode)");
}

TEST(EfiVars, SummaryIsPrintableAscii) {
  EfiBootInfo info;
  info.efi = true;
  info.secure_boot = SecureBootState::kOn;
  info.setup_mode = false;
  info.firmware_info = "F\xc3\xa9rmware";  // decoded from U+00E9
  EXPECT_EQ(EfiBootSummary(info), "on (user mode), firmware: F??rmware");
}

// Every length of every prefix of a valid variable, and every byte value
// at every position: decoding returns, whatever the content.
TEST(EfiVars, NeverCrashesOnMutations) {
  std::string good = Utf16("systemd-stub 252");
  for (size_t n = 0; n <= good.size(); ++n) {
    (void)ParseEfiString(good.substr(0, n));
    (void)ParseEfiBool(good.substr(0, n));
  }
  for (size_t i = 0; i < good.size(); ++i)
    for (int b = 0; b < 256; ++b) {
      std::string m = good;
      m[i] = static_cast<char>(b);
      auto s = ParseEfiString(m);
      if (s.ok()) EXPECT_LE(s->size(), 3 * good.size());
    }
}

}  // namespace
}  // namespace initos
