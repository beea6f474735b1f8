#include "sidecar/sidecar_files.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "base/file.h"
#include "base/spawn.h"

namespace initos {
inline namespace sidecar {
namespace {

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Drops a trailing " (0x...)" load address.
std::string_view StripAddress(std::string_view s) {
  size_t p = s.rfind(" (0x");
  return Trim(p == std::string_view::npos ? s : s.substr(0, p));
}

// stdout of argv (stderr discarded), with its wait status.
Result<std::string> RunCapture(const std::vector<std::string>& argv, int* status) {
  auto devnull = OpenFile("/dev/null", O_WRONLY);
  if (!devnull.ok()) return devnull.error();
  SpawnOptions o;
  o.argv = argv;
  o.stderr_fd = devnull->get();
  auto f = SpawnAndWait(std::move(o), /*merge_stderr=*/false);
  if (!f.ok()) return Wrap(f.error(), "cannot run " + argv.at(0));
  *status = f->wait_status;
  return std::move(f->output);
}

}  // namespace

Result<std::vector<std::string>> ParseLddOutput(std::string_view text) {
  std::vector<std::string> libs;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    if (line.find("statically linked") != std::string_view::npos ||
        line.find("not a dynamic executable") != std::string_view::npos) {
      continue;
    }
    size_t arrow = line.find("=>");
    std::string_view path;
    if (arrow != std::string_view::npos) {
      std::string_view name = Trim(line.substr(0, arrow));
      std::string_view target = StripAddress(line.substr(arrow + 2));
      if (target == "not found") {
        return Err() << "shared library " << name
                     << " not found (install its package on the build host)";
      }
      path = target;  // empty for the vDSO on some ldd versions ("=>  (0x...)")
    } else {
      path = StripAddress(line);  // the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
    }
    if (path.empty() || path[0] != '/') continue;  // linux-vdso.so.1 has no file
    libs.emplace_back(path);
  }
  return libs;
}

Result<std::vector<std::string>> SharedLibraries(const std::string& binary,
                                                 const std::string& ldd) {
  int status = 0;
  auto out = RunCapture({ldd, binary}, &status);
  if (!out.ok()) return out.error();
  auto libs = ParseLddOutput(*out);
  if (!libs.ok()) return Wrap(libs.error(), binary);
  // ldd exits 1 for static binaries ("not a dynamic executable").
  if (libs->empty() && WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return Err() << "cannot run " << ldd << " for " << binary;
  }
  return libs;
}

Result<std::vector<FileMapping>> SidecarFiles(const SidecarFilesSpec& spec) {
  std::map<std::string, std::string> by_dest;
  const std::pair<std::string, std::string> programs[] = {
      {spec.sshd, "/usr/sbin/sshd"},
      {spec.keygen, "/usr/bin/ssh-keygen"},
      {spec.shell, "/bin/busybox"},
  };
  for (const auto& [src, dest] : programs) {
    if (::access(src.c_str(), X_OK) != 0) {
      return ErrnoError() << "sidecar program " << src
                          << " (install openssh-server, openssh-client, busybox-static)";
    }
    by_dest[dest] = src;
    auto libs = SharedLibraries(src, spec.ldd);
    if (!libs.ok()) return libs.error();
    for (const auto& l : *libs) by_dest[l] = l;
  }
  std::vector<FileMapping> files;
  for (const auto& [dest, src] : by_dest) files.push_back({src, dest});
  return files;
}

std::string SidecarManifestText(const std::vector<FileMapping>& files) {
  std::string s = "# Files the InitOS SSH sidecar copies into its own root at boot.\n";
  for (const auto& f : files) s += f.dest + "\n";
  return s;
}

Result<std::vector<std::string>> ParseSidecarManifest(std::string_view text) {
  std::vector<std::string> paths;
  int lineno = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::string p(line);
    if (p[0] != '/' || p.find("/../") != std::string::npos ||
        (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0)) {
      return Err() << kSidecarManifest << ":" << lineno << ": '" << p
                   << "' must be an absolute path without '..'";
    }
    paths.push_back(p);
  }
  return paths;
}

}  // namespace sidecar
}  // namespace initos
