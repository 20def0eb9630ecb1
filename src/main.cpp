// dancer-analysis: command-line entry point. Parses arguments only; everything else
// lives in the service library.
#include "service/cli.h"

int main(int argc, char** argv) { return dancer::service::run_cli(argc, argv); }
