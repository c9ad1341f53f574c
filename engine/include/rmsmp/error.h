// rmsmp::Error, the one exception type thrown by public entry points, and the always-on RMSMP_CHECK.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace rmsmp {

enum class ErrorCode {
  InvalidArgument,  // a caller passed something malformed (bad option, wrong shape)
  InvalidFile,      // a file exists but its content is corrupt, truncated or of an unknown version
  NotFound,         // a file or named item does not exist
  IoError,          // the OS refused a read/write/mmap
  InvalidText,      // text input is not valid UTF-8 or otherwise unusable
  Unsupported,      // a valid request this build cannot serve
  Internal,         // a broken invariant: a bug in rmsmp
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
[[noreturn]] void throw_check(ErrorCode code, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace rmsmp

// Always on (also in Release): use for validating inputs. The message is streamed:
//   RMSMP_CHECK(n > 0, ErrorCode::InvalidArgument, "row " << r << ": empty");
// `code` is any expression of type ErrorCode (ErrorCode is in scope inside the macro).
#define RMSMP_CHECK(cond, code, msg)                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::ostringstream rmsmp_check_os_;                                         \
      rmsmp_check_os_ << msg;                                                     \
      using ::rmsmp::ErrorCode;                                                   \
      ::rmsmp::detail::throw_check((code), __FILE__, __LINE__, rmsmp_check_os_.str()); \
    }                                                                             \
  } while (0)

#define RMSMP_FAIL(code, msg) RMSMP_CHECK(false, code, msg)

