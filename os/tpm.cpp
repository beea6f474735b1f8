#include "os/tpm.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"

namespace initos {
inline namespace os {
namespace {

// TPM 2.0 responses are at most 4096 bytes (the kernel's TPM_BUFSIZE).
constexpr size_t kMaxResponse = 4096;

}  // namespace

Result<std::optional<TpmDevice>> OpenTpm(const std::string& dev_dir) {
  for (const char* name : {"tpmrm0", "tpm0"}) {
    std::string path = dev_dir + "/" + name;
    auto fd = OpenFile(path, O_RDWR);
    if (fd.ok()) return std::optional<TpmDevice>(TpmDevice{std::move(*fd), path});
    if (fd.error().code != ENOENT && fd.error().code != ENODEV && fd.error().code != ENXIO)
      return fd.error();
  }
  return std::optional<TpmDevice>();
}

Result<std::vector<uint8_t>> TpmTransmit(const TpmDevice& tpm, const std::vector<uint8_t>& cmd) {
  ssize_t n;
  do {
    n = ::write(tpm.fd.get(), cmd.data(), cmd.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError() << "write a TPM command to " << tpm.path;
  if (static_cast<size_t>(n) != cmd.size())
    return Err() << "write a TPM command to " << tpm.path << ": " << n << " of " << cmd.size()
                 << " bytes taken";
  std::vector<uint8_t> response(kMaxResponse);
  do {
    n = ::read(tpm.fd.get(), response.data(), response.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError() << "read the TPM's response from " << tpm.path;
  response.resize(static_cast<size_t>(n));
  return response;
}

Result<void> TpmPcrExtend(const TpmDevice& tpm, uint32_t pcr, const Sha256Digest& digest) {
  auto response = TpmTransmit(tpm, MarshalPcrExtend(pcr, digest));
  if (!response.ok()) return response.error();
  auto r = ParsePcrExtendResponse(*response);
  if (!r.ok()) return Err() << tpm.path << ": " << r.error().str();
  return {};
}

Result<Sha256Digest> TpmPcrRead(const TpmDevice& tpm, uint32_t pcr) {
  auto response = TpmTransmit(tpm, MarshalPcrRead(pcr));
  if (!response.ok()) return response.error();
  auto v = ParsePcrReadResponse(*response, pcr);
  if (!v.ok()) return Err() << tpm.path << ": " << v.error().str();
  return *v;
}

}  // namespace os
}  // namespace initos
