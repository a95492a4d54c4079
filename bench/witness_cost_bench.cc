// What single witness reads cost, old way and new way side by side in one
// run: sock_diag by dump (walks the kernel's global TCP hash) against exact
// lookup, a capture opened and closed with libpcap's ring (as before) and
// as the wire witness opens it now, and the leak check's snapshot with and
// without a child process (with one it reads every process's /proc/PID/stat, as
// it always did before).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "fixtures/base/unique_fd.h"
#include "fixtures/gtest/leak_check_listener.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/wire_capture.h"

namespace tcpsem {
namespace {

// A connected v4 pair in a private namespace, for the sock_diag readers.
template <typename Read>
void WithConnection(benchmark::State& state, Read read) {
  absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
  if (!netns.ok()) {
    state.SkipWithError("needs root for a private network namespace");
    return;
  }
  absl::StatusOr<Listener> listener = Listen(Family::kV4);
  if (!listener.ok()) {
    state.SkipWithError(std::string(listener.status().message()).c_str());
    return;
  }
  absl::StatusOr<ConnectedPair> pair = Connect(Family::kV4, *listener);
  if (!pair.ok()) {
    state.SkipWithError(std::string(pair.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<std::vector<DiagSocket>> sockets = read(*pair);
    if (!sockets.ok() || sockets->size() < 2) {
      state.SkipWithError("sock_diag did not list the connection");
      return;
    }
  }
}

void SockDiagDump(benchmark::State& state) {
  WithConnection(state, [](const ConnectedPair& pair) {
    return ListTcpSocketsOnPort(pair.closer_port);
  });
}

void SockDiagLookup(benchmark::State& state) {
  WithConnection(
      state,
      [](const ConnectedPair& pair) -> absl::StatusOr<std::vector<DiagSocket>> {
        absl::StatusOr<TcpEndpoints> ends = TcpEndpoints::Of(pair.closer.get());
        if (!ends.ok()) return ends.status();
        return ListConnection(*ends);
      });
}

void LeakSnapshotNoChild(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(TakeLeakSnapshot().threads);
}

// A child blocked on a pipe for the benchmark's duration; reaped at the end.
void LeakSnapshotWithChild(benchmark::State& state) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    state.SkipWithError("pipe2");
    return;
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t child = ::fork();
  if (child < 0) {
    state.SkipWithError("fork");
    return;
  }
  if (child == 0) {
    char byte;
    write_end.reset();
    ::_exit(::read(read_end.get(), &byte, 1) >= 0 ? 0 : 1);  // EOF ends it
  }
  read_end.reset();
  for (auto _ : state) {
    if (!TakeLeakSnapshot().children.contains(child)) {
      state.SkipWithError("the snapshot missed the child");
      break;
    }
  }
  write_end.reset();  // EOF: the child exits
  ::waitpid(child, nullptr, 0);
}

// Opens and closes a capture on lo of a private namespace, each iteration.
template <typename OpenClose>
void InPrivateNetns(benchmark::State& state, OpenClose open_close) {
  absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
  if (!netns.ok()) {
    state.SkipWithError("needs root for a private network namespace");
    return;
  }
  for (auto _ : state) {
    if (absl::Status s = open_close(); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
}

// What the wire witness did before: libpcap with a 256 KiB TPACKET_V3 ring.
void CaptureRingOpenClose(benchmark::State& state) {
  InPrivateNetns(state, []() -> absl::Status {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* handle = pcap_create("lo", errbuf);
    if (handle == nullptr) return absl::InternalError(errbuf);
    pcap_set_snaplen(handle, WireCapture::kSnapLength);
    pcap_set_immediate_mode(handle, 1);
    pcap_set_buffer_size(handle, 256 << 10);
    bpf_program program;
    const bool ok =
        pcap_activate(handle) >= 0 &&
        pcap_compile(handle, &program, "tcp port 5555 or udp port 5556", 1,
                     PCAP_NETMASK_UNKNOWN) == 0;
    if (ok) {
      pcap_setfilter(handle, &program);
      pcap_freecode(&program);
    }
    pcap_close(handle);
    return ok ? absl::OkStatus() : absl::InternalError("pcap_activate");
  });
}

void CaptureSocketOpenClose(benchmark::State& state) {
  InPrivateNetns(state, []() -> absl::Status {
    return WireCapture::Start(5555).status();
  });
}

BENCHMARK(SockDiagDump)->Unit(benchmark::kMicrosecond);
BENCHMARK(SockDiagLookup)->Unit(benchmark::kMicrosecond);
BENCHMARK(CaptureRingOpenClose)->Unit(benchmark::kMillisecond);
BENCHMARK(CaptureSocketOpenClose)->Unit(benchmark::kMillisecond);
BENCHMARK(LeakSnapshotNoChild)->Unit(benchmark::kMicrosecond);
BENCHMARK(LeakSnapshotWithChild)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tcpsem
