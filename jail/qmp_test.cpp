#include "jail/qmp.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace initos {
namespace {

TEST(QmpParse, GreetingReturnErrorEvent) {
  auto g = ParseQmpMessage(
      R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})");
  ASSERT_TRUE(g.ok()) << g.error().str();
  EXPECT_EQ(g->kind, QmpMessage::Kind::kGreeting);
  auto r = ParseQmpMessage(R"({"return": {}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, QmpMessage::Kind::kReturn);
  auto e = ParseQmpMessage(
      R"({"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, QmpMessage::Kind::kError);
  EXPECT_EQ(e->error_class, "CommandNotFound");
  EXPECT_EQ(e->error_desc, "The command nope has not been found");
  auto ev = ParseQmpMessage(
      R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->kind, QmpMessage::Kind::kEvent);
  EXPECT_EQ(ev->event, "SHUTDOWN");
}

TEST(QmpParse, GuestResetOrPanicFromShutdownReason) {
  auto reset = ParseQmpMessage(
      R"({"timestamp": {"seconds": 1, "microseconds": 3}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}})");
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(reset->data, R"({"guest": true, "reason": "guest-reset"})");
  EXPECT_TRUE(QmpGuestResetOrPanic(*reset));
  auto off = ParseQmpMessage(
      R"({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}})");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(QmpGuestResetOrPanic(*off));
  auto quit = ParseQmpMessage(
      R"({"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}})");
  EXPECT_FALSE(QmpGuestResetOrPanic(*quit));
  auto panic =
      ParseQmpMessage(R"({"event": "GUEST_PANICKED", "data": {"action": "exit-failure"}})");
  EXPECT_TRUE(QmpGuestResetOrPanic(*panic));
  auto ret = ParseQmpMessage(R"({"return": {}})");
  EXPECT_FALSE(QmpGuestResetOrPanic(*ret));
}

TEST(QmpParse, RejectsNonObjects) {
  EXPECT_FALSE(ParseQmpMessage("[1, 2]").ok());
  EXPECT_FALSE(ParseQmpMessage(R"({"return": )").ok());
  EXPECT_FALSE(ParseQmpMessage(R"({"a" 1})").ok());
}

TEST(QmpJson, MembersKeepNestedValuesAndStringsDecode) {
  auto m = JsonObjectMembers(R"( {"a": "x\"}y", "b": [1, {"c": "]"}], "n": -12.5e3, "t": true} )");
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ(m->at("a"), R"("x\"}y")");
  EXPECT_EQ(m->at("b"), R"([1, {"c": "]"}])");
  EXPECT_EQ(m->at("n"), "-12.5e3");
  EXPECT_EQ(m->at("t"), "true");
  EXPECT_EQ(*JsonStringValue(R"("a\nb\u0041\\")"), "a\nbA\\");
  EXPECT_EQ(JsonQuote("a\"b\\\n"), R"("a\"b\\\u000a")");
}

// A fake QEMU on the other end of a socketpair: writes `script` lines,
// interleaved with reading the client's commands (one per "<" line).
struct FakeQemu {
  int fd;
  std::vector<std::string> received;
  std::string ReadLine() {
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1) {
      if (c == '\n') break;
      line += c;
    }
    while (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  void Write(const std::string& s) {
    std::string line = s + "\r\n";
    ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
};

TEST(QmpClient, HandshakePowerdownAndEvents) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  QmpClient client{unique_fd(sv[0])};
  FakeQemu qemu{sv[1], {}};
  std::thread server([&] {
    qemu.Write(R"({"QMP": {"version": {}, "capabilities": []}})");
    qemu.received.push_back(qemu.ReadLine());
    qemu.Write(R"({"return": {}})");
    qemu.received.push_back(qemu.ReadLine());
    // An event before the reply: the client must queue it, not lose it.
    qemu.Write(R"({"event": "POWERDOWN", "timestamp": {"seconds": 1, "microseconds": 0}})");
    qemu.Write(R"({"return": {}})");
    qemu.Write(R"({"event": "SHUTDOWN", "data": {"guest": true}})");
    qemu.received.push_back(qemu.ReadLine());
    qemu.Write(R"({"error": {"class": "CommandNotFound", "desc": "no such command"}})");
  });
  auto h = client.Handshake(std::chrono::milliseconds(2000));
  ASSERT_TRUE(h.ok()) << h.error().str();
  auto p = client.SystemPowerdown();
  ASSERT_TRUE(p.ok()) << p.error().str();
  auto e1 = client.NextEvent(std::chrono::milliseconds(2000));
  ASSERT_TRUE(e1.ok() && *e1);
  EXPECT_EQ((*e1)->event, "POWERDOWN");
  auto e2 = client.NextEvent(std::chrono::milliseconds(2000));
  ASSERT_TRUE(e2.ok() && *e2);
  EXPECT_EQ((*e2)->event, "SHUTDOWN");
  auto bad = client.Execute("nope", std::chrono::milliseconds(2000));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().str().find("no such command"), std::string::npos) << bad.error().str();
  server.join();
  ASSERT_EQ(qemu.received.size(), 3u);
  EXPECT_EQ(qemu.received[0], R"({"execute": "qmp_capabilities"})");
  EXPECT_EQ(qemu.received[1], R"({"execute": "system_powerdown"})");
  EXPECT_EQ(qemu.received[2], R"({"execute": "nope"})");
  // Nothing more: NextEvent times out with nullopt.
  auto none = client.NextEvent(std::chrono::milliseconds(50));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  ::close(sv[1]);
  auto closed = client.NextEvent(std::chrono::milliseconds(500));
  EXPECT_FALSE(closed.ok());
}

TEST(QmpClient, NoGreetingTimesOut) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  QmpClient client{unique_fd(sv[0])};
  auto h = client.Handshake(std::chrono::milliseconds(100));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().str().find("greeting"), std::string::npos) << h.error().str();
  ::close(sv[1]);
}

TEST(QmpClient, DrainEventsIsNonBlocking) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  QmpClient client{unique_fd(sv[0])};
  FakeQemu qemu{sv[1], {}};
  auto none = client.DrainEvents();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  qemu.Write(R"({"event": "GUEST_PANICKED", "data": {"action": "pause"}})");
  qemu.Write(R"({"event": "STOP"})");
  auto two = client.DrainEvents();
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].event, "GUEST_PANICKED");
  EXPECT_EQ((*two)[1].event, "STOP");
  ::close(sv[1]);
  EXPECT_FALSE(client.DrainEvents().ok());
}

}  // namespace
}  // namespace initos
