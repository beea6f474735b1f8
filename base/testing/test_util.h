// Helpers for tests only (header-only, not part of initos_core): temporary
// directories and running a real program with captured output.
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/file.h"

namespace initos::testutil {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/initos-test.XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    ::nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct RunResult {
  int status = -1;  // exit code, or 128+signal
  std::string out;
  std::string err;
};

// Runs argv (PATH searched) in cwd with stdin from stdin_file ("" = /dev/null).
// Output goes through files, so large outputs cannot deadlock.
inline RunResult RunProgram(const std::vector<std::string>& argv, const std::string& cwd = "",
                            const std::string& stdin_file = "",
                            const std::vector<std::string>& extra_env = {}) {
  RunResult r;
  TempDir io;
  std::string out_path = io / "out", err_path = io / "err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    for (const auto& kv : extra_env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (auto s = ReadFileToString(out_path); s.ok()) r.out = *s;
  if (auto s = ReadFileToString(err_path); s.ok()) r.err = *s;
  return r;
}

// Runs a shell command line with stderr folded into stdout (for messages in
// assertions). wait_status is pclose's; code the exit code, -1 when the
// command was killed or could not start.
struct ShellResult {
  int wait_status = -1;
  int code = -1;
  std::string out;
};

inline ShellResult Shell(const std::string& cmd) {
  ShellResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "re");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  r.wait_status = ::pclose(p);
  r.code = WIFEXITED(r.wait_status) ? WEXITSTATUS(r.wait_status) : -1;
  return r;
}

}  // namespace initos::testutil
