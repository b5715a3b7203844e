/*
 * Test helper for the differential test in libseccomp/mod.rs: builds a filter
 * with libseccomp the way runc 1.1 translates an OCI profile, and prints
 * libseccomp's BPF. Not part of rt; compiled by the test with -lseccomp.
 *
 *   libseccomp-export export  < profile  > program.bpf
 *   libseccomp-export resolve < names    > "name x86_64 x86 x32" lines
 *
 * Profile lines (numbers in decimal):
 *   default <action>
 *   arch x86_64|x86|x32
 *   rule <action> <name> <count> (<index> <op> <value> <value_two>)*
 * <action> is the SCMP_ACT_* value, <op> the SCMP_CMP_* value. One rule
 * line per syscall name, in config order, as runc's configs.Syscall list.
 *
 * What runc does with each rule, and so does this helper:
 *   - a rule whose action equals the default action is skipped;
 *   - a name libseccomp cannot resolve for the native arch is skipped;
 *   - no conditions: seccomp_rule_add;
 *   - conditions on distinct argument indexes: one rule ANDing them;
 *   - an index that repeats: one rule per condition (so they are ORed).
 * runc also clears the no_new_privs attribute; the -ENOSYS stub runc puts
 * in front of the program is the test's job, not this helper's.
 */
#include <errno.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONDS 64

static void die(const char *what, int rc)
{
	fprintf(stderr, "libseccomp-export: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(2);
}

static uint32_t arch_token(const char *name)
{
	if (strcmp(name, "x86_64") == 0)
		return SCMP_ARCH_X86_64;
	if (strcmp(name, "x86") == 0)
		return SCMP_ARCH_X86;
	if (strcmp(name, "x32") == 0)
		return SCMP_ARCH_X32;
	fprintf(stderr, "libseccomp-export: unknown arch %s\n", name);
	exit(2);
}

static int resolve(void)
{
	char name[256];
	while (scanf("%255s", name) == 1) {
		printf("%s %d %d %d\n", name,
		       seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name),
		       seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name),
		       seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, name));
	}
	return 0;
}

static int export(void)
{
	char word[256], name[256];
	uint32_t def;
	if (scanf("%255s %" SCNu32, word, &def) != 2 || strcmp(word, "default") != 0) {
		fprintf(stderr, "libseccomp-export: profile must start with 'default <action>'\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(def);
	if (ctx == NULL) {
		fprintf(stderr, "libseccomp-export: seccomp_init(%#" PRIx32 ") failed\n", def);
		return 2;
	}
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		die("seccomp_attr_set(NNP)", rc);
	while (scanf("%255s", word) == 1) {
		if (strcmp(word, "arch") == 0) {
			if (scanf("%255s", name) != 1)
				die("arch line", EINVAL);
			rc = seccomp_arch_add(ctx, arch_token(name));
			/* The native arch is already there: runc ignores EEXIST. */
			if (rc < 0 && rc != -EEXIST)
				die("seccomp_arch_add", rc);
			continue;
		}
		if (strcmp(word, "rule") != 0) {
			fprintf(stderr, "libseccomp-export: unknown line %s\n", word);
			return 2;
		}
		uint32_t action;
		unsigned count;
		if (scanf("%" SCNu32 " %255s %u", &action, name, &count) != 3 || count > MAX_CONDS)
			die("rule line", EINVAL);
		struct scmp_arg_cmp conds[MAX_CONDS];
		unsigned uses[6] = {0};
		int repeats = 0;
		for (unsigned i = 0; i < count; i++) {
			unsigned index, op;
			uint64_t a, b;
			if (scanf("%u %u %" SCNu64 " %" SCNu64, &index, &op, &a, &b) != 4 || index > 5)
				die("condition", EINVAL);
			conds[i] = (struct scmp_arg_cmp){index, op, a, b};
			if (++uses[index] > 1)
				repeats = 1;
		}
		if (action == def)
			continue;
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (count == 0 || !repeats) {
			rc = seccomp_rule_add_array(ctx, action, nr, count, conds);
		} else {
			rc = 0;
			for (unsigned i = 0; i < count && rc >= 0; i++)
				rc = seccomp_rule_add_array(ctx, action, nr, 1, &conds[i]);
		}
		if (rc < 0) {
			fprintf(stderr, "libseccomp-export: adding rule for %s: %s\n", name, strerror(-rc));
			return 3;
		}
	}
	rc = seccomp_export_bpf(ctx, 1);
	if (rc < 0)
		die("seccomp_export_bpf", rc);
	seccomp_release(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "resolve") == 0)
		return resolve();
	if (argc == 2 && strcmp(argv[1], "export") == 0)
		return export();
	fprintf(stderr, "usage: libseccomp-export export|resolve\n");
	return 2;
}
