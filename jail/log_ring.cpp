#include "jail/log_ring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/safe_open.h"

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

LogFiles::LogFiles(std::string base, std::string rel, std::string name, uint64_t max_bytes,
                   int files)
    : base_(std::move(base)),
      rel_(std::move(rel)),
      name_(std::move(name)),
      max_bytes_(max_bytes),
      files_(files) {}

void LogFiles::Rotate() {
  fd_.reset();
  std::string base = name_ + ".log";
  for (int i = files_ - 1; i >= 1; --i) {
    std::string from = i == 1 ? base : base + "." + std::to_string(i - 1);
    ::renameat(dir_fd_.get(), from.c_str(), dir_fd_.get(),
               (base + "." + std::to_string(i)).c_str());
  }
  if (files_ <= 1) ::unlinkat(dir_fd_.get(), base.c_str(), 0);
  size_ = 0;
}

bool LogFiles::Open() {
  std::string problem;
  if (!dir_fd_.ok()) {
    auto root = OpenFile(base_, O_RDONLY | O_DIRECTORY);
    auto dir =
        root.ok() ? MakeDirsBeneath(root->get(), rel_, 0700) : Result<unique_fd>(root.error());
    if (dir.ok())
      dir_fd_ = std::move(*dir);
    else
      problem = dir.error().str();
  }
  if (dir_fd_.ok()) {
    fd_.reset(::openat(dir_fd_.get(), (name_ + ".log").c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
    struct stat st {};
    if (fd_.ok() && ::fstat(fd_.get(), &st) == 0 && S_ISREG(st.st_mode)) {
      size_ = static_cast<uint64_t>(st.st_size);
      return true;
    }
    problem = fd_.ok() ? "not a regular file" : std::strerror(errno);
  }
  LOG(Warning) << "jail " << name_ << ": cannot write " << path() << ": " << problem
               << "; its log stays in memory only (remove what is there on the state partition)";
  failed_ = true;
  fd_.reset();
  return false;
}

void LogFiles::Append(std::string_view data) {
  if (failed_ || base_.empty() || data.empty()) return;
  if (!fd_.ok() && !Open()) return;
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
