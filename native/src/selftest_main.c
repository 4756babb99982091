/* build/sfc-selftest: the self-tests without libbpf, for machines that cannot build or load eBPF. */
#include <string.h>

#include "selftest.h"

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--scenario") == 0)
		return selftest_scenario(argv[2]) ? 1 : 0;
	return selftest_run() ? 1 : 0;
}
