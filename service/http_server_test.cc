#include "service/http_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/loopback.h"

namespace noxsync::service {
namespace {

// A blocking client; reads give up after 10 s (a test that fails rather than hangs).
int Connect(int port) { return testing::ConnectLoopback(port, 0, 10); }

// Reads until the peer closes or the timeout.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

ServerOptions AnyPort() {
  ServerOptions o;
  o.port = 0;
  o.threads = 1;
  return o;
}

Handler Hello() {
  return [](HttpRequest req, Responder respond) {
    HttpResponse res;
    res.content_type = "text/plain";
    res.body = "hello " + req.path;
    respond(std::move(res));
  };
}

TEST(HttpServer, AConnectionMadeBetweenListenAndStartIsServedOnceStarted) {
  HttpServer server;
  ASSERT_TRUE(server.Listen(AnyPort()).ok());
  ASSERT_GT(server.port(), 0);
  // The server accepts nothing yet; the kernel holds the connection.
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  const std::string req = "GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  ASSERT_TRUE(server.Start(Hello()).ok());
  std::string answer = ReadAll(fd);
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("hello /early"), std::string::npos) << answer;
  server.Shutdown(1000);
}

TEST(HttpServer, StartNeedsOneListenFirst) {
  HttpServer never_listened;
  Status s = never_listened.Start(Hello());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("must listen"), std::string::npos) << s.message();

  HttpServer server;
  ASSERT_TRUE(server.Listen(AnyPort()).ok());
  EXPECT_FALSE(server.Listen(AnyPort()).ok());
  ASSERT_TRUE(server.Start(Hello()).ok());
  EXPECT_FALSE(server.Start(Hello()).ok());
  server.Shutdown(1000);
}

TEST(HttpServer, AFailedListenNamesTheAddressAndCanBeTriedAgain) {
  HttpServer holder;
  ASSERT_TRUE(holder.Listen(AnyPort()).ok());
  ServerOptions taken = AnyPort();
  taken.port = holder.port();

  HttpServer server;
  Status s = server.Listen(taken);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot listen on 127.0.0.1:" + std::to_string(taken.port)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("another process has the port"), std::string::npos) << s.message();
  EXPECT_EQ(server.port(), 0);

  ASSERT_TRUE(server.Listen(AnyPort()).ok());
  ASSERT_TRUE(server.Start(Hello()).ok());
  int fd = Connect(server.port());
  ASSERT_GE(fd, 0);
  const std::string req = "GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  EXPECT_NE(ReadAll(fd).find("hello /again"), std::string::npos);
  ::close(fd);
  server.Shutdown(1000);
}

}  // namespace
}  // namespace noxsync::service
