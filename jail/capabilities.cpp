// Capability sets of a jail's process, after nsjail's caps.cc and
// bubblewrap's drop_privs: securebits (optional), then the bounding set cut
// (so nothing dropped can be regained through any later exec), then the
// process sets. Why no securebits by default: see capabilities.h.
#include "jail/capabilities.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace initos {
inline namespace jail {

Result<int> CapabilityFromName(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("cap_", 0) != 0) lower = "cap_" + lower;
  cap_value_t v = 0;
  // cap_from_name also takes bare numbers; a config names capabilities.
  bool named = lower.size() > 4 && std::isalpha(static_cast<unsigned char>(lower[4]));
  if (!named || cap_from_name(lower.c_str(), &v) != 0 || v < 0 || v > cap_max_bits() - 1) {
    return Err() << "unknown capability \"" << name
                 << "\"; use a name from `man 7 capabilities` (e.g. NET_BIND_SERVICE)";
  }
  return static_cast<int>(v);
}

Result<std::vector<int>> CapabilitiesFromNames(const std::vector<std::string>& names) {
  std::vector<int> out;
  for (const auto& n : names) {
    auto v = CapabilityFromName(n);
    if (!v.ok()) return v.error();
    if (std::find(out.begin(), out.end(), *v) == out.end()) out.push_back(*v);
  }
  return out;
}

namespace {

struct CapFree {
  void operator()(cap_t c) const { cap_free(c); }
};

}  // namespace

Result<void> ApplyCapabilities(const std::vector<int>& keep) {
  return ApplyCapabilities(keep, 0);
}

Result<void> ApplyCapabilities(const std::vector<int>& keep, unsigned long securebits) {
  const int last = cap_max_bits() - 1;
  for (int c : keep) {
    if (c < 0 || c > last) return Err() << "capability " << c << " out of range 0.." << last;
  }
  // After a switch to a non-root user (with keep-caps) only the permitted
  // set is left: raise effective from it, or CAP_SETPCAP below is missing.
  {
    std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree> now(cap_get_proc());
    if (!now) return ErrnoError() << "cap_get_proc";
    for (int c = 0; c <= last; ++c) {
      cap_flag_value_t permitted = CAP_CLEAR;
      cap_value_t v = c;
      if (cap_get_flag(now.get(), v, CAP_PERMITTED, &permitted) == 0 && permitted == CAP_SET)
        cap_set_flag(now.get(), CAP_EFFECTIVE, 1, &v, CAP_SET);
    }
    if (cap_set_proc(now.get()) != 0) return ErrnoError() << "raise effective from permitted";
  }
  // Securebits and the bounding set need CAP_SETPCAP: both before the
  // process sets lose it.
  if (securebits != 0 && ::prctl(PR_SET_SECUREBITS, securebits, 0, 0, 0) != 0) {
    return ErrnoError() << "prctl PR_SET_SECUREBITS (needs CAP_SETPCAP)";
  }
  for (int c = 0; c <= last; ++c) {
    if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
      return ErrnoError() << "prctl PR_CAPBSET_DROP " << c;
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return ErrnoError() << "prctl PR_CAP_AMBIENT_CLEAR_ALL";
  }
  std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree> caps(cap_init());  // all sets empty
  if (!caps) return ErrnoError() << "cap_init";
  std::vector<cap_value_t> values(keep.begin(), keep.end());
  if (!values.empty()) {
    int n = static_cast<int>(values.size());
    if (cap_set_flag(caps.get(), CAP_PERMITTED, n, values.data(), CAP_SET) != 0 ||
        cap_set_flag(caps.get(), CAP_EFFECTIVE, n, values.data(), CAP_SET) != 0) {
      return ErrnoError() << "cap_set_flag";
    }
  }
  if (cap_set_proc(caps.get()) != 0) {
    return ErrnoError() << "cap_set_proc (a kept capability the process does not have?)";
  }
  return {};
}

}  // namespace jail
}  // namespace initos
