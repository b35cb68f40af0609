/*
 * asan_init_first.c
 *		Preloaded after libasan so that the uninstrumented postgres binary
 *		can start under it at all.
 *
 * The dynamic loader runs libasan's constructor last, after those of the
 * server's dependencies.  libgpg-error's constructor (pulled in through
 * libsystemd -> libgcrypt) calls bindtextdomain(), which takes glibc's
 * _nl_state_lock for writing and then calls malloc(); that first malloc
 * initializes ASan, whose initialization calls dlerror() -> dcgettext(),
 * which takes the same lock again.  The lock ends up corrupt and the next
 * bindtextdomain() (postgres' own, in main) blocks forever: "postgres -V"
 * hangs, and so does pg_ctl start.  Known upstream as
 * https://github.com/google/sanitizers/issues/1270.
 *
 * This library interposes bindtextdomain() and initializes ASan before the
 * lock is taken; after the first call __asan_init() returns at once.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

extern void __asan_init(void);
char	   *bindtextdomain(const char *domainname, const char *dirname);

char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*real) (const char *, const char *);

	__asan_init();
	if (real == NULL)
		real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	return real(domainname, dirname);
}
