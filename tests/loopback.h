// A plain TCP connection to 127.0.0.1, for tests and benchmarks that send
// bytes no client library would, or want no library between them and the
// server they measure.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>

namespace noxsync::testing {

// A connected socket, or -1. `receive_buffer` (bytes, set before
// connecting) makes a client that reads slowly; `read_timeout_s` bounds each
// read, so a test fails rather than hangs. 0: the system's default for either.
inline int ConnectLoopback(int port, int receive_buffer = 0, int read_timeout_s = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  if (read_timeout_s > 0) {
    timeval tv{read_timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

}  // namespace noxsync::testing
