/*
 * Keep an idle host small. The kernel maps a whole block of a shared
 * library's pages around every page a process touches (fault-around, large
 * folios), so a host that ran a few hundred instructions of start-up code
 * shows megabytes of libraries in its RSS; with hundreds of hosts that is
 * what users see in top. After start-up we drop the library pages that are
 * pure file copies: read-only mappings holding no anonymous (copy-on-write)
 * page, so nothing relocated or written is lost, and whatever is still used
 * comes back on demand. MADV_RANDOM first, so it comes back page by page.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "trim.h"

void
trim_code_pages(void)
{
	char line[512], perms[8], path[256];
	unsigned long lo = 0, hi = 0, l, h, anon;
	int candidate = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		path[0] = '\0';
		/* sscanf assigns before it fails ("Anonymous:" starts with a
		 * hex digit): parse into temporaries */
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &l, &h, perms,
		        path) >= 3) {
			lo = l;
			hi = h;
			/* a mapping header: read-only, from a file */
			candidate = perms[1] == '-' && perms[3] == 'p' &&
			    path[0] == '/';
			continue;
		}
		if (candidate &&
		    sscanf(line, "Anonymous: %lu kB", &anon) == 1) {
			if (anon == 0) {
				madvise((void *)lo, hi - lo, MADV_RANDOM);
				madvise((void *)lo, hi - lo, MADV_DONTNEED);
			}
			candidate = 0;
		}
	}
	fclose(f);
}
