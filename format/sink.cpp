#include "format/sink.h"

#include "base/file.h"

namespace initos {
inline namespace format {

Sink StringSink(std::string* out) {
  return [out](std::string_view data) -> Result<void> {
    out->append(data);
    return {};
  };
}

Sink FdSink(int fd) {
  return [fd](std::string_view data) { return WriteFully(fd, data.data(), data.size()); };
}

}  // namespace format
}  // namespace initos
