/* A C `main` that prints one line: the floor for `lockscope --version` and `--help`
 * (benches/status_floor.rs). Built with `cc -O2` by the harness. */
#include <stdio.h>
int main(void) { return puts("lockscope 0.0.0") < 0; }
