// Errors as values (after Android libbase result.h): a Result<T> holds either a
// value or an Error with errno and a human-readable context chain. PID 1 must
// never unwind an exception through its loop, so every fallible call returns one.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include "base/text.h"

namespace initos {
inline namespace base {

struct Error {
  int code = 0;  // errno value, 0 when the error is not from a syscall
  std::string message;

  // Human-readable form: "context: strerror" for errno errors.
  std::string str() const {
    if (code == 0) return message;
    return message + ": " + std::strerror(code);
  }
};

// Builds an Error with streamed context; converts into any Result<T>.
class ErrorBuilder {
 public:
  explicit ErrorBuilder(int code) : code_(code) {}
  template <typename V>
  ErrorBuilder& operator<<(const V& v) {
    AppendText(text_, v);
    return *this;
  }
  operator Error() const { return Error{code_, text_}; }  // NOLINT(implicit)

 private:
  int code_;
  std::string text_;
};

// Captures errno at construction, before anything else can clobber it.
inline ErrorBuilder ErrnoError() {
  return ErrorBuilder(errno);
}
inline ErrorBuilder ErrnoErrorCode(int code) {
  return ErrorBuilder(code);
}
// A logical error (bad input, failed check): no errno attached.
inline ErrorBuilder Err() {
  return ErrorBuilder(0);
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                     // NOLINT(implicit)
  Result(Error e) : v_(std::move(e)) {}                         // NOLINT(implicit)
  Result(const ErrorBuilder& b) : v_(static_cast<Error>(b)) {}  // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}                         // NOLINT(implicit)
  Result(const ErrorBuilder& b) : err_(static_cast<Error>(b)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

// Prefixes more context onto an error while propagating it upward.
inline Error Wrap(const Error& e, const std::string& context) {
  return Error{e.code, context + ": " + e.message};
}

}  // namespace base
}  // namespace initos

// Propagate an error from an expression returning Result<...>.
#define INITOS_TRY(expr)             \
  do {                               \
    auto _r = (expr);                \
    if (!_r.ok()) return _r.error(); \
  } while (0)
