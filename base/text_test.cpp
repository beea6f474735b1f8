#include "base/text.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <limits>
#include <sstream>

#include "base/log.h"
#include "base/result.h"

namespace initos {
namespace {

// What `std::ostream << v` prints: AppendText must print the same.
template <typename V>
std::string Streamed(const V& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

template <typename V>
std::string Appended(const V& v) {
  std::string out = "x";
  AppendText(out, v);
  return out.substr(1);
}

TEST(AppendText, PrintsLikeAnOstream) {
  const char* cstr = "c string";
  std::string str = "std::string";
  std::string_view view = "view";
  EXPECT_EQ(Appended("literal"), Streamed("literal"));
  EXPECT_EQ(Appended(cstr), Streamed(cstr));
  EXPECT_EQ(Appended(str), Streamed(str));
  EXPECT_EQ(Appended(view), Streamed(view));
  EXPECT_EQ(Appended('q'), Streamed('q'));
  EXPECT_EQ(Appended(static_cast<unsigned char>('u')), Streamed(static_cast<unsigned char>('u')));
  EXPECT_EQ(Appended(true), Streamed(true));
  EXPECT_EQ(Appended(false), Streamed(false));
  for (long long v : {0LL, 7LL, -1LL, 123456789LL, LLONG_MIN, LLONG_MAX})
    EXPECT_EQ(Appended(v), Streamed(v));
  EXPECT_EQ(Appended(ULLONG_MAX), Streamed(ULLONG_MAX));
  EXPECT_EQ(Appended(static_cast<uint16_t>(65535)), Streamed(static_cast<uint16_t>(65535)));
  EXPECT_EQ(Appended(-42), Streamed(-42));
  EXPECT_EQ(Appended(size_t{4096}), Streamed(size_t{4096}));
  for (double d : {0.0, 1.5, -2.25, 0.1, 1e-7, 123456789.0, 3.14159265358979, 1e300,
                   std::numeric_limits<double>::infinity()})
    EXPECT_EQ(Appended(d), Streamed(d)) << d;
  EXPECT_EQ(Appended(2.5f), Streamed(2.5f));
  // A type without its own case still goes through a stream.
  void* p = reinterpret_cast<void*>(0x1234);
  EXPECT_EQ(Appended(p), Streamed(p));
}

TEST(AppendText, NullCharPointerPrintsNothing) {
  const char* null = nullptr;
  EXPECT_EQ(Appended(null), "");
}

TEST(AppendText, LogAndErrUseIt) {
  Error e = Err() << "mount " << 3 << " of " << 7u << " at " << 1.25 << ' ' << std::string("x");
  EXPECT_EQ(e.str(), "mount 3 of 7 at 1.25 x");
  errno = ENOENT;
  Error n = ErrnoError() << "open " << std::string_view("/nonexistent");
  EXPECT_EQ(n.str(), "open /nonexistent: No such file or directory");
}

}  // namespace
}  // namespace initos
