// AppendText(out, v): appends v to a string as `std::ostream << v` would
// print it, without an ostream. Constructing the first stream builds the
// C++ locale (some 30 facets, narrow and wide); in PID 1 that was ~700 of
// the ~5000 code blocks QEMU's TCG had to translate before the main program
// ran (docs/performance.md, "PID 1 under TCG"). LOG() and Err() use this, so
// a boot that streams only strings, numbers and chars never builds the locale.
// Types without a case here still go through an ostringstream.
#pragma once

#include <charconv>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace initos {
inline namespace base {

template <typename V>
void AppendText(std::string& out, const V& v) {
  using T = std::decay_t<V>;
  if constexpr (std::is_pointer_v<V> && std::is_convertible_v<const V&, std::string_view>) {
    if (v != nullptr) out.append(v);  // a null char* prints nothing (ostream: badbit)
  } else if constexpr (std::is_convertible_v<const V&, std::string_view>) {
    out.append(std::string_view(v));
  } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                       std::is_same_v<T, unsigned char>) {
    out.push_back(static_cast<char>(v));  // ostream prints these as characters
  } else if constexpr (std::is_same_v<T, bool>) {
    out.push_back(v ? '1' : '0');  // ostream without std::boolalpha
  } else if constexpr (std::is_integral_v<T>) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<size_t>(r.ptr - buf));
  } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    char buf[32];  // ostream's default: precision 6, %g
    int n = std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    if (n > 0) out.append(buf, static_cast<size_t>(n) < sizeof buf ? n : sizeof buf - 1);
  } else {
    std::ostringstream s;
    s << v;
    out.append(s.str());
  }
}

}  // namespace base
}  // namespace initos
