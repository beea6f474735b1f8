#include <fcntl.h>

#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/options.h"
#include "format/measurement.h"
#include "format/signing.h"
#include "image/bundle.h"
#include "image/image_cli.h"

namespace initos {
inline namespace image {
namespace {

constexpr const char kPcrUsage[] =
    "usage: initos image pcr [--uki UKI.efi] [--bundle BUNDLE [--key signing.pub]...]\n"
    "                        [--value-only]\n"
    "\n"
    "Computes the SHA-256 PCR 11 value a TPM holds after booting UKI.efi (what\n"
    "systemd-stub 252 measures: its .linux .osrel .cmdline .initrd .splash .dtb\n"
    ".pcrpkey sections) and then BUNDLE as root (the initos-bundle event PID 1\n"
    "extends), replayed from 32 zero bytes; prints every extend. Without --uki:\n"
    "a direct kernel boot (no stub measurements); without --bundle: the UKI part\n"
    "alone (what `systemd-measure calculate` prints). With --key the bundle's\n"
    "signature and every block are verified first; without, its manifest is\n"
    "read unverified. See docs/measured-boot.md.\n"
    "  --value-only   print only the final value (lowercase hex)\n";

int Usage(const std::string& error) {
  std::fprintf(stderr, "initos image pcr: %s\n%s", error.c_str(), kPcrUsage);
  return 2;
}

int Fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "initos image pcr: %s: %s\n", what.c_str(), e.str().c_str());
  return 1;
}

struct BundleId {
  std::string name;
  uint64_t version = 0;
  std::string root_hash;
};

Result<BundleId> ReadBundleId(const std::string& path, const std::vector<std::string>& key_paths) {
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.error();
  if (key_paths.empty()) {
    auto b = ReadBundle(fd->get());
    if (!b.ok()) return b.error();
    return BundleId{b->manifest.name, b->manifest.version, b->manifest.root_hash};
  }
  std::vector<SigningKey> keys;
  for (const auto& k : key_paths) {
    auto key = LoadPublicKey(k);
    if (!key.ok()) return Err() << k << ": " << key.error().str();
    keys.push_back(std::move(*key));
  }
  auto v = VerifyBundle(fd->get(), keys);
  if (!v.ok()) return v.error();
  const Manifest& m = v->bundle.manifest;
  return BundleId{m.name, m.version, m.root_hash};
}

}  // namespace

int ImagePcrMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(
      args, {{"--uki", "", true}, {"--bundle", "", true}, {"--key", "", true}, {"--value-only"}});
  if (!a.ok()) return Usage(a.error().str());
  if (a->help()) return std::fputs(kPcrUsage, stdout), 0;
  if (!a->positional().empty()) return Usage("unexpected argument " + a->positional()[0]);
  auto uki = a->One("--uki");
  auto bundle = a->One("--bundle");
  if (!uki && !bundle) return Usage("give --uki, --bundle or both");
  if (!bundle && a->Has("--key")) return Usage("--key checks a --bundle; give one");
  bool quiet = a->Has("--value-only");
  std::string out;
  PcrReplay replay;
  if (uki) {
    auto bytes = ReadFileToString(*uki);
    if (!bytes.ok()) return Fail(*uki, bytes.error());
    auto r = ReplayStubMeasurements(*bytes);
    if (!r.ok()) return Fail(*uki, r.error());
    replay = std::move(*r);
    if (replay.steps.empty())
      return Fail(*uki,
                  Err() << "no UKI section (.linux, .initrd, ...): not a unified kernel image");
    out += "UKI " + *uki + ": systemd-stub extends PCR " + std::to_string(kMeasuredBootPcr) + "\n";
    for (const auto& s : replay.steps)
      out += "  " + s.what + "\n    event sha256:" + HexOf(s.digest) + "\n    PCR now " +
             HexOf(s.pcr_after) + "\n";
  }
  if (bundle) {
    auto id = ReadBundleId(*bundle, a->All("--key"));
    if (!id.ok()) return Fail(*bundle, id.error());
    std::string text = BundleEventText(id->name, id->version, id->root_hash);
    replay.Extend("initos-bundle event", Sha256Of(text.data(), text.size()));
    out += "bundle " + *bundle + (a->Has("--key") ? " (verified)" : " (signature not checked)") +
           ": PID 1 extends PCR " + std::to_string(kMeasuredBootPcr) + " with SHA-256 of\n";
    std::string indented = "    ";
    for (char c : text) indented += c == '\n' ? std::string("\\n\n    ") : std::string(1, c);
    out += indented.substr(0, indented.size() - 4);
    out += "  event sha256:" + HexOf(replay.steps.back().digest) + "\n";
  }
  if (quiet) {
    std::printf("%s\n", HexOf(replay.value).c_str());
    return 0;
  }
  out += "PCR " + std::to_string(kMeasuredBootPcr) + " (sha256): " + HexOf(replay.value) + "\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace image
}  // namespace initos
