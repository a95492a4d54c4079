// Prints the rule table a reviewer reads top to bottom, and which rules hold
// on the running kernel (or on the release given as the first argument).
// With --cells: the model's expected witnesses for every matrix cell, one
// row per cell (the golden file tests/data/matrix_cells.txt).
#include <cstring>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/rules/cell_model.h"
#include "fixtures/rules/rule_table.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/stage.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--cells") == 0) {
    std::cout << tcpsem::CellModelTable();
    return 0;
  }
  // A version given as the argument is taken as upstream; the running
  // kernel's is resolved from where its distribution states it.
  absl::StatusOr<tcpsem::UpstreamKernel> running = tcpsem::RunningKernel();
  const std::string release = argc > 1
                                  ? argv[1]
                                  : (running.ok() ? running->version.ToString()
                                                  : tcpsem::KernelRelease());
  const std::string source =
      argc > 1 ? "the command line" : (running.ok() ? running->source : "");
  absl::StatusOr<tcpsem::KernelVersion> kernel =
      tcpsem::ParseKernelRelease(release);
  if (!kernel.ok() || argc > 2) {
    std::cerr << "usage: tcpsem_rules [KERNEL_RELEASE | --cells]; "
              << (kernel.ok() ? "too many arguments"
                              : kernel.status().message())
              << "\n";
    return 2;
  }
  std::cout << "tcpsem rule table, evaluated for kernel " << release
            << " (upstream version, from " << source << ")\n";
  // A kernel-conditioned rule says on which kernels it holds, the change
  // behind it and where it was run.
  auto print_kernel = [&](const tcpsem::KernelCondition& condition) {
    if (!condition.Conditioned()) return;
    std::cout << "\n  kernels: " << condition.Range()
              << (condition.Holds(*kernel) ? "" : "  (not on this kernel)")
              << "\n  change:  " << condition.change
              << "\n  verified on: " << condition.verified_on;
  };
  for (const tcpsem::Rule& rule : tcpsem::RuleTable()) {
    std::cout << "\n[" << rule.id << "] " << tcpsem::RuleKindName(rule.kind)
              << ", " << rule.kernel.Range()
              << (rule.kernel.Holds(*kernel) ? "" : "  (not on this kernel)")
              << "\n  when:    " << rule.condition
              << "\n  expect:  " << rule.outcome
              << "\n  source:  " << rule.source;
    print_kernel(rule.kernel);
    std::cout << "\n";
  }
  std::cout << "\n\nScenario suites (outside the matrix): each expectation "
               "cites one of these\n";
  std::string suite;
  for (const tcpsem::ScenarioRule& rule : tcpsem::ScenarioRules()) {
    if (rule.suite != suite) {
      suite = rule.suite;
      std::cout << "\n== " << suite << "/ (ctest -L "
                << absl::AsciiStrToLower(suite) << ")\n";
    }
    std::cout << "\n[" << rule.id << "] " << tcpsem::RuleKindName(rule.kind)
              << "\n  when:    " << rule.condition
              << "\n  expect:  " << rule.outcome
              << "\n  source:  " << rule.source;
    print_kernel(rule.kernel);
    std::cout << "\n";
  }
  return 0;
}
