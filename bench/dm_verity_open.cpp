// Dev/bench tool: maps a dm-verity device with our own device-mapper ioctls
// (base/sys/dm.h CreateDmDevice + format/verity_table.h), the way PID 1 does,
// instead of `veritysetup open`. Used inside the QEMU guest by bench/rootfs.sh.
//
//   dm_verity_open open NAME DEV DATA_BYTES ROOTHEX SALTHEX [UUID]   prints /dev/dm-N
//   dm_verity_open status NAME                                prints V or C
//   dm_verity_open remove NAME
//
// The hash tree must follow the data on DEV at DATA_BYTES (veritysetup
// --hash-offset=DATA_BYTES layout: superblock, then the tree). A UUID of the
// form CRYPT-VERITY-... lets `veritysetup status NAME` decode the table.
#include <cstdio>
#include <string>
#include <vector>

#include "base/sys/dm.h"
#include "format/verity_table.h"

using namespace initos;

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "dm_verity_open: %s\n", msg.c_str());
  return 1;
}

int Open(DeviceMapper& dm, const std::vector<std::string>& a) {
  VerityTableParams p;
  p.data_dev = a[1];
  p.hash_dev = a[1];
  const uint64_t data_bytes = std::stoull(a[2]);
  if (data_bytes == 0 || data_bytes % p.data_block_size != 0)
    return Fail("DATA_BYTES must be a non-zero multiple of 4096");
  p.data_blocks = data_bytes / p.data_block_size;
  p.hash_start_block = data_bytes / p.hash_block_size + 1;  // skip the superblock
  p.root_hash_hex = a[3];
  p.salt_hex = a[4];
  auto target = VerityTarget(p);
  if (!target.ok()) return Fail(target.error().str());
  const std::string uuid = a.size() > 5 ? a[5] : "";
  auto path = CreateDmDevice(dm, a[0], uuid, {*target}, /*read_only=*/true);
  if (!path.ok()) return Fail(path.error().str());
  std::printf("%s\n", path->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Fail("usage: dm_verity_open open|status|remove NAME ...");
  const std::string cmd = args[0];
  args.erase(args.begin());
  auto dm = DeviceMapper::Open();
  if (!dm.ok()) return Fail(dm.error().str());
  if (cmd == "open" && (args.size() == 5 || args.size() == 6)) return Open(*dm, args);
  if (cmd == "status" && args.size() == 1) {
    auto st = dm->Status(args[0]);
    if (!st.ok()) return Fail(st.error().str());
    for (const auto& t : *st) std::printf("%s\n", t.params.c_str());
    return 0;
  }
  if (cmd == "remove" && args.size() == 1) {
    auto r = dm->Remove(args[0]);
    if (!r.ok()) return Fail(r.error().str());
    return 0;
  }
  return Fail(
      "usage: dm_verity_open open NAME DEV DATA_BYTES ROOTHEX SALTHEX [UUID] | status NAME | "
      "remove NAME");
}
