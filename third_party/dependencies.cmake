# Every dependency is a Debian package (ci/install-deps.sh installs them);
# nothing is vendored or downloaded at build time.
find_package(GTest 1.12 REQUIRED)          # libgtest-dev, libgmock-dev
find_package(absl REQUIRED)                # libabsl-dev
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCAP REQUIRED IMPORTED_TARGET GLOBAL libpcap)  # libpcap-dev
pkg_check_modules(MNL REQUIRED IMPORTED_TARGET GLOBAL libmnl)    # libmnl-dev
find_package(nlohmann_json 3.10 REQUIRED) # nlohmann-json3-dev
find_package(Threads REQUIRED)
find_package(benchmark QUIET)              # libbenchmark-dev (bench/ only)
set(TCPSEM_HAVE_BENCHMARK ${benchmark_FOUND})
