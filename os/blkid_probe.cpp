#include "os/blkid_probe.h"

#include <blkid/blkid.h>
#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "base/file.h"
#include "base/unique_fd.h"

namespace initos {
inline namespace os {
namespace {

struct ProbeDeleter {
  void operator()(blkid_struct_probe* p) const { blkid_free_probe(p); }
};
using Probe = std::unique_ptr<blkid_struct_probe, ProbeDeleter>;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Lookup(blkid_probe pr, const char* name) {
  const char* v = nullptr;
  if (blkid_probe_lookup_value(pr, name, &v, nullptr) != 0 || !v) return "";
  return v;
}

// Our own fd (O_CLOEXEC | O_NONBLOCK), handed to libblkid which only reads it.
Result<Probe> NewProbe(const std::string& device, unique_fd& fd) {
  auto opened = OpenFile(device, O_RDONLY | O_NONBLOCK);
  if (!opened.ok()) return opened.error();
  fd = std::move(*opened);
  Probe pr(blkid_new_probe());
  if (!pr) return Err() << "libblkid: cannot allocate a probe for " << device;
  if (blkid_probe_set_device(pr.get(), fd.get(), 0, 0) != 0)
    return Err() << "libblkid: cannot probe " << device;
  return pr;
}

}  // namespace

std::string DescribeSignature(const Signature& s) {
  return (s.partition_table ? "a " + s.type + " partition table" : s.type) + " at offset " +
         std::to_string(s.offset);
}

Result<std::vector<Signature>> ProbeSignatures(const std::string& device) {
  unique_fd fd;
  auto pr = NewProbe(device, fd);
  if (!pr.ok()) return pr.error();
  blkid_probe p = pr->get();
  blkid_probe_enable_superblocks(p, 1);
  // BADCSUM: a damaged superblock still means "somebody's data".
  blkid_probe_set_superblocks_flags(p,
                                    BLKID_SUBLKS_TYPE | BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
  blkid_probe_enable_partitions(p, 1);
  blkid_probe_set_partitions_flags(p, BLKID_PARTS_MAGIC);
  std::vector<Signature> out;
  // blkid_do_probe steps through every match of every prober (like wipefs),
  // where do_safeprobe would stop at the first or report "ambiguous".
  int r;
  while ((r = blkid_do_probe(p)) == 0) {
    Signature s;
    std::string off;
    if (std::string t = Lookup(p, "TYPE"); !t.empty()) {
      s.type = t;
      off = Lookup(p, "SBMAGIC_OFFSET");
    } else if (std::string pt = Lookup(p, "PTTYPE"); !pt.empty()) {
      s.type = pt;
      s.partition_table = true;
      off = Lookup(p, "PTMAGIC_OFFSET");
    } else {
      continue;
    }
    s.offset = off.empty() ? 0 : std::strtoull(off.c_str(), nullptr, 10);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    if (out.size() > 32) break;  // a hostile device cannot make this loop long
  }
  if (r < 0) return Err() << "libblkid: probing " << device << " failed (read error?)";
  return out;
}

Result<std::vector<PartitionEntry>> ReadPartitionEntries(const std::string& disk) {
  unique_fd fd;
  auto pr = NewProbe(disk, fd);
  if (!pr.ok()) return pr.error();
  blkid_partlist list = blkid_probe_get_partitions(pr->get());
  std::vector<PartitionEntry> out;
  if (!list) return out;  // no partition table
  blkid_parttable tab = blkid_partlist_get_table(list);
  std::string table = tab && blkid_parttable_get_type(tab) ? blkid_parttable_get_type(tab) : "";
  int n = blkid_partlist_numof_partitions(list);
  for (int i = 0; i < n; i++) {
    blkid_partition part = blkid_partlist_get_partition(list, i);
    if (!part) continue;
    PartitionEntry e;
    e.number = blkid_partition_get_partno(part);
    e.table = table;
    if (const char* t = blkid_partition_get_type_string(part)) {
      e.type = Lower(t);
    } else {
      char hex[16];
      std::snprintf(hex, sizeof(hex), "0x%x", blkid_partition_get_type(part));
      e.type = hex;
    }
    if (const char* u = blkid_partition_get_uuid(part)) e.uuid = Lower(u);
    if (const char* nm = blkid_partition_get_name(part)) e.name = nm;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace os
}  // namespace initos
