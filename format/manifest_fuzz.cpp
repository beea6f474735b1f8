// libFuzzer target for the untrusted-input parsers of a bundle: the header
// area and the manifest. Built only with clang; run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/manifest.h"
#include "image/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (size < 8) return 0;
  // The first 8 bytes pick a device size, so layout checks see all shapes.
  uint64_t device_size = 0;
  for (int i = 0; i < 8; ++i) device_size |= uint64_t{data[i]} << (8 * i);
  std::string_view rest = in.substr(8);

  auto m = initos::ParseManifest(rest, {initos::kBundleHeaderAreaSize, device_size});
  if (m.ok()) {
    // Canonical form must re-parse to the same manifest, byte-stably.
    std::string text = initos::SerializeManifest(*m);
    auto again = initos::ParseManifest(text, {initos::kBundleHeaderAreaSize, device_size});
    if (!again.ok() || !(*again == *m) || initos::SerializeManifest(*again) != text)
      __builtin_trap();
  }

  // Zero-extend short inputs to a full header area so small seeds reach the
  // manifest/signature checks.
  std::string padded(rest);
  if (padded.size() < initos::kBundleHeaderAreaSize) padded.resize(initos::kBundleHeaderAreaSize);
  auto h = initos::ParseBundleHeader(padded, device_size);
  if (h.ok()) {
    auto area = initos::EncodeBundleHeader(h->manifest, h->signature);
    if (!area.ok() || *area != padded.substr(0, initos::kBundleHeaderAreaSize)) __builtin_trap();
  }
  return 0;
}
