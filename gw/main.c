/* SPDX-License-Identifier: MIT */
/* gw: the subcommand table. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gw/cmd.h"
#include "gw/version.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct subcommand subcommands[] = {
	{ "run",       cmd_run,      "Run the gateway of CONFIG in the foreground" },
	{ "show",      cmd_show,      "Show peers, handshakes and transfer, like wg show" },
	{ "rules",     cmd_rules,      "List, save or restore the rules of a gateway or file" },
	{ "conntrack", cmd_conntrack, "List, count or flush tracked connections" },
	{ "stats",     cmd_stats,      "Show packet, drop and handshake counters" },
	{ "trace",     cmd_trace,      "Trace packets through the rules without sending them" },
	{ "peer",      cmd_peer,     "Add, list or remove peers (onboarding: client config, QR code)" },
	{ "genkey",    cmd_genkey, "Generate a new private key and write it to stdout" },
	{ "genpsk",    cmd_genpsk, "Generate a new preshared key and write it to stdout" },
	{ "pubkey",    cmd_pubkey, "Read a private key from stdin and write its public key to stdout" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: gw <cmd> [<args>]\n\nAvailable subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\n  --help     Show this help\n  --version  Show the version\n"
		   "\nYou may pass `--help' to any of these subcommands to view usage.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v") || !strcmp(argv[1], "version")) {
		printf("gw %s\n", GW_VERSION);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "gw: libsodium failed to initialise\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		const struct subcommand *c = &subcommands[i];

		if (!strcmp(argv[1], c->name))
			return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "gw: invalid subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 1;
}
