#include "format/boot_timeline.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace initos {
inline namespace format {
namespace {

struct LogLine {
  double ts = 0;
  std::string_view message;
};

// "[    1.234567] message" -> {1.234567, "message"}; nullopt for other lines.
std::optional<LogLine> ParseLine(std::string_view line) {
  if (!line.starts_with('[')) return std::nullopt;
  size_t close = line.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  std::string stamp(line.substr(1, close - 1));
  char* end = nullptr;
  double ts = std::strtod(stamp.c_str(), &end);
  if (end == stamp.c_str()) return std::nullopt;
  std::string_view msg = line.substr(close + 1);
  while (msg.starts_with(' ')) msg.remove_prefix(1);
  return LogLine{ts, msg};
}

// The value of " t=SECONDS" in an initos line (PID 1's own clock).
std::optional<double> TimeField(std::string_view msg) {
  size_t at = msg.rfind(" t=");
  if (at == std::string_view::npos) return std::nullopt;
  std::string v(msg.substr(at + 3));
  char* end = nullptr;
  double t = std::strtod(v.c_str(), &end);
  if (end == v.c_str()) return std::nullopt;
  return t;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", s);
  return buf;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

Result<BootTimeline> ParseBootLog(std::string_view log) {
  BootTimeline t;
  std::optional<double> run_init, stage_start;
  bool os_started = false, os_first_line = false;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    if (nl == std::string_view::npos) nl = log.size();
    std::string_view raw = log.substr(pos, nl - pos);
    pos = nl + 1;
    while (raw.ends_with('\r')) raw.remove_suffix(1);
    auto line = ParseLine(raw);
    if (!line) continue;
    std::string_view msg = line->message;
    if (!run_init && msg.starts_with("Run /init as init process")) {
      run_init = line->ts;
      t.spans.push_back({"kernel", 0, line->ts, false});
      continue;
    }
    if (!run_init) continue;
    if (!msg.starts_with("initos: ")) {
      // The OS init's first word on the console after the handover.
      if (os_started && !os_first_line && !msg.starts_with("initos-sidecar: ")) {
        t.marks.push_back({"OS init's first line", line->ts});
        os_first_line = true;
      }
      continue;
    }
    msg.remove_prefix(8);
    auto time = TimeField(msg);
    if (msg.starts_with("initos ") && msg.find(" init starting t=") != std::string_view::npos) {
      stage_start = time;
    } else if (msg.starts_with("stage ") && time && stage_start) {
      std::string_view rest = msg.substr(6);
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) continue;
      bool failed = rest.substr(sp + 1).starts_with("failed");
      t.spans.push_back({std::string(rest.substr(0, sp)), *stage_start, *time, failed});
      stage_start = time;
    } else if (msg.starts_with("starting main: ") && time) {
      t.marks.push_back({"main program started", *time});
    } else if (msg.starts_with("exec OS init: ") && time) {
      t.marks.push_back({"OS init started", *time});
      os_started = true;
    } else if (msg.starts_with("sidecar: started")) {
      t.marks.push_back({"sidecar started", line->ts});
    }
  }
  if (!run_init)
    return Err() << "no 'Run /init as init process' line: give the serial console capture or "
                    "/dev/kmsg of a boot from an initos initramfs";
  if (t.spans.size() == 1)
    return Err() << "no 'initos: stage NAME done' lines after 'Run /init': is /init initos, and "
                    "is the log complete?";
  return t;
}

std::string FormatTimeline(const BootTimeline& t) {
  std::string out = "boot timeline (seconds since the kernel started)\n";
  char buf[160];
  for (const TimelineSpan& s : t.spans) {
    std::snprintf(buf, sizeof(buf), "  %-24s %8s -> %8s  %7s s%s\n",
                  (s.name == "kernel" ? s.name : "stage " + s.name).c_str(),
                  Seconds(s.start).c_str(), Seconds(s.end).c_str(),
                  Seconds(s.end - s.start).c_str(), s.failed ? "  FAILED" : "");
    out += buf;
  }
  for (const TimelineMark& m : t.marks) {
    std::snprintf(buf, sizeof(buf), "  %-24s %8s\n", m.name.c_str(), Seconds(m.at).c_str());
    out += buf;
  }
  return out;
}

std::string TimelineSvg(const BootTimeline& t) {
  double end = 0;
  for (const auto& s : t.spans) end = std::max(end, s.end);
  for (const auto& m : t.marks) end = std::max(end, m.at);
  if (end <= 0) end = 1;
  const int kLeft = 180, kWidth = 800, kRow = 22;
  const int height = static_cast<int>(t.spans.size() + t.marks.size()) * kRow + 40;
  auto x = [&](double s) { return kLeft + static_cast<int>(s / end * kWidth); };
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         std::to_string(kLeft + kWidth + 80) + "\" height=\"" + std::to_string(height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<title>initos boot timeline</title>\n";
  int y = 10;
  for (const TimelineSpan& s : t.spans) {
    int x0 = x(s.start), w = std::max(1, x(s.end) - x0);
    std::string fill = s.failed ? "#d9534f" : (s.name == "kernel" ? "#9aa5b1" : "#3b82c4");
    svg += "<text x=\"4\" y=\"" + std::to_string(y + 13) + "\">" +
           XmlEscape(s.name == "kernel" ? s.name : "stage " + s.name) + "</text>\n";
    svg += "<rect x=\"" + std::to_string(x0) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           std::to_string(w) + "\" height=\"16\" fill=\"" + fill + "\"><title>" +
           XmlEscape(s.name) + ": " + Seconds(s.end - s.start) + " s</title></rect>\n";
    svg += "<text x=\"" + std::to_string(x0 + w + 4) + "\" y=\"" + std::to_string(y + 13) + "\">" +
           Seconds(s.end - s.start) + " s</text>\n";
    y += kRow;
  }
  for (const TimelineMark& m : t.marks) {
    int xm = x(m.at);
    svg += "<line x1=\"" + std::to_string(xm) + "\" y1=\"10\" x2=\"" + std::to_string(xm) +
           "\" y2=\"" + std::to_string(y + 16) + "\" stroke=\"#e8a33d\"/>\n";
    svg += "<text x=\"4\" y=\"" + std::to_string(y + 13) + "\">" + XmlEscape(m.name) + " at " +
           Seconds(m.at) + " s</text>\n";
    y += kRow;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace format
}  // namespace initos
