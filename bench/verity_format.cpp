// Dev/bench tool: builds a dm-verity tree with our BuildVerityTree, the way
// `veritysetup format DATA HASH` would, and prints the root hash. Used by
// bench/verity.sh to compare speed against veritysetup on the same file.
//
//   verity_format DATA HASH [--salt HEX] [--uuid HEX32] [--hash-offset N]
//                 [--data-blocks N] [--hash ALG] [--threads N] [--verify ROOTHEX]
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/file.h"
#include "format/verity.h"

using namespace initos;

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "verity_format: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_path, hash_path, verify_root;
  VerityParams params;
  uint64_t hash_offset = 0, data_blocks = 0;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--salt" || arg == "--uuid") {
      auto bytes = HexDecode(next());
      if (!bytes.ok()) return Fail(arg + ": " + bytes.error().str());
      if (arg == "--salt") {
        params.salt = *bytes;
      } else {
        if (bytes->size() != params.uuid.size()) return Fail("--uuid takes 32 hex digits");
        std::memcpy(params.uuid.data(), bytes->data(), params.uuid.size());
      }
    } else if (arg == "--hash-offset") {
      hash_offset = std::stoull(next());
    } else if (arg == "--data-blocks") {
      data_blocks = std::stoull(next());
    } else if (arg == "--threads") {
      params.threads = static_cast<unsigned>(std::stoul(next()));
    } else if (arg == "--hash") {
      params.algorithm = next();
    } else if (arg == "--verify") {
      verify_root = next();
    } else if (data_path.empty()) {
      data_path = arg;
    } else if (hash_path.empty()) {
      hash_path = arg;
    } else {
      return Fail("unexpected argument " + arg);
    }
  }
  if (hash_path.empty()) return Fail("usage: verity_format DATA HASH [--salt HEX] ...");

  auto data = OpenFile(data_path, O_RDONLY);
  if (!data.ok()) return Fail(data.error().str());
  auto hash = OpenFile(hash_path, verify_root.empty() ? O_RDWR | O_CREAT : O_RDONLY, 0644);
  if (!hash.ok()) return Fail(hash.error().str());
  uint64_t data_size = data_blocks * params.data_block_size;
  if (data_blocks == 0) {
    struct stat st {};
    if (fstat(data->get(), &st) != 0) return Fail("fstat " + data_path);
    data_size = static_cast<uint64_t>(st.st_size);
  }

  const auto start = std::chrono::steady_clock::now();
  if (!verify_root.empty()) {
    auto root = HexDecode(verify_root);
    if (!root.ok()) return Fail(root.error().str());
    auto r = VerifyVerityTree(data->get(), 0, data_size, hash->get(), hash_offset, params, *root);
    if (!r.ok()) return Fail(r.error().str());
    std::printf("verified\n");
    return 0;
  }
  auto tree = BuildVerityTree(data->get(), 0, data_size, hash->get(), hash_offset, params);
  if (!tree.ok()) return Fail(tree.error().str());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("Root hash: %s\n", HexEncode(tree->root_hash).c_str());
  std::fprintf(stderr, "data blocks %llu, tree %llu bytes, %.3f s\n",
               static_cast<unsigned long long>(tree->data_blocks),
               static_cast<unsigned long long>(tree->hash_size), secs);
  return 0;
}
