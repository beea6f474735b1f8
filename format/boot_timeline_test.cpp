#include "format/boot_timeline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/file.h"

namespace initos {
namespace {

// Real console captures of two QEMU test boots (run mode, switch-root).
std::string Log(const std::string& name) {
  auto text =
      ReadFileToString(std::string(INITOS_SOURCE_DIR) + "/format/testdata/boot_logs/" + name);
  EXPECT_TRUE(text.ok()) << name;
  return text.ok() ? *text : "";
}

std::vector<std::string> SpanNames(const BootTimeline& t) {
  std::vector<std::string> names;
  for (const auto& s : t.spans) names.push_back(s.name);
  return names;
}

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

TEST(BootTimelineTest, RunModeBootHasTheKernelAndEveryStage) {
  auto t = ParseBootLog(Log("run-main.log"));
  ASSERT_TRUE(t.ok()) << t.error().str();
  EXPECT_EQ(SpanNames(*t), (std::vector<std::string>{"kernel", "early", "mounts", "console",
                                                     "config", "policy", "modules", "rootfs"}));
  EXPECT_DOUBLE_EQ(t->spans[0].end, 1.644502);    // "Run /init as init process"
  EXPECT_DOUBLE_EQ(t->spans[1].start, 1.675803);  // "init starting t="
  EXPECT_DOUBLE_EQ(t->spans[1].end, 1.682106);
  for (size_t i = 2; i < t->spans.size(); ++i)
    EXPECT_DOUBLE_EQ(t->spans[i].start, t->spans[i - 1].end) << t->spans[i].name;
  ASSERT_EQ(t->marks.size(), 1u);
  EXPECT_EQ(t->marks[0].name, "main program started");
  EXPECT_DOUBLE_EQ(t->marks[0].at, 1.712854);
}

TEST(BootTimelineTest, SwitchRootBootHasTheHandoverAndTheOsInit) {
  auto t = ParseBootLog(Log("switch-root.log"));
  ASSERT_TRUE(t.ok()) << t.error().str();
  EXPECT_EQ(SpanNames(*t),
            (std::vector<std::string>{"kernel", "early", "mounts", "console", "config", "policy",
                                      "modules", "rootfs", "switch-root"}));
  EXPECT_TRUE(t->spans[4].failed);  // the refused command-line key made "config" fail
  EXPECT_FALSE(t->spans[5].failed);
  std::vector<std::string> marks;
  for (const auto& m : t->marks) marks.push_back(m.name);
  EXPECT_EQ(marks, (std::vector<std::string>{"sidecar started", "OS init started",
                                             "OS init's first line"}));
  EXPECT_DOUBLE_EQ(t->marks[1].at, 3.015878);
  EXPECT_DOUBLE_EQ(t->marks[2].at, 3.048289);
  std::string text = FormatTimeline(*t);
  EXPECT_NE(text.find("stage config"), std::string::npos) << text;
  EXPECT_NE(text.find("FAILED"), std::string::npos) << text;
  EXPECT_NE(text.find("OS init started"), std::string::npos) << text;
}

TEST(BootTimelineTest, SvgHasOneBarPerSpanAndIsWellFormed) {
  auto t = ParseBootLog(Log("switch-root.log"));
  ASSERT_TRUE(t.ok());
  t->spans.push_back({"<odd & name>", 3.0, 3.1, false});
  std::string svg = TimelineSvg(*t);
  EXPECT_TRUE(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ")) << svg;
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_EQ(Count(svg, "<rect "), t->spans.size());
  EXPECT_EQ(Count(svg, "</rect>"), t->spans.size());
  EXPECT_EQ(Count(svg, "<text "), Count(svg, "</text>"));
  EXPECT_EQ(Count(svg, "<line "), t->marks.size());
  EXPECT_EQ(svg.find("<odd"), std::string::npos);  // escaped
  EXPECT_NE(svg.find("&lt;odd &amp; name&gt;"), std::string::npos);
}

TEST(BootTimelineTest, LogsThatAreNotBootsOfInitosAreOneClearError) {
  auto none = ParseBootLog("hello\nworld\n");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().str().find("no 'Run /init as init process' line"), std::string::npos);
  auto no_stages = ParseBootLog("[    1.0] Run /init as init process\n[    2.0] sh: hi\n");
  ASSERT_FALSE(no_stages.ok());
  EXPECT_NE(no_stages.error().str().find("no 'initos: stage NAME done' lines"), std::string::npos);
}

}  // namespace
}  // namespace initos
