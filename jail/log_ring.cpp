#include "jail/log_ring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/log.h"

namespace initos {
inline namespace jail {

void LogRing::Append(std::string_view data) {
  total_ += data.size();
  if (data.size() >= capacity_) {
    buf_.assign(data.substr(data.size() - capacity_));
    return;
  }
  buf_.append(data);
  if (buf_.size() > capacity_) buf_.erase(0, buf_.size() - capacity_);
}

std::string LogRing::Contents() const {
  return buf_;
}

std::string LogRing::Since(uint64_t offset) const {
  uint64_t first = total_ - buf_.size();  // offset of buf_[0]
  if (offset >= total_) return {};
  if (offset < first) offset = first;
  return buf_.substr(offset - first);
}

LogFiles::LogFiles(std::string dir, std::string name, uint64_t max_bytes, int files)
    : dir_(std::move(dir)), name_(std::move(name)), max_bytes_(max_bytes), files_(files) {}

void LogFiles::Rotate() {
  fd_.reset();
  std::string base = path();
  for (int i = files_ - 1; i >= 1; --i) {
    std::string from = i == 1 ? base : base + "." + std::to_string(i - 1);
    ::rename(from.c_str(), (base + "." + std::to_string(i)).c_str());
  }
  if (files_ <= 1) ::unlink(base.c_str());
  size_ = 0;
}

void LogFiles::Append(std::string_view data) {
  if (failed_ || dir_.empty() || data.empty()) return;
  if (!fd_.ok()) {
    (void)MakeDirs(dir_, 0700);
    // O_NOFOLLOW: the state partition is the disk attacker's; a planted
    // symlink must not redirect PID 1's writes.
    fd_.reset(::open(path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    struct stat st {};
    if (!fd_.ok() || ::fstat(fd_.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      LOG(Warning) << "jail " << name_ << ": cannot write " << path() << ": "
                   << std::strerror(errno) << "; its log stays in memory only";
      failed_ = true;
      fd_.reset();
      return;
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  if (size_ + data.size() > max_bytes_ && size_ > 0) {
    Rotate();
    return Append(data);
  }
  ssize_t n = ::write(fd_.get(), data.data(), data.size());
  if (n < 0 || static_cast<size_t>(n) != data.size()) {
    LOG(Warning) << "jail " << name_ << ": writing " << path() << " failed ("
                 << (n < 0 ? std::strerror(errno) : "short write, disk full?")
                 << "); its log stays in memory only";
    failed_ = true;
    fd_.reset();
    return;
  }
  size_ += data.size();
}

}  // namespace jail
}  // namespace initos
