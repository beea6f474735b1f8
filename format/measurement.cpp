#include "format/measurement.h"

#include "format/pe.h"

namespace initos {
inline namespace format {

std::string BundleEventText(std::string_view name, uint64_t version, std::string_view root_hash) {
  std::string out = "initos-bundle\nname=";
  out += name;
  out += "\nversion=" + std::to_string(version) + "\nroot-hash=";
  out += root_hash;
  out += "\n";
  return out;
}

Sha256Digest BundleEventDigest(std::string_view name, uint64_t version,
                               std::string_view root_hash) {
  std::string text = BundleEventText(name, version, root_hash);
  return Sha256Of(text.data(), text.size());
}

void PcrReplay::Extend(std::string what, const Sha256Digest& digest) {
  value = ExtendSha256(value, digest);
  steps.push_back(PcrStep{std::move(what), digest, value});
}

Result<PcrReplay> ReplayStubMeasurements(std::string_view uki) {
  auto sections = ParsePeSections(uki);
  if (!sections.ok()) return sections.error();
  PcrReplay replay;
  for (const char* want : kStubMeasuredSections) {
    const PeSection* found = nullptr;
    for (const auto& s : *sections) {
      if (s.name != want) continue;
      // Which copy would the stub measure? Refuse rather than guess.
      if (found) return Err() << "UKI has two " << want << " sections; rebuild it";
      found = &s;
    }
    if (!found) continue;
    std::string name(want);
    replay.Extend(name + " name", Sha256Of(name.c_str(), name.size() + 1));  // with its NUL
    auto data = PeSectionMemory(uki, *found);
    if (!data.ok()) return data.error();
    replay.Extend(name + " data (" + std::to_string(data->size()) + " bytes)",
                  Sha256Of(data->data(), data->size()));
  }
  return replay;
}

}  // namespace format
}  // namespace initos
