#include "sidecar/sshd_config.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "base/file.h"
#include "gtest/gtest.h"

namespace initos {
namespace {

// Keyword (lower case) -> values, as sshd reads them.
std::multimap<std::string, std::string> Directives(const std::string& text) {
  std::multimap<std::string, std::string> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find(' ');
    std::string key = line.substr(0, sp);
    for (auto& c : key) c = static_cast<char>(std::tolower(c));
    m.emplace(key, sp == std::string::npos ? "" : line.substr(sp + 1));
  }
  return m;
}

std::string One(const std::multimap<std::string, std::string>& m, const std::string& k) {
  EXPECT_EQ(m.count(k), 1u) << k;
  auto it = m.find(k);
  return it == m.end() ? "" : it->second;
}

TEST(SshdConfig, KeyOnlyPolicyAndPaths) {
  SshdConfigSpec spec;
  spec.listen = {"0.0.0.0:22", "[::]:2222"};
  auto d = Directives(GenerateSshdConfig(spec));
  EXPECT_EQ(One(d, "passwordauthentication"), "no");
  EXPECT_EQ(One(d, "kbdinteractiveauthentication"), "no");
  EXPECT_EQ(One(d, "permitrootlogin"), "prohibit-password");
  EXPECT_EQ(One(d, "usepam"), "no");
  EXPECT_EQ(One(d, "pidfile"), "none");
  EXPECT_EQ(One(d, "hostkey"), kSidecarStateHostKey);
  // Only the file generated from the signed config, nothing on the state
  // partition (root in the OS can write there).
  EXPECT_EQ(One(d, "authorizedkeysfile"), kSidecarAuthorizedKeys);
  EXPECT_EQ(GenerateSshdConfig(spec).find("/run/initos/state/sidecar/authorized_keys"),
            std::string::npos);
  auto [b, e] = d.equal_range("listenaddress");
  std::vector<std::string> listen;
  for (auto it = b; it != e; ++it) listen.push_back(it->second);
  EXPECT_EQ(listen, spec.listen);
}

TEST(SshdConfig, AuthorizedKeysOneLinePerKey) {
  EXPECT_EQ(AuthorizedKeysText({"ssh-ed25519 AAAA a@b", "", "  ", "  ssh-rsa BBBB\nsneaky"}),
            "ssh-ed25519 AAAA a@b\nssh-rsa BBBBsneaky\n");
  EXPECT_EQ(AuthorizedKeysText({}), "");
}

TEST(SshdConfig, PasswdHasRootAndPrivsepUser) {
  std::string p = SidecarPasswd();
  EXPECT_EQ(p.rfind("root:x:0:0:", 0), 0u);
  EXPECT_NE(p.find("\nsshd:x:"), std::string::npos);
  EXPECT_NE(p.find(":/run/sshd:"), std::string::npos);
  EXPECT_EQ(SidecarGroup().rfind("root:x:0:", 0), 0u);
}

// The real sshd must accept the generated file and see the policy we meant
// (sshd -T prints the effective configuration).
TEST(SshdConfig, RealSshdAcceptsIt) {
  if (::access("/usr/sbin/sshd", X_OK) != 0 || ::access("/usr/bin/ssh-keygen", X_OK) != 0) {
    GTEST_SKIP() << "openssh-server not installed";
  }
  char t[] = "/tmp/sshd_config_test.XXXXXX";
  std::string dir = ::mkdtemp(t);
  ASSERT_EQ(std::system(("ssh-keygen -q -t ed25519 -N '' -f " + dir + "/hk").c_str()), 0);
  SshdConfigSpec spec;
  spec.listen = {"127.0.0.1:2200"};
  spec.host_keys = {dir + "/hk"};
  spec.authorized_keys_files = {dir + "/ak"};
  ASSERT_TRUE(WriteStringToFile(dir + "/cfg", GenerateSshdConfig(spec)).ok());
  std::string cmd = "/usr/sbin/sshd -T -f " + dir + "/cfg 2>&1";
  // sshd -T insists on its privilege separation directory. A host without
  // a running sshd has no /run/sshd: give this sshd one in a private mount
  // namespace (a user namespace too when not root), leaving the host alone.
  if (::access("/run/sshd", F_OK) != 0) {
    cmd = std::string("unshare --mount") + (::geteuid() == 0 ? "" : " --map-root-user") +
          " sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec " +
          cmd + "' 2>&1";
  }
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  std::system(("rm -rf " + dir).c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  for (const char* want : {"passwordauthentication no", "kbdinteractiveauthentication no",
                           "permitrootlogin without-password", "usepam no", "pidfile none",
                           "listenaddress 127.0.0.1:2200", "pubkeyauthentication yes"}) {
    EXPECT_NE(out.find(std::string("\n") + want + "\n"), std::string::npos) << want << "\n" << out;
  }
}

}  // namespace
}  // namespace initos
