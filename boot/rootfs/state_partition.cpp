#include "boot/rootfs/state_partition.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/unique_fd.h"
#include "image/bundle.h"
#include "os/blockdev.h"

namespace initos {
inline namespace boot {
namespace {

bool At(std::string_view head, size_t off, std::string_view magic) {
  return head.size() >= off + magic.size() && head.substr(off, magic.size()) == magic;
}

// Swap keeps its signature in the last 10 bytes of the first page, and the
// page size is the one of the machine that ran mkswap.
bool IsSwap(std::string_view head) {
  for (size_t page : {4096u, 8192u, 16384u, 65536u})
    if (At(head, page - 10, "SWAPSPACE2") || At(head, page - 10, "SWAP-SPACE")) return true;
  return false;
}

std::string Hex(size_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%zx", v);
  return buf;
}

// stdout+stderr of a finished child, one line for an error message.
std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

Result<void> RunMkfs(const std::string& mkfs, const std::string& device) {
  auto null = OpenFile("/dev/null", O_RDONLY);
  SpawnOptions so;
  // No -F: should mke2fs itself find a signature we missed, it asks, reads
  // EOF from /dev/null and gives up instead of formatting.
  // nodiscard: a discard would wipe the whole device before anything is
  // written, destroying what a probe missed beyond recovery.
  so.argv = {mkfs,  "-q", "-t", "ext4", "-L", kStateLabel, "-E", "lazy_itable_init=1,nodiscard",
             device};
  so.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  so.stdin_fd = null.ok() ? null->get() : -1;
  // PID 1 never waits forever: lazy_itable_init keeps mkfs short even on a
  // large partition, so five minutes only ends a hung device.
  auto f = SpawnAndWait(std::move(so), /*merge_stderr=*/true, std::chrono::minutes(5));
  if (!f.ok()) return Wrap(f.error(), "run " + mkfs);
  if (!f->succeeded())
    return Err() << mkfs << " " << device << " failed (status " << f->wait_status
                 << "): " << (f->output.empty() ? std::string("no output") : OneLine(f->output));
  return {};
}

}  // namespace

std::string StateSignature(std::string_view head) {
  FsProbe probe = ProbeSuperblock(head);
  if (probe.type != FsType::kNone) return std::string(FsTypeName(probe.type));
  if (At(head, 0, std::string_view(kBundleMagic, sizeof(kBundleMagic))))
    return "an InitOS image bundle";
  if (At(head, 0, std::string_view("LUKS\xba\xbe", 6))) return "LUKS encryption";
  if (IsSwap(head)) return "swap";
  if (At(head, 0, "hsqs")) return "squashfs";
  if (At(head, 0, "XFSB")) return "xfs";
  if (At(head, 512, "EFI PART")) return "a GPT partition table";
  if (head.size() >= 512 && uint8_t(head[510]) == 0x55 && uint8_t(head[511]) == 0xAA)
    return "a boot sector or MBR partition table";
  return "";
}

StateAction DecideStateAction(std::string_view head, bool create) {
  return DecideStateAction({}, head, create);
}

StateAction DecideStateAction(const std::vector<Signature>& found, std::string_view head,
                              bool create) {
  using K = StateAction::Kind;
  std::string sig = StateSignature(head);
  std::vector<Signature> foreign;
  for (const Signature& s : found)
    if (s.partition_table || (s.type != "ext4" && s.type != "ext3" && s.type != "ext2"))
      foreign.push_back(s);
  if (!foreign.empty()) {
    std::string what;
    for (size_t i = 0; i < foreign.size() && i < 3; i++)
      what += (i ? ", " : "") + DescribeSignature(foreign[i]);
    if (foreign.size() > 3) what += ", ...";
    return {K::kRefuse, "holds " + what + (sig == "ext4" ? " besides ext4" : "") +
                            "; not formatting or mounting it, that could destroy data: point "
                            "[state] device at the right partition, or wipe it first (wipefs -a) "
                            "if it really is unused"};
  }
  if (sig == "ext4") return {K::kMount, ""};
  if (!sig.empty())
    return {K::kRefuse, "holds " + sig +
                            ", not ext4; not formatting it: point [state] device at the right "
                            "partition"};
  size_t first = head.find_first_not_of('\0');
  if (first != std::string_view::npos)
    return {K::kRefuse,
            "holds no filesystem initos recognises but is not empty (non-zero byte at " +
                Hex(first) +
                "); not formatting it, that could destroy data: if it really is "
                "unused, wipe it first (blkdiscard, or dd if=/dev/zero), or point "
                "[state] device at the right partition"};
  if (create) return {K::kFormat, ""};
  return {K::kRefuse, std::string("has no filesystem: set [state] create = true to format it at "
                                  "boot, or run `mkfs.ext4 -L ") +
                          kStateLabel + "` on it"};
}

std::string PartitionTypeProblem(const std::optional<PartitionEntry>& entry,
                                 const std::string& want) {
  if (want.empty()) return "";
  std::string w = want;
  for (char& c : w)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!entry)
    return "is not a partition, but state.partition-type = \"" + w +
           "\" requires a GPT partition of that type: point [state] device at one";
  if (entry->type == w) return "";
  return "has partition type " + (entry->type.empty() ? std::string("(none)") : entry->type) +
         " but state.partition-type is " + w + "; refusing it: set the type (sgdisk -t " +
         std::to_string(entry->number) + ":" + w +
         " DISK) if this really is the state partition, or point [state] device at the right one";
}

std::vector<std::string> DefaultMkfsPaths() {
  return {"/sbin/mkfs.ext4", "/sbin/mke2fs", "/usr/sbin/mkfs.ext4", "/usr/sbin/mke2fs"};
}

Result<bool> PrepareStatePartition(const std::string& device, const StatePrepareOptions& opts) {
  std::string what = "state partition " + device + " (" + opts.spec + ")";
  auto fd = OpenFile(device, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return Wrap(fd.error(), what);
  std::string head(kStateProbeSize, '\0');
  ssize_t n = ::pread(fd->get(), head.data(), head.size(), 0);
  if (n < 0) return ErrnoError() << what << ": read the first " << kStateProbeSize << " bytes";
  head.resize(static_cast<size_t>(n));
  fd->reset();
  auto found = ProbeSignatures(device);
  if (!found.ok())
    return Wrap(found.error(), what + ": not formatting or mounting what cannot be probed");
  StateAction action = DecideStateAction(*found, head, opts.create);
  if (action.kind == StateAction::Kind::kMount) return false;
  if (action.kind == StateAction::Kind::kRefuse) return Err() << what << " " << action.reason;

  auto mkfs = std::find_if(opts.mkfs_paths.begin(), opts.mkfs_paths.end(),
                           [](const std::string& p) { return ::access(p.c_str(), X_OK) == 0; });
  if (mkfs == opts.mkfs_paths.end())
    return Err() << what << " is empty and state.create = true, but state.create needs "
                 << "mkfs.ext4 in the initramfs: build it with `initos image initramfs "
                    "--with-mkfs` (automatic when its --config sets state.create = true)";
  INITOS_TRY(RunMkfs(*mkfs, device));
  auto probe = ProbeFilesystem(device);
  if (!probe.ok() || probe->type != FsType::kExt4)
    return Err() << what << ": " << *mkfs << " succeeded but no ext4 superblock is there";
  LOG(Info) << "state: created ext4 on " << device << " (" << opts.spec << ")";
  return true;
}

}  // namespace boot
}  // namespace initos
