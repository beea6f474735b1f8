#include "image/bundle_cli.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <optional>

#include "base/file.h"
#include "base/options.h"
#include "format/signing.h"
#include "image/bundle.h"

namespace initos {
inline namespace image {
namespace {

constexpr const char kKeygenUsage[] =
    "usage: initos image keygen -o DIR [--type ed25519|ecdsa-p256] [--force]\n"
    "\n"
    "Creates an image signing key pair: DIR/signing.key (private, mode 0600) and\n"
    "DIR/signing.pub (give this to devices as a trusted key). Existing keys are\n"
    "never overwritten unless --force is given. Default type: ed25519.\n";

constexpr const char kBuildUsage[] =
    "usage: initos image build --rootfs DIR|TARBALL --key signing.key --name NAME\n"
    "                          --version N -o OUT.bundle [--salt HEX] [--created SECONDS]\n"
    "                          [--uuid UUID] [--tmpdir DIR]\n"
    "\n"
    "Builds a signed bundle: an EROFS image of the root filesystem (mkfs.erofs),\n"
    "its dm-verity hash tree, and a signed manifest pinning the root hash.\n"
    "  --salt HEX        verity salt (default: 32 random bytes)\n"
    "  --created SECONDS timestamp of the image and every file in it (default:\n"
    "                    $SOURCE_DATE_EPOCH, else now)\n"
    "  --uuid UUID       filesystem and verity UUID (default: derived from name,\n"
    "                    version and salt)\n"
    "With --salt and --created the output is byte-for-byte reproducible.\n";

constexpr const char kVerifyUsage[] =
    "usage: initos image verify BUNDLE --key signing.pub [--key other.pub]...\n"
    "\n"
    "Checks the header, the manifest signature against the trusted keys (any of\n"
    "them may match, for key rotation), the layout, and every data and hash-tree\n"
    "block. Exit 0 if all is well; otherwise exit 1 with one line naming the problem.\n";

constexpr const char kInfoUsage[] =
    "usage: initos image info BUNDLE [--json]\n"
    "\n"
    "Prints the manifest of a bundle (the signature is NOT checked; use `initos\n"
    "image verify`). hash_offset is what `veritysetup --hash-offset` expects.\n";

int Usage(const char* usage, const std::string& error) {
  std::fprintf(stderr, "initos image: %s\n%s", error.c_str(), usage);
  return 2;
}

int Fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), e.str().c_str());
  return 1;
}

Result<uint64_t> ParseDecimal(const std::string& what, const std::string& s) {
  if (s.empty() || s.size() > 20) return Err() << what << " must be a decimal number";
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Err() << what << " must be a decimal number, got '" << s << "'";
    if (v > (UINT64_MAX - (c - '0')) / 10) return Err() << what << " is too large";
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Progress on stderr, only for a human watching a terminal. Finish() ends
// the line, since the callback need not be called for the last block.
class TtyProgress {
 public:
  explicit TtyProgress(const char* label) : label_(label), tty_(::isatty(STDERR_FILENO)) {}
  ~TtyProgress() { Finish(); }
  ProgressFn Fn() {
    if (!tty_) return {};
    return [this](uint64_t done, uint64_t total) {
      int pct = total ? static_cast<int>(done * 100 / total) : 100;
      if (pct == last_) return;
      last_ = pct;
      std::fprintf(stderr, "\r%s: %3d%%", label_, pct);
    };
  }
  void Finish() {
    if (last_ >= 0) std::fputs("\r\033[K", stderr);  // erase the progress line
    last_ = -1;
  }

 private:
  const char* label_;
  bool tty_;
  int last_ = -1;
};

Result<void> WriteKeyFile(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  auto fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (!fd.ok()) return fd.error();
  // fchmod: the umask must not widen or narrow what was asked for.
  if (::fchmod(fd->get(), mode) != 0) return ErrnoError() << "chmod " << tmp;
  auto w = WriteFully(fd->get(), data.data(), data.size());
  if (!w.ok()) return ErrnoErrorCode(w.error().code) << "write " << tmp;
  if (::fsync(fd->get()) != 0) return ErrnoError() << "fsync " << tmp;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError() << "rename " << tmp;
  return {};
}

std::string Field(const char* key, const std::string& value) {
  return std::string(key) + ": " + value + "\n";
}

}  // namespace

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

int ImageKeygenMain(const std::vector<std::string>& argv) {
  auto a = Options::Parse(argv, {{"--output", "-o", true}, {"--type", "", true}, {"--force"}});
  if (!a.ok()) return Usage(kKeygenUsage, a.error().str());
  if (a->help()) return std::fputs(kKeygenUsage, stdout), 0;
  auto dir = a->One("--output");
  if (!dir) return Usage(kKeygenUsage, "keygen needs -o DIR");
  if (!a->positional().empty())
    return Usage(kKeygenUsage, "unexpected argument " + a->positional()[0]);
  auto type = ParseKeyType(a->One("--type").value_or("ed25519"));
  if (!type.ok()) return Usage(kKeygenUsage, type.error().str());

  std::string key_path = *dir + "/signing.key", pub_path = *dir + "/signing.pub";
  if (!a->Has("--force")) {
    for (const auto& p : {key_path, pub_path}) {
      if (::access(p.c_str(), F_OK) == 0) {
        std::fprintf(stderr, "%s: already exists; refusing to overwrite a key (use --force)\n",
                     p.c_str());
        return 1;
      }
    }
  }
  if (auto r = MakeDirs(*dir, 0700); !r.ok()) return Fail(*dir, r.error());
  auto pair = GenerateKeyPair(*type);
  if (!pair.ok()) return Fail("keygen", pair.error());
  if (auto r = WriteKeyFile(key_path, pair->private_pem, 0600); !r.ok()) {
    return Fail(key_path, r.error());
  }
  if (auto r = WriteKeyFile(pub_path, pair->public_pem, 0644); !r.ok()) {
    return Fail(pub_path, r.error());
  }
  auto pub = ParsePublicKeyPem(pair->public_pem, pub_path);
  if (!pub.ok()) return Fail(pub_path, pub.error());
  std::printf("%s: %s private key (keep secret)\n%s: public key, fingerprint %s\n",
              key_path.c_str(), KeyTypeName(*type), pub_path.c_str(), pub->fingerprint.c_str());
  std::fprintf(stderr,
               "DEVELOPMENT KEY: %s is an unprotected file on this machine; for production "
               "keep the signing key offline or in an HSM\n",
               key_path.c_str());
  return 0;
}

int ImageBuildMain(const std::vector<std::string>& argv) {
  auto a = Options::Parse(argv, {{"--rootfs", "", true},
                                 {"--key", "", true},
                                 {"--name", "", true},
                                 {"--version", "", true},
                                 {"--output", "-o", true},
                                 {"--salt", "", true},
                                 {"--seed", "", true},
                                 {"--created", "", true},
                                 {"--uuid", "", true},
                                 {"--tmpdir", "", true}});
  if (!a.ok()) return Usage(kBuildUsage, a.error().str());
  if (a->help()) return std::fputs(kBuildUsage, stdout), 0;
  if (!a->positional().empty())
    return Usage(kBuildUsage, "unexpected argument " + a->positional()[0]);
  auto out = a->One("--output");
  for (const char* req : {"--rootfs", "--key", "--name", "--version"}) {
    if (!a->One(req)) return Usage(kBuildUsage, std::string("build needs ") + req);
  }
  if (!out) return Usage(kBuildUsage, "build needs -o OUT.bundle");

  BundleBuildOptions o;
  o.rootfs = *a->One("--rootfs");
  o.output = *out;
  o.name = *a->One("--name");
  o.uuid = a->One("--uuid").value_or("");
  o.temp_dir = a->One("--tmpdir").value_or(::getenv("TMPDIR") ? ::getenv("TMPDIR") : "/tmp");
  auto version = ParseDecimal("--version", *a->One("--version"));
  if (!version.ok()) return Usage(kBuildUsage, version.error().str());
  o.version = *version;
  const char* sde = ::getenv("SOURCE_DATE_EPOCH");
  if (sde && !*sde) sde = nullptr;
  if (auto c = a->One("--created")) {
    auto v = ParseDecimal("--created", *c);
    if (!v.ok()) return Usage(kBuildUsage, v.error().str());
    o.created = *v;
  } else if (sde) {
    auto v = ParseDecimal("SOURCE_DATE_EPOCH", sde);
    if (!v.ok()) return Usage(kBuildUsage, v.error().str());
    o.created = *v;
  } else if (a->Has("--seed")) {
    return Usage(kBuildUsage,
                 "--seed makes the salt reproducible but the creation time would be now; "
                 "set SOURCE_DATE_EPOCH or --created");
  } else {
    o.created = static_cast<uint64_t>(std::time(nullptr));
  }
  if (auto s = a->One("--salt")) {
    auto salt = HexDecode(*s);
    if (!salt.ok() || salt->size() > 256) {
      return Usage(kBuildUsage, "--salt must be hex, at most 256 bytes");
    }
    o.salt = *salt;
  } else if (auto seed = a->One("--seed")) {
    o.salt = DeriveSalt(*seed, o.name, o.version);
  } else if (sde) {
    // A release build: anyone rebuilding with the same SOURCE_DATE_EPOCH
    // gets the same salt, so the same root hash.
    o.salt = DeriveSalt(std::string("SOURCE_DATE_EPOCH=") + sde, o.name, o.version);
  } else {
    o.salt.resize(32);
    if (RAND_bytes(o.salt.data(), static_cast<int>(o.salt.size())) != 1) {
      return Fail("build", Err() << "no random bytes for the salt");
    }
  }
  auto key = LoadPrivateKey(*a->One("--key"));
  if (!key.ok()) return Fail("build", key.error());
  TtyProgress progress("hashing");
  auto m = BuildBundle(o, *key, progress.Fn());
  progress.Finish();
  if (!m.ok()) return Fail(o.output, m.error());
  std::printf("%s: %s version %llu, %llu data bytes, root hash %s, signed by %s\n",
              o.output.c_str(), m->name.c_str(), static_cast<unsigned long long>(m->version),
              static_cast<unsigned long long>(m->data_size), m->root_hash.c_str(),
              key->fingerprint.c_str());
  return 0;
}

int ImageVerifyMain(const std::vector<std::string>& argv) {
  auto a = Options::Parse(argv, {{"--key", "", true}});
  if (!a.ok()) return Usage(kVerifyUsage, a.error().str());
  if (a->help()) return std::fputs(kVerifyUsage, stdout), 0;
  if (a->positional().size() != 1) return Usage(kVerifyUsage, "verify needs exactly one BUNDLE");
  if (!a->Has("--key")) return Usage(kVerifyUsage, "verify needs at least one --key");
  const std::string& path = a->positional()[0];
  std::vector<SigningKey> trusted;
  for (const auto& k : a->All("--key")) {
    auto key = LoadPublicKey(k);
    if (!key.ok()) return Fail(path, key.error());
    trusted.push_back(std::move(*key));
  }
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return Fail(path, Err() << "cannot open: " << std::strerror(fd.error().code));
  TtyProgress progress("verifying");
  auto v = VerifyBundle(fd->get(), trusted, progress.Fn());
  progress.Finish();
  if (!v.ok()) return Fail(path, v.error());
  const Manifest& m = v->bundle.manifest;
  const SigningKey& k = trusted[v->key_index];
  std::printf("%s: OK: %s version %llu, root hash %s, signed by %s (%s)\n", path.c_str(),
              m.name.c_str(), static_cast<unsigned long long>(m.version), m.root_hash.c_str(),
              k.fingerprint.c_str(), k.source.c_str());
  return 0;
}

int ImageInfoMain(const std::vector<std::string>& argv) {
  auto a = Options::Parse(argv, {{"--json"}});
  if (!a.ok()) return Usage(kInfoUsage, a.error().str());
  if (a->help()) return std::fputs(kInfoUsage, stdout), 0;
  if (a->positional().size() != 1) return Usage(kInfoUsage, "info needs exactly one BUNDLE");
  const std::string& path = a->positional()[0];
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return Fail(path, Err() << "cannot open: " << std::strerror(fd.error().code));
  auto b = ReadBundle(fd->get());
  if (!b.ok()) return Fail(path, b.error());
  const Manifest& m = b->manifest;
  auto n = [](uint64_t v) { return std::to_string(v); };
  std::vector<std::pair<const char*, std::string>> strings = {
      {"name", m.name},       {"root_hash", m.root_hash},
      {"salt", m.salt},       {"hash_algorithm", m.hash_algorithm},
      {"fs_type", m.fs_type}, {"uuid", m.uuid},
  };
  std::vector<std::pair<const char*, uint64_t>> numbers = {
      {"version", m.version},
      {"created", m.created},
      {"data_block_size", m.data_block_size},
      {"hash_block_size", m.hash_block_size},
      {"data_offset", m.data_offset},
      {"data_size", m.data_size},
      {"data_blocks", m.data_size / m.data_block_size},
      {"hash_offset", m.hash_offset},
      {"hash_size", m.hash_size},
  };
  std::string out;
  if (a->Has("--json")) {
    out = "{";
    bool first = true;
    for (const auto& [k, v] : strings) {
      out += std::string(first ? "\n  " : ",\n  ") + JsonQuote(k) + ": " + JsonQuote(v);
      first = false;
    }
    for (const auto& [k, v] : numbers) out += ",\n  " + JsonQuote(k) + ": " + n(v);
    out += "\n}\n";
  } else {
    for (const auto& [k, v] : strings) out += Field(k, v);
    for (const auto& [k, v] : numbers) out += Field(k, n(v));
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace image
}  // namespace initos
