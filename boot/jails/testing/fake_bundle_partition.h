// Tests only (header-only): a VM jail's bundle as the partition
// PARTLABEL=vmroot (vdb1, 254:17) of a fake /dev and /sys/class/block under
// a test directory, so the jail-mode hooks find it with the real locator
// code without a loop device.
#pragma once

#include <filesystem>
#include <string>

#include "base/file.h"
#include "base/result.h"
#include "boot/rootfs/rootfs_stage.h"

namespace initos::testutil {

// Points env's device, sysfs and run roots below dir and copies bundle in
// as the partition's device node; returns that path (the bundle a test may
// then flip bytes of).
inline Result<std::string> FakeBundlePartition(BootEnv& env, const std::string& dir,
                                               const std::string& bundle) {
  env.dev_dir = dir + "/dev";
  env.class_block_dir = dir + "/sys/class/block";
  env.sys_root = dir + "/sys";
  env.run_dir = dir + "/run/initos";
  env.device_timeout_ms = 200;
  INITOS_TRY(MakeDirs(env.dev_dir));
  INITOS_TRY(MakeDirs(env.class_block_dir + "/vdb1"));
  INITOS_TRY(WriteStringToFile(env.class_block_dir + "/vdb1/uevent",
                               "MAJOR=254\nMINOR=17\nDEVNAME=vdb1\nDEVTYPE=partition\n"
                               "PARTN=1\nPARTNAME=vmroot\n"));
  std::string device = env.dev_dir + "/vdb1";
  std::error_code ec;
  std::filesystem::copy_file(bundle, device, ec);
  if (ec) return Err() << "copy " << bundle << " to " << device << ": " << ec.message();
  return device;
}

}  // namespace initos::testutil
