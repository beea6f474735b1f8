#include "image/esp.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "image/erofs.h"

namespace initos {
inline namespace image {
namespace {

constexpr uint64_t kMib = 1024 * 1024;

Result<uint64_t> UkiSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return ErrnoError() << "UKI " << path << "; build it with `initos image uki`";
  }
  if (!S_ISREG(st.st_mode)) return Err() << "UKI " << path << " is not a regular file";
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

Result<EspPlan> PlanEsp(const EspInputs& in) {
  if (in.uki_a.empty()) return Err() << "no UKI; give --uki A.efi";
  EspPlan p;
  p.dirs = {"/EFI", "/EFI/BOOT"};
  p.files = {{in.uki_a, kEspRemovablePath}};
  uint64_t bytes = in.uki_a_size;
  if (!in.uki_b.empty()) {
    p.dirs.push_back("/EFI/initos");
    p.files.push_back({in.uki_a, "/EFI/initos/a.efi"});
    p.files.push_back({in.uki_b, "/EFI/initos/b.efi"});
    bytes += in.uki_a_size + in.uki_b_size;
  }
  const uint64_t need_mib = (bytes + bytes / 4 + kMib - 1) / kMib + 8;
  if (in.size_mib == 0) {
    p.size_mib = std::max(need_mib, kEspMinSizeMib);
  } else if (in.size_mib < kEspMinSizeMib) {
    return Err() << "--size-mib " << in.size_mib << " is below " << kEspMinSizeMib
                 << " (the smallest FAT32); give a larger one";
  } else if (in.size_mib * kMib < bytes + 2 * kMib) {
    return Err() << "--size-mib " << in.size_mib << " cannot hold the UKIs (" << bytes
                 << " bytes); give at least " << need_mib;
  } else {
    p.size_mib = in.size_mib;
  }
  return p;
}

Result<void> BuildEsp(const EspOptions& o) {
  if (o.output.empty()) return Err() << "no output path; give -o ESP.img";
  EspInputs in{o.uki_a, 0, o.uki_b, 0, o.size_mib};
  if (!o.uki_a.empty()) {
    auto a = UkiSize(o.uki_a);
    if (!a.ok()) return a.error();
    in.uki_a_size = *a;
  }
  if (!o.uki_b.empty()) {
    auto b = UkiSize(o.uki_b);
    if (!b.ok()) return b.error();
    in.uki_b_size = *b;
  }
  auto plan = PlanEsp(in);
  if (!plan.ok()) return plan.error();
  if (FindInPath("mkfs.fat").empty()) return Err() << "mkfs.fat not found; install dosfstools";
  for (const char* tool : {"mmd", "mcopy"}) {
    if (FindInPath(tool).empty()) return Err() << tool << " not found; install mtools";
  }

  const std::string part = o.output + ".tmp";
  {
    auto fd = OpenFile(part, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!fd.ok()) return fd.error();
    if (::ftruncate(fd->get(), static_cast<off_t>(plan->size_mib * 1024 * 1024)) != 0) {
      return ErrnoError() << "size " << part;
    }
  }
  auto fail = [&](const Error& e) -> Error {
    ::unlink(part.c_str());
    return e;
  };
  // --invariant: a fixed volume id (1234-ABCD) and no time-based fields in
  // the boot sector (dosfstools 4.2).
  if (auto r = RunToolQuietly({"mkfs.fat", "-F", "32", "-n", "INITOS-ESP", "--invariant", part});
      !r.ok()) {
    return fail(Wrap(r.error(), "format ESP image"));
  }
  // mtools stamps entries with "now", which it reads from SOURCE_DATE_EPOCH;
  // FAT dates are local time, so UTC. MTOOLS_SKIP_CHECK: an image file has
  // no partition table geometry to check against.
  const std::vector<std::string> env = {
      "MTOOLS_SKIP_CHECK=1", "SOURCE_DATE_EPOCH=" + std::to_string(o.timestamp), "TZ=UTC"};
  for (const std::string& d : plan->dirs) {
    if (auto r = RunToolQuietly({"mmd", "-i", part, "::" + d}, env); !r.ok()) {
      return fail(Wrap(r.error(), "create " + d + " in the ESP image"));
    }
  }
  for (const EspFile& f : plan->files) {
    if (auto r = RunToolQuietly({"mcopy", "-i", part, f.source, "::" + f.dest}, env); !r.ok()) {
      return fail(Wrap(r.error(), "copy " + f.source + " to " + f.dest +
                                      " in the ESP image (too small? give a larger --size-mib)"));
    }
  }
  if (::rename(part.c_str(), o.output.c_str()) != 0) {
    return fail(ErrnoError() << "rename " << part << " to " << o.output);
  }
  return {};
}

}  // namespace image
}  // namespace initos
