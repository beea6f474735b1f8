#include "image/erofs.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/spawn.h"

namespace initos {
inline namespace image {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

}  // namespace

Result<ScratchDir> ScratchDir::Create(const std::string& parent, const std::string& prefix) {
  std::string tmpl = parent + "/" + prefix + ".XXXXXX";
  if (!::mkdtemp(tmpl.data())) return ErrnoError() << "mkdtemp in " << parent;
  ScratchDir d;
  d.path_ = tmpl;
  return d;
}

std::string FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* env = ::getenv("PATH");
  std::string path = env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  for (;;) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    if (dir.empty()) dir = ".";
    std::string full = dir + "/" + name;
    struct stat st;
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(full.c_str(), X_OK) == 0) {
      return full;
    }
    if (colon == std::string::npos) return "";
    start = colon + 1;
  }
}

Result<void> RemoveTree(const std::string& path) {
  if (::nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
    return ErrnoError() << "remove " << path;
  }
  return {};
}

Result<void> RunTool(const std::vector<std::string>& argv) {
  std::string exe = FindInPath(argv.at(0));
  if (exe.empty()) return ErrnoErrorCode(ENOENT) << argv[0] << " not found in PATH";
  SpawnOptions opts;
  opts.argv = argv;
  opts.argv[0] = exe;
  // stdout is progress chatter: collected and dropped; stderr stays visible.
  auto f = SpawnAndWait(std::move(opts), /*merge_stderr=*/false);
  if (!f.ok()) return Wrap(f.error(), "run " + argv[0]);
  const int status = f->wait_status;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFSIGNALED(status)) return Err() << argv[0] << " killed by signal " << WTERMSIG(status);
  return Err() << argv[0] << " failed with exit status " << WEXITSTATUS(status);
}

Result<void> RunToolQuietly(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env) {
  std::string exe = FindInPath(argv.at(0));
  if (exe.empty()) return ErrnoErrorCode(ENOENT) << argv[0] << " not found in PATH";
  SpawnOptions opts;
  opts.argv = argv;
  opts.argv[0] = exe;
  if (!env.empty()) {
    std::vector<std::string> e;
    for (char** p = environ; *p; p++) e.emplace_back(*p);
    e.insert(e.end(), env.begin(), env.end());
    opts.env = std::move(e);
  }
  auto f = SpawnAndWait(std::move(opts), /*merge_stderr=*/true);
  if (!f.ok()) return Wrap(f.error(), "run " + argv[0]);
  if (f->succeeded()) return {};
  std::string out = f->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::string last = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  const int status = f->wait_status;
  std::string why = WIFSIGNALED(status)
                        ? "killed by signal " + std::to_string(WTERMSIG(status))
                        : "failed with exit status " + std::to_string(WEXITSTATUS(status));
  if (!last.empty()) why += ": " + last;
  return Err() << argv[0] << " " << why;
}

Result<void> MakeErofsImage(const ErofsOptions& o) {
  if (FindInPath("mkfs.erofs").empty()) {
    return Err() << "mkfs.erofs not found: install erofs-utils (scripts/setup.sh)";
  }
  struct stat st;
  if (::stat(o.source.c_str(), &st) != 0) return ErrnoError() << "rootfs " << o.source;
  std::string dir = o.source;
  ScratchDir extracted;
  if (S_ISREG(st.st_mode)) {
    auto tmp = ScratchDir::Create(o.temp_dir, "initos-rootfs");
    if (!tmp.ok()) return tmp.error();
    extracted = std::move(*tmp);
    // GNU tar detects the compression itself. As root, --same-owner and
    // --numeric-owner keep the tarball's uids/gids exactly.
    auto r = RunTool({"tar", "--extract", "--file=" + o.source, "--directory=" + extracted.path(),
                      "--same-owner", "--numeric-owner", "--same-permissions", "--xattrs",
                      "--xattrs-include=*"});
    if (!r.ok()) return Wrap(r.error(), "extract rootfs tarball " + o.source);
    dir = extracted.path();
  } else if (!S_ISDIR(st.st_mode)) {
    return Err() << "rootfs " << o.source << " is neither a directory nor a tarball";
  }
  std::vector<std::string> argv = {"mkfs.erofs", "--quiet", "-T" + std::to_string(o.timestamp)};
  if (!o.uuid.empty()) argv.push_back("-U" + o.uuid);
  argv.push_back(o.image_path);
  argv.push_back(dir);
  auto r = RunTool(argv);
  if (!r.ok()) return Wrap(r.error(), "build EROFS image from " + o.source);
  return {};
}

}  // namespace image
}  // namespace initos
