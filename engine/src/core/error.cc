// Error helpers: code names and the thrower behind RMSMP_CHECK.
#include "rmsmp/error.h"

#include <cstring>

namespace rmsmp {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::InvalidFile: return "invalid file";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::IoError: return "I/O error";
    case ErrorCode::InvalidText: return "invalid text";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Internal: return "internal error";
  }
  return "unknown error";
}

namespace detail {
void throw_check(ErrorCode code, const char* file, int line, const std::string& msg) {
  // Users see the message first; the source location helps us when they paste it into an issue.
  const char* base = std::strrchr(file, '/');
  throw Error(code, msg + " [" + (base ? base + 1 : file) + ":" + std::to_string(line) + "]");
}
}  // namespace detail

}  // namespace rmsmp
