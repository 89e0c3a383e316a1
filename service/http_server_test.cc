#include "service/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

namespace noxsync::service {
namespace {

// A blocking client on a plain socket; -1 when it cannot connect.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};  // a test that fails rather than hangs
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

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
