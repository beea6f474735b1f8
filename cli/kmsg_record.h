// /dev/kmsg records for `initos logs` (Documentation/ABI/testing/dev-kmsg):
// "PRI,SEQ,USEC,FLAGS[,...];MESSAGE\n" followed by optional continuation
// lines " KEY=VALUE\n". A read() of the device returns exactly one record;
// SplitKmsgRecords also accepts several records concatenated (a saved log).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace initos {
inline namespace cli {

struct KmsgRecord {
  int priority = 0;  // facility * 8 + level
  uint64_t seq = 0;
  uint64_t usec = 0;  // CLOCK_MONOTONIC microseconds since boot
  std::string message;
};

// nullopt for anything that is not a well-formed record.
std::optional<KmsgRecord> ParseKmsgRecord(std::string_view record);

// Splits text into records: a record starts at every line that does not
// begin with a space (continuation lines belong to the record before).
std::vector<std::string> SplitKmsgRecords(std::string_view text);

// InitOS' own lines: the "initos: " tag of PID 1 and the tools, and the
// sidecar supervisor's "initos-sidecar: ".
bool IsInitosMessage(std::string_view message);

// "[    4.630000] MESSAGE" (dmesg style).
std::string FormatKmsgLine(const KmsgRecord& r);

}  // namespace cli
}  // namespace initos
