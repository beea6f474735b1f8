// The SSH sidecar's sshd configuration and the small files sshd needs in the
// sidecar's own root (pure text generation; the launcher writes them).
//
// Policy: public-key login only (no passwords, no keyboard-interactive, no
// PAM: the sidecar root has none), root may log in with a key only, and the
// keys come only from the signed config (sidecar.authorized-keys). Nothing on
// the state partition is consulted: root in the OS can write that partition,
// and a key it planted there would be a way into the sidecar that no
// signature covers.
#pragma once

#include <string>
#include <vector>

namespace initos {
inline namespace sidecar {

// Paths inside the sidecar's root.
inline constexpr char kSidecarEtc[] = "/etc/initos/sidecar";
inline constexpr char kSidecarSshdConfig[] = "/etc/initos/sidecar/sshd_config";
inline constexpr char kSidecarAuthorizedKeys[] = "/etc/initos/sidecar/authorized_keys";
// The state partition (persistent) as the sidecar sees it.
inline constexpr char kSidecarStateDir[] = "/run/initos/state";
inline constexpr char kSidecarStateHostKey[] = "/run/initos/state/sidecar/ssh_host_ed25519_key";
// Without a state partition the host key lives (and dies) with the tmpfs.
inline constexpr char kSidecarEphemeralHostKey[] = "/etc/initos/sidecar/ssh_host_ed25519_key";

struct SshdConfigSpec {
  std::vector<std::string> listen = {"0.0.0.0:22"};  // "IPv4:port" or "[IPv6]:port"
  std::vector<std::string> host_keys = {kSidecarStateHostKey};
  std::vector<std::string> authorized_keys_files = {kSidecarAuthorizedKeys};
};

// sshd_config text (sshd -f). Every path must be absolute; the caller
// validates listen addresses (the config helper does).
std::string GenerateSshdConfig(const SshdConfigSpec& spec);

// authorized_keys text: one key per line, blank entries and line breaks
// inside an entry dropped (one entry can never become two keys).
std::string AuthorizedKeysText(const std::vector<std::string>& keys);

// Minimal /etc/passwd and /etc/group: root (shell /bin/sh, home /root) and
// sshd's privilege separation user (chroot /run/sshd).
std::string SidecarPasswd();
std::string SidecarGroup();

}  // namespace sidecar
}  // namespace initos
