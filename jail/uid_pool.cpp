#include "jail/uid_pool.h"

#include <cstdint>

namespace initos {
inline namespace jail {

namespace {

// Half-open [host, host + count) in 64 bits, so a range ending at 2^32
// cannot wrap.
bool Overlap(const IdRange& a, const IdRange& b) {
  uint64_t a_end = uint64_t{a.host} + a.count, b_end = uint64_t{b.host} + b.count;
  return a.count != 0 && b.count != 0 && a.host < b_end && b.host < a_end;
}

// Unprivileged jails map the range; a VM jail's QEMU runs as its first id.
bool UsesRange(const JailConfig& j) {
  return j.kind == JailKind::kUnprivileged || j.kind == JailKind::kVm;
}

std::string Describe(const IdRange& r) {
  return std::to_string(r.host) + "+" + std::to_string(r.count);
}

}  // namespace

Result<std::vector<IdRange>> AllocateUidRanges(const JailsConfig& config) {
  const auto& jails = config.jails;
  std::vector<IdRange> out(jails.size());
  // Explicit ranges first: each checked on its own and against the others.
  for (size_t i = 0; i < jails.size(); ++i) {
    const JailConfig& j = jails[i];
    if (!UsesRange(j) || !j.uid_map) continue;
    const IdRange& r = *j.uid_map;
    if (r.count == 0) {
      return Err() << "jail " << j.name << " (line " << j.line << "): uid-map " << Describe(r)
                   << " is empty; give it a count of at least 1 (usually 65536)";
    }
    if (r.host == 0) {
      return Err() << "jail " << j.name << " (line " << j.line << "): uid-map " << Describe(r)
                   << " contains host uid 0; start it above 0 (e.g. at 100000)";
    }
    if (uint64_t{r.host} + r.count > (uint64_t{1} << 32) - 1) {
      return Err() << "jail " << j.name << " (line " << j.line << "): uid-map " << Describe(r)
                   << " runs past the largest uid 4294967294; lower host or count";
    }
    for (size_t k = 0; k < i; ++k) {
      if (UsesRange(jails[k]) && jails[k].uid_map && Overlap(r, *jails[k].uid_map)) {
        return Err() << "jail " << j.name << " (line " << j.line << "): uid-map " << Describe(r)
                     << " overlaps jail " << jails[k].name << "'s " << Describe(*jails[k].uid_map)
                     << "; give each jail its own range";
      }
    }
    out[i] = r;
  }
  // Automatic ones: the first pool block no explicit range and no earlier
  // jail uses, never one containing host id 0.
  const uint32_t size = config.range_size;
  const uint64_t blocks = size == 0 ? 0 : config.uid_pool_size / size;
  uint64_t next = 0;
  for (size_t i = 0; i < jails.size(); ++i) {
    const JailConfig& j = jails[i];
    if (!UsesRange(j) || j.uid_map) continue;
    bool found = false;
    for (; next < blocks && !found; ++next) {
      uint64_t host = uint64_t{config.uid_pool_start} + next * size;
      if (host == 0 || host + size > (uint64_t{1} << 32) - 1) continue;
      IdRange candidate{static_cast<uint32_t>(host), size};
      bool taken = false;
      for (size_t k = 0; k < jails.size() && !taken; ++k) {
        taken = UsesRange(jails[k]) && jails[k].uid_map && Overlap(candidate, *jails[k].uid_map);
      }
      if (taken) continue;
      out[i] = candidate;
      found = true;
    }
    if (!found) {
      return Err() << "jail " << j.name << " (line " << j.line
                   << "): no free uid range in the pool (" << blocks << " blocks of " << size
                   << " from " << config.uid_pool_start
                   << "); raise jails.uid-pool-size or give the jail an explicit uid-map";
    }
  }
  return out;
}

}  // namespace jail
}  // namespace initos
