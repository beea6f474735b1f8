// Test fixtures for code that writes or reads bundles: signing keys and
// small signed bundles, built the same way in every upgrade test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/file.h"
#include "format/signing.h"
#include "image/bundle.h"

namespace initos::testutil {

// DIR/NAME.key and DIR/NAME.pub (ed25519) for each name.
inline void WriteTestKeys(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& k : names) {
    auto pair = GenerateKeyPair(KeyType::kEd25519);
    ASSERT_TRUE(pair.ok());
    ASSERT_TRUE(WriteStringToFile(dir + "/" + k + ".key", pair->private_pem, 0600).ok());
    ASSERT_TRUE(WriteStringToFile(dir + "/" + k + ".pub", pair->public_pem).ok());
  }
}

// DIR/OUT from the tree DIR/TREE: image "testos", `version`, signed with
// DIR/KEY.key, a fixed creation time and a salt of 32 `salt` bytes.
inline void BuildTestBundle(const std::string& dir, const std::string& tree, const std::string& out,
                            const std::string& key, uint64_t version, uint8_t salt) {
  auto k = LoadPrivateKey(dir + "/" + key + ".key");
  ASSERT_TRUE(k.ok()) << k.error().str();
  BundleBuildOptions o;
  o.rootfs = dir + "/" + tree;
  o.output = dir + "/" + out;
  o.name = "testos";
  o.version = version;
  o.created = 1700000000;
  o.salt = std::vector<uint8_t>(32, salt);
  o.temp_dir = dir;
  auto m = BuildBundle(o, *k);
  ASSERT_TRUE(m.ok()) << m.error().str();
}

}  // namespace initos::testutil
