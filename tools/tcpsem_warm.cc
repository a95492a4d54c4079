// tcpsem_warm BINARY [ARG...]: ctest's launcher for the test binaries
// (CROSSCOMPILING_EMULATOR in tests/CMakeLists.txt). When
// $TCPSEM_WARM_SOCKET names a warm runner of BINARY
// (fixtures/gtest/warm_server.h), it hands the runner this test's argv,
// environment, working directory and standard streams, waits for the test's
// process to end, and exits as it did. Otherwise (no runner, a runner that
// refuses, test discovery) it exec's BINARY itself, so a test never depends
// on the runner.
//
// Standard C++ and libc only, linked statically: it runs once per test, so
// it must cost far less than the exec it saves.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fixtures/base/local_socket.h"
#include "fixtures/base/scm_rights.h"
#include "fixtures/gtest/warm_protocol.h"

extern char** environ;

namespace {

[[noreturn]] void RunItself(char** argv, const std::string& why) {
  if (!why.empty()) {
    std::fprintf(stderr,
                 "tcpsem_warm: %s; running %s in a process of its own\n",
                 why.c_str(), argv[0]);
  }
  ::execv(argv[0], argv);
  std::fprintf(stderr, "tcpsem_warm: execv(%s): %s\n", argv[0],
               std::strerror(errno));
  std::_Exit(127);
}

// Connects to the runner; -1 (and `why`) when none answers.
int Connect(const char* path, std::string* why) {
  const int fd = tcpsem::ConnectLocal(path);
  if (fd < 0) {
    *why =
        std::string("no warm runner at ") + path + ": " + std::strerror(errno);
    return -1;
  }
  // Only a runner of our own user is trusted with our streams.
  if (!tcpsem::PeerIsThisUser(fd)) {
    *why = std::string("the runner at ") + path + " is not of this user";
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendRequest(int fd, int argc, char** argv) {
  tcpsem::warm::Request request;
  request.verb = "run";
  // The runner checks the file itself (device and inode), from its own
  // working directory: an absolute path.
  char* absolute = ::realpath(argv[0], nullptr);
  request.binary = absolute != nullptr ? absolute : argv[0];
  std::free(absolute);
  std::vector<char> cwd(4096);
  if (::getcwd(cwd.data(), cwd.size()) == nullptr) return false;
  request.cwd = cwd.data();
  for (int i = 0; i < argc; ++i) request.argv.emplace_back(argv[i]);
  for (char** var = environ; *var != nullptr; ++var) {
    request.env.emplace_back(*var);
  }
  std::string bytes = tcpsem::warm::EncodeRequest(request);
  if (bytes.size() > tcpsem::warm::kMaxRequestBytes) return false;
  const int streams[tcpsem::warm::kPassedFds] = {0, 1, 2};
  return tcpsem::SendWithFds(fd, bytes.data(), bytes.size(), streams,
                             tcpsem::warm::kPassedFds, MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tcpsem_warm BINARY [ARG...]\n");
    return 2;
  }
  char** binary_argv = argv + 1;
  const int binary_argc = argc - 1;
  // TCPSEM_WARM=off: every test in a process of its own, as without a
  // runner (to compare, or to rule the runner out).
  const char* mode = std::getenv("TCPSEM_WARM");
  const char* path = std::getenv("TCPSEM_WARM_SOCKET");
  if (path == nullptr || *path == '\0' ||
      (mode != nullptr && std::strcmp(mode, "off") == 0)) {
    RunItself(binary_argv, "");
  }
  std::string why;
  const int fd = Connect(path, &why);
  if (fd < 0) RunItself(binary_argv, why);
  if (!SendRequest(fd, binary_argc, binary_argv)) {
    RunItself(binary_argv, "could not send the request to the warm runner");
  }
  // Bounded by the test's own ctest TIMEOUT: when ctest kills this process,
  // the runner ends the test (SIGTERM, then SIGKILL).
  char reply[512];
  ssize_t n;
  do {
    n = ::recv(fd, reply, sizeof(reply) - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    std::fprintf(stderr,
                 "tcpsem_warm: the warm runner at %s went away during the "
                 "test (%s)\n",
                 path, n == 0 ? "end of file" : std::strerror(errno));
    return 1;
  }
  reply[n] = '\0';
  int value = 0;
  if (std::sscanf(reply, "exit %d", &value) == 1) return value;
  if (std::sscanf(reply, "signal %d", &value) == 1) {
    std::fprintf(stderr, "tcpsem_warm: %s was killed by signal %d (%s)\n",
                 binary_argv[0], value, strsignal(value));
    ::signal(value, SIG_DFL);
    ::raise(value);
    return 128 + value;
  }
  ::close(fd);
  RunItself(binary_argv, reply);
}
