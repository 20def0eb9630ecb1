#pragma once

namespace dancer::service {
// Parses the command line (run, health, send-test-message, analyze, --help, --version)
// and runs the chosen subcommand. Returns the process exit code.
int run_cli(int argc, char** argv);
}  // namespace dancer::service
