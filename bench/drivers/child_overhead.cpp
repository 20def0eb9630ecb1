// child_overhead: what the service's sandboxed children cost per job, each executed afresh
// (ANALYSIS_FORK_SERVER=false) against forked from the pre-initialised fork server (the
// default), side by side in one run, through the service's own AnalysisRunner.
//
// For each analyzer (placeholder: the probe's child only; pose: the probe's and the pose
// analysis' children) and each mode, a fresh runner runs the job (probe, then analysis) on
// VIDEO once, and another runs it 1 + N times. CPU is this process's and all its reaped
// descendants' (getrusage SELF + CHILDREN, read after the runner, and with it the fork
// server, is gone). The cost of one job is (CPU(1 + N) - CPU(1)) / N: the marginal cost, free
// of the one-time start of the fork server (its models included), which CPU(1) shows.
//
// usage: bench_child_overhead PROGRAM VIDEO [N]   (PROGRAM: the dancer-analysis binary)
// Prints a Markdown table. No test asserts these numbers.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "service/analysis_runner.h"
#include "service/config.h"

namespace {

using dancer::service::ServiceConfig;

double cpu_seconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    getrusage(who, &usage);
    total += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
             static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  return total;
}

struct Cost {
  double cpu = 0;
  double wall = 0;
};

Cost run_jobs(const std::string& program, const std::string& video, const std::string& analyzer,
              bool fork_server, int jobs) {
  ServiceConfig config;
  config.analysis.analyzer = analyzer;
  config.analysis.fork_server = fork_server;
  config.analysis.overlay_video = false;
  config.max_workers = 1;
  const double cpu0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  {
    auto runner = dancer::service::make_analysis_runner(config, program);
    for (int i = 0; i < jobs; ++i) {
      dancer::analysis::AnalysisRequest request;
      request.video = video;
      request.metadata = runner->probe(video, nullptr);
      runner->run(request, nullptr);
    }
  }
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall0;
  return {cpu_seconds() - cpu0, wall.count()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_child_overhead PROGRAM VIDEO [N]\n");
    return 2;
  }
  const std::string program = argv[1];
  const std::string video = argv[2];
  const int n = argc > 3 ? std::max(1, std::atoi(argv[3])) : 20;
  // BENCH_ONLY=pose-forked (analyzer-mode): one configuration, for a profiler.
  const char* only = std::getenv("BENCH_ONLY");
  std::printf(
      "| analyzer | children | CPU of the first job (s) | CPU per further job (ms) | wall "
      "per further job (ms) |\n|---|---|---|---|---|\n");
  for (const char* analyzer : {"placeholder", "pose"}) {
    double per_job[2] = {0, 0};
    for (const bool fork_server : {false, true}) {
      if (only != nullptr &&
          std::string(only) != std::string(analyzer) + (fork_server ? "-forked" : "-executed")) {
        continue;
      }
      const Cost one = run_jobs(program, video, analyzer, fork_server, 1);
      const Cost many = run_jobs(program, video, analyzer, fork_server, 1 + n);
      const double cpu = (many.cpu - one.cpu) / n;
      const double wall = (many.wall - one.wall) / n;
      per_job[fork_server ? 1 : 0] = cpu;
      std::printf("| %s | %s | %.3f | %.1f | %.1f |\n", analyzer,
                  fork_server ? "forked from the fork server" : "executed per job", one.cpu,
                  1000 * cpu, 1000 * wall);
    }
    std::printf("| %s | ratio executed / forked | | %.2f× | |\n", analyzer,
                per_job[1] > 0 ? per_job[0] / per_job[1] : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
