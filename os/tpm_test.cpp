#include "os/tpm.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "base/file.h"
#include "base/testing/test_util.h"

namespace initos {
namespace {

TEST(Tpm, NoDeviceIsNotAnError) {
  testutil::TempDir dir;
  auto t = OpenTpm(dir.path());
  ASSERT_TRUE(t.ok()) << t.error().str();
  EXPECT_FALSE(t->has_value());
}

TEST(Tpm, PrefersTheResourceManager) {
  testutil::TempDir dir;
  ASSERT_TRUE(WriteStringToFile(dir.path() + "/tpm0", "").ok());
  auto t = OpenTpm(dir.path());
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->path, dir.path() + "/tpm0");
  ASSERT_TRUE(WriteStringToFile(dir.path() + "/tpmrm0", "").ok());
  t = OpenTpm(dir.path());
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->path, dir.path() + "/tpmrm0");
}

// A fake TPM on the other end of a socket pair: checks the command it gets
// and answers like a TPM (a datagram per response, as the kernel does).
TpmDevice FakeTpm(std::thread& th, std::vector<uint8_t> expect, std::vector<uint8_t> answer,
                  bool* matched) {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  th = std::thread([fd = sv[1], expect, answer, matched] {
    std::vector<uint8_t> got(4096);
    ssize_t n = ::read(fd, got.data(), got.size());
    got.resize(n > 0 ? static_cast<size_t>(n) : 0);
    *matched = got == expect;
    (void)!::write(fd, answer.data(), answer.size());
    ::close(fd);
  });
  return TpmDevice{unique_fd(sv[0]), "fake-tpm"};
}

TEST(Tpm, PcrReadRoundTrip) {
  Sha256Digest v;
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(0xa0 + i);
  std::vector<uint8_t> answer = {0x80, 0x01, 0, 0, 0,    62, 0, 0,    0, 0, 0, 0, 0, 1, 0,
                                 0,    0,    1, 0, 0x0b, 3,  0, 0x08, 0, 0, 0, 0, 1, 0, 32};
  answer.insert(answer.end(), v.begin(), v.end());
  std::thread th;
  bool matched = false;
  TpmDevice tpm = FakeTpm(th, MarshalPcrRead(11), answer, &matched);
  auto r = TpmPcrRead(tpm, 11);
  th.join();
  EXPECT_TRUE(matched);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, v);
}

TEST(Tpm, PcrExtendErrorNamesDeviceAndCode) {
  Sha256Digest d{};
  std::thread th;
  bool matched = false;
  TpmDevice tpm =
      FakeTpm(th, MarshalPcrExtend(11, d), {0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01}, &matched);
  auto r = TpmPcrExtend(tpm, 11, d);
  th.join();
  EXPECT_TRUE(matched);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error().str(),
      "fake-tpm: TPM2_PCR_Extend failed: TPM_RC_FAILURE (the TPM is in failure mode) (0x101)");
}

}  // namespace
}  // namespace initos
