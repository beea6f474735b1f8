#include "boot/rootfs/measured_boot.h"

#include "base/log.h"
#include "format/measurement.h"
#include "os/tpm.h"

namespace initos {
inline namespace boot {

MeasuredBoot MeasureBootedBundle(const BootedRecord& image, const std::string& dev_dir) {
  MeasuredBoot m;
  auto tpm = OpenTpm(dev_dir);
  if (tpm.ok() && !tpm->has_value()) {
    LOG(Notice) << "no TPM: boot not measured";
    m.state = "no-tpm";
    return m;
  }
  const std::string pcr = std::to_string(kMeasuredBootPcr);
  auto failed = [&](const Error& e) {
    LOG(Error) << "measured boot FAILED: " << e.str() << "; booting on unmeasured (bundle "
               << image.name << " " << image.version
               << " was verified), remote attestation of this boot will fail";
    m.state = "failed";
    m.event.clear();
    return m;
  };
  if (!tpm.ok()) return failed(tpm.error());
  const TpmDevice& dev = **tpm;
  Sha256Digest event = BundleEventDigest(image.name, image.version, image.root_hash);
  auto extended = TpmPcrExtend(dev, kMeasuredBootPcr, event);
  if (!extended.ok()) return failed(extended.error());
  m.state = "pcr11";
  m.event = HexOf(event);
  auto now = TpmPcrRead(dev, kMeasuredBootPcr);
  if (now.ok()) m.pcr = HexOf(*now);
  LOG(Info) << "measured bundle " << image.name << " " << image.version << " into PCR " << pcr
            << ": event sha256:" << m.event << ", PCR " << pcr << " now "
            << (now.ok() ? m.pcr : "unknown (" + now.error().str() + ")");
  return m;
}

void RecordMeasurement(const MeasuredBoot& m, BootStatus& status) {
  status.measured = m.state;
  status.measured_event = m.event;
  status.measured_pcr = m.pcr;
}

}  // namespace boot
}  // namespace initos
