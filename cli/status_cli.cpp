#include "cli/status_cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "base/options.h"
#include "base/unique_fd.h"
#include "cli/kmsg_record.h"
#include "format/boot_slots.h"
#include "format/boot_timeline.h"
#include "format/stage.h"
#include "image/bundle_cli.h"
#include "os/boot_state_file.h"
#include "sidecar/sidecar.h"

namespace initos {
inline namespace cli {
namespace {

constexpr const char kStatusHelp[] =
    "usage: initos status [--json]\n"
    "\n"
    "Prints the booted image (name, version, root hash), the init mode, whether\n"
    "PID 1 ran in verified or development mode, what it read of EFI Secure Boot\n"
    "and the SSH sidecar's uptime. Reads the record PID 1 wrote at /run/initos/status\n"
    "(in the sidecar: the copy in its own tmpfs, made when it started).\n"
    "  --json   machine-readable output\n";

constexpr const char kLogsHelp[] =
    "usage: initos logs [--all]\n"
    "\n"
    "Prints InitOS' lines (tagged initos: and initos-sidecar:) from the kernel\n"
    "log (/dev/kmsg, needs root), timestamps in seconds since boot.\n"
    "  --all    every kernel log line\n";

std::string FormatUptimeJson(std::optional<double> up) {
  if (!up) return "null";
  return std::to_string(static_cast<uint64_t>(std::floor(*up)));
}

}  // namespace

std::optional<uint64_t> ParseStatStartTime(std::string_view stat) {
  size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  // rest = " STATE PPID ...": the token index i is field i + 2.
  int field = 2;
  for (size_t at = 0; at < rest.size();) {
    while (at < rest.size() && (rest[at] == ' ' || rest[at] == '\n')) ++at;
    size_t end = at;
    while (end < rest.size() && rest[end] != ' ' && rest[end] != '\n') ++end;
    if (end == at) break;
    if (++field == 22) {
      std::string_view tok = rest.substr(at, end - at);
      if (tok.size() > 20) return std::nullopt;
      uint64_t v = 0;
      for (char c : tok) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      return v;
    }
    at = end;
  }
  return std::nullopt;
}

std::optional<double> ParseUptimeSeconds(std::string_view uptime) {
  std::string first(uptime.substr(0, uptime.find_first_of(" \n")));
  if (first.empty() || first.size() > 32) return std::nullopt;
  for (char c : first)
    if (!((c >= '0' && c <= '9') || c == '.')) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(first.c_str(), &end);
  if (end != first.c_str() + first.size()) return std::nullopt;
  return v;
}

bool IsSidecarCmdline(std::string_view cmdline) {
  std::string_view argv0 = cmdline.substr(0, cmdline.find('\0'));
  return argv0 == kSidecarArgv0;
}

std::string FormatDuration(double seconds) {
  uint64_t s = seconds > 0 ? static_cast<uint64_t>(seconds) : 0;
  uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  char buf[64];
  if (d > 0)
    std::snprintf(buf, sizeof(buf), "%llud%02lluh%02llum%02llus", (unsigned long long)d,
                  (unsigned long long)h, (unsigned long long)m, (unsigned long long)sec);
  else if (h > 0)
    std::snprintf(buf, sizeof(buf), "%lluh%02llum%02llus", (unsigned long long)h,
                  (unsigned long long)m, (unsigned long long)sec);
  else if (m > 0)
    std::snprintf(buf, sizeof(buf), "%llum%02llus", (unsigned long long)m, (unsigned long long)sec);
  else
    std::snprintf(buf, sizeof(buf), "%llus", (unsigned long long)sec);
  return buf;
}

std::optional<double> SidecarUptime(const std::string& proc_dir, long ticks_per_second) {
  auto uptime_text = ReadFileToString(proc_dir + "/uptime");
  if (!uptime_text.ok() || ticks_per_second <= 0) return std::nullopt;
  auto uptime = ParseUptimeSeconds(*uptime_text);
  if (!uptime) return std::nullopt;
  DIR* d = ::opendir(proc_dir.c_str());
  if (!d) return std::nullopt;
  std::optional<uint64_t> oldest;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    std::string dir = proc_dir + "/" + e->d_name;
    auto cmdline = ReadFileToString(dir + "/cmdline");  // gone meanwhile: skip
    if (!cmdline.ok() || !IsSidecarCmdline(*cmdline)) continue;
    auto stat = ReadFileToString(dir + "/stat");
    if (!stat.ok()) continue;
    auto start = ParseStatStartTime(*stat);
    if (start && (!oldest || *start < *oldest)) oldest = start;
  }
  ::closedir(d);
  if (!oldest) return std::nullopt;
  double up = *uptime - static_cast<double>(*oldest) / static_cast<double>(ticks_per_second);
  return up < 0 ? 0 : up;
}

Result<FoundStatus> FindBootStatus(const std::string& root) {
  // Only ROOT/run/initos/status: in the OS that is PID 1's record (moved in
  // with /run), in the sidecar the copy made into its own tmpfs when it
  // started. The OS's record under /sysroot is never a fallback: root in the
  // OS can rewrite it, and the sidecar must not print what the OS says.
  std::string path = PathUnderRoot(root, kBootStatusPath);
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.error().code == ENOENT || text.error().code == ENOTDIR)
      return Err() << "no boot record at " << path << ": is this an InitOS machine?";
    return Err() << "cannot read " << path << ": " << std::strerror(text.error().code);
  }
  auto s = ParseBootStatus(*text);
  if (!s.ok()) return Err() << path << ": " << s.error().str();
  return FoundStatus{path, std::move(*s)};
}

std::string DescribeMeasurement(const BootStatus& s) {
  if (s.measured == "pcr11")
    return "PCR 11, event sha256:" + s.measured_event + ", PCR 11 " +
           (s.measured_pcr.empty() ? std::string("not read back") : s.measured_pcr);
  if (s.measured == "no-tpm") return "no TPM, boot not measured";
  if (s.measured == "failed") return "FAILED (the TPM errored; see initos logs)";
  return "nothing measured (no verified root)";
}

std::string FormatStatusText(const FoundStatus& f, std::optional<double> sidecar_uptime) {
  const BootStatus& s = f.status;
  std::string out = "image: " + s.image + "\n";
  if (s.image != "none") {
    out += "version: " + std::to_string(s.version) + "\n";
    out += "root hash: " + s.root_hash + "\n";
    out += "source: " + s.source + "\n";
  }
  if (!s.slot.empty()) out += "slot: " + s.slot + "\n";
  out += "mode: " + s.mode + "\n";
  out += "verification: " +
         (s.trust == "development"
              ? std::string("DEVELOPMENT MODE (rootfs.insecure-dev-mode): images no trusted key "
                            "signed boot too; never ship this")
              : s.trust) +
         "\n";
  out += "secure boot: " + s.secure_boot + "\n";
  out += "initos: " + s.initos_version + "\n";
  out += "measured boot: " + DescribeMeasurement(s) + "\n";
  out += "sidecar uptime: " + (sidecar_uptime ? FormatDuration(*sidecar_uptime) : "not running") +
         "\n";
  return out;
}

std::string FormatStatusJson(const FoundStatus& f, std::optional<double> sidecar_uptime) {
  const BootStatus& s = f.status;
  return "{\n  \"image\": " + JsonQuote(s.image) +
         ",\n  \"version\": " + std::to_string(s.version) +
         ",\n  \"root_hash\": " + JsonQuote(s.root_hash) + ",\n  \"mode\": " + JsonQuote(s.mode) +
         ",\n  \"source\": " + JsonQuote(s.source) +
         ",\n  \"initos\": " + JsonQuote(s.initos_version) +
         ",\n  \"booted_at\": " + FormatSeconds(s.booted_at) +
         ",\n  \"trust\": " + JsonQuote(s.trust) +
         ",\n  \"secure_boot\": " + JsonQuote(s.secure_boot) +
         ",\n  \"measured\": " + JsonQuote(s.measured) +
         ",\n  \"measured_event\": " + JsonQuote(s.measured_event) +
         ",\n  \"measured_pcr\": " + JsonQuote(s.measured_pcr) +
         ",\n  \"sidecar_uptime_s\": " + FormatUptimeJson(sidecar_uptime) +
         ",\n  \"record\": " + JsonQuote(f.path) + "\n}\n";
}

int StatusMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--json"}, {"--root", "", true}});
  if (!a.ok() || !a->positional().empty()) {
    std::string what = a.ok() ? "unknown argument '" + a->positional()[0] + "'" : a.error().str();
    std::fprintf(stderr, "initos status: %s; see `initos status --help`\n", what.c_str());
    return 2;
  }
  if (a->help()) {
    std::fputs(kStatusHelp, stdout);
    return 0;
  }
  bool json = a->Has("--json");
  std::string root = a->One("--root").value_or("/");  // tests: a directory standing in for "/"
  auto found = FindBootStatus(root);
  if (!found.ok()) {
    std::fprintf(stderr, "initos status: %s\n", found.error().str().c_str());
    return 1;
  }
  auto up = SidecarUptime(PathUnderRoot(root, "/proc"), ::sysconf(_SC_CLK_TCK));
  std::string out = json ? FormatStatusJson(*found, up) : FormatStatusText(*found, up);
  if (!json && !found->status.slot.empty())
    out += FormatSlotsText(found->status, PathUnderRoot(root, "/run/initos/state"));
  std::fputs(out.c_str(), stdout);
  return 0;
}

std::string FormatSlotsText(const BootStatus& s, const std::string& state_dir) {
  auto booted = ParseSlotName(s.slot);
  auto file = BootStateFile::Open(state_dir, false);
  auto loaded = file.ok() ? file->Load() : Result<LoadedBootState>(file.error());
  if (!loaded.ok()) return "slots: boot-state record unreadable: " + loaded.error().str() + "\n";
  std::string out = "slots:\n";
  std::string text = DescribeBootState(loaded->state, booted);
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    out += "  " + text.substr(at, nl - at + 1);
    at = nl + 1;
  }
  if (!loaded->note.empty()) out += "  note: " + loaded->note + "\n";
  return out;
}

namespace {

// Everything readable now: /dev/kmsg returns one record per read() and
// EAGAIN at the end (O_NONBLOCK); a regular file (a saved log) returns EOF.
Result<std::string> ReadKmsg(const std::string& path) {
  auto fd = OpenFile(path, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return fd.error();
  std::string all;
  std::vector<char> buf(16384);
  for (;;) {
    ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n > 0) {
      all.append(buf.data(), static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || errno == EAGAIN) break;
    if (errno == EINTR || errno == EPIPE) continue;  // EPIPE: records overwritten meanwhile
    return ErrnoError() << "read " << path;
  }
  return all;
}

}  // namespace

int LogsMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--all"}, {"--kmsg", "", true}});
  if (!a.ok() || !a->positional().empty()) {
    std::string what = a.ok() ? "unknown argument '" + a->positional()[0] + "'" : a.error().str();
    std::fprintf(stderr, "initos logs: %s; see `initos logs --help`\n", what.c_str());
    return 2;
  }
  if (a->help()) {
    std::fputs(kLogsHelp, stdout);
    return 0;
  }
  bool all = a->Has("--all");
  std::string path = a->One("--kmsg").value_or("/dev/kmsg");  // tests: a file of saved records
  auto text = ReadKmsg(path);
  if (!text.ok()) {
    std::fprintf(stderr, "initos logs: cannot read the kernel log: %s%s\n",
                 text.error().str().c_str(), text.error().code == EACCES ? " (run as root)" : "");
    return 1;
  }
  std::string out;
  for (const std::string& rec : SplitKmsgRecords(*text)) {
    auto r = ParseKmsgRecord(rec);
    if (!r || (!all && !IsInitosMessage(r->message))) continue;
    out += FormatKmsgLine(*r) + "\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

namespace {

constexpr const char kAnalyzeHelp[] =
    "usage: initos analyze [LOG] [--svg FILE]\n"
    "\n"
    "Prints the boot timeline: the kernel until it runs /init, each PID-1 stage\n"
    "(from its \"stage NAME done t=\" line) and when the main program, the OS\n"
    "init and the sidecar started. LOG is a serial console capture or a saved\n"
    "/dev/kmsg; without it, this machine's /dev/kmsg (needs root).\n"
    "  --svg FILE   also write the timeline as an SVG picture (open it in a browser)\n";

// Console text from either form of log: /dev/kmsg records are turned into
// the "[   1.234567] message" lines a console shows.
std::string AsConsoleText(const std::string& text) {
  size_t first_end = text.find('\n');
  if (!ParseKmsgRecord(text.substr(0, first_end))) return text;
  std::string out;
  for (const std::string& rec : SplitKmsgRecords(text))
    if (auto r = ParseKmsgRecord(rec)) out += FormatKmsgLine(*r) + "\n";
  return out;
}

}  // namespace

int AnalyzeMain(const std::vector<std::string>& args) {
  auto a = Options::Parse(args, {{"--svg", "", true}});
  if (!a.ok() || a->positional().size() > 1) {
    std::string what = a.ok() ? "one LOG at most" : a.error().str();
    std::fprintf(stderr, "initos analyze: %s; see `initos analyze --help`\n", what.c_str());
    return 2;
  }
  if (a->help()) {
    std::fputs(kAnalyzeHelp, stdout);
    return 0;
  }
  std::string path = a->positional().empty() ? "/dev/kmsg" : a->positional()[0];
  auto text = path == "/dev/kmsg" ? ReadKmsg(path) : ReadFileToString(path);
  if (!text.ok()) {
    std::fprintf(stderr, "initos analyze: cannot read %s: %s\n", path.c_str(),
                 text.error().str().c_str());
    return 1;
  }
  auto timeline = ParseBootLog(AsConsoleText(*text));
  if (!timeline.ok()) {
    std::fprintf(stderr, "initos analyze: %s: %s\n", path.c_str(), timeline.error().str().c_str());
    return 1;
  }
  std::fputs(FormatTimeline(*timeline).c_str(), stdout);
  if (auto svg = a->One("--svg")) {
    auto w = WriteStringToFile(*svg, TimelineSvg(*timeline), 0644);
    if (!w.ok()) {
      std::fprintf(stderr, "initos analyze: %s\n", w.error().str().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace cli
}  // namespace initos
