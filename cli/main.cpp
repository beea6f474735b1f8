// Thin entry point: all logic lives in initos_core.
#include "cli/cli.h"

int main(int argc, char** argv) {
  return initos::RunCli(argc, argv);
}
