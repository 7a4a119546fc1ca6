/* Unit tests of replication/route.h on the real region table: single
 * decisions, and walks hop by hop through the demo topology (山东: 370000;
 * 济南 370100 with 历下 370102 and 市中 370103; 青岛 370200 with 市南 370202
 * and 市北 370203). */
#include "replication/route.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <stdio.h>
#include <string.h>

#define NNODES 7

struct node_cfg {
	int32_t self, parent;
	int32_t children[4];
	size_t n_children;
	int32_t peers[4];
	size_t n_peers;
};

static struct node_cfg topo[NNODES] = {
	{ 370000, 0, { 370100, 370200 }, 2, { 0 }, 0 },
	{ 370100, 370000, { 370102, 370103 }, 2, { 0 }, 0 },
	{ 370200, 370000, { 370202, 370203 }, 2, { 0 }, 0 },
	{ 370102, 370100, { 0 }, 0, { 0 }, 0 },
	{ 370103, 370100, { 0 }, 0, { 0 }, 0 },
	{ 370202, 370200, { 0 }, 0, { 0 }, 0 },
	{ 370203, 370200, { 0 }, 0, { 0 }, 0 },
};

static struct route_links
links_of(const struct node_cfg *c)
{
	struct route_links l = { c->self,       c->parent, c->children,
		                 c->n_children, c->peers,  c->n_peers };

	return l;
}

static const struct node_cfg *
cfg_of(int32_t code)
{
	int i;

	for (i = 0; i < NNODES; i++) {
		if (topo[i].self == code) {
			return &topo[i];
		}
	}
	return NULL;
}

/* walk follows route_next from src to target, writing the path as
 * "370203 > 370200 > ..." and the last decision's kind. */
static enum route_kind
walk(int32_t src, int32_t target, char *path, size_t len, int *hops)
{
	const struct region_table *t = region_builtin();
	const struct node_cfg *c = cfg_of(src);
	struct route r = { 0 };
	struct route_links l;
	size_t n;

	*hops = 0;
	n = (size_t)snprintf(path, len, "%06d", (int)src);
	while (c != NULL && *hops <= ROUTE_MAX_HOPS) {
		l = links_of(c);
		if (route_next(t, &l, target, &r) != TB_OK) {
			return ROUTE_UNKNOWN;
		}
		if (r.kind == ROUTE_LOCAL || r.kind == ROUTE_UNKNOWN ||
		    r.kind == ROUTE_UNREACHABLE) {
			return r.kind;
		}
		(*hops)++;
		if (n < len) {
			n += (size_t)snprintf(path + n, len - n, " > %06d",
			                      (int)r.hop);
		}
		c = cfg_of(r.hop);
	}
	return ROUTE_UNREACHABLE;
}

static void
test_walks(void)
{
	static const struct {
		int32_t src, target;
		const char *path;
		enum route_kind kind;
	} cases[] = {
		{ 370203, 370102, "370203 > 370200 > 370000 > 370100 > 370102",
		  ROUTE_LOCAL },
		{ 370102, 370102, "370102", ROUTE_LOCAL },
		{ 370102, 370103, "370102 > 370100 > 370103", ROUTE_LOCAL },
		{ 370000, 370202, "370000 > 370200 > 370202", ROUTE_LOCAL },
		{ 370202, 370000, "370202 > 370200 > 370000", ROUTE_LOCAL },
		{ 370102, 370199, "370102", ROUTE_UNKNOWN },
		/* 370104 (槐荫区) exists but has no node in this topology. */
		{ 370203, 370104, "370203 > 370200 > 370000 > 370100",
		  ROUTE_UNREACHABLE },
		/* Beijing: the province has no peer for it. */
		{ 370102, 110101, "370102 > 370100 > 370000",
		  ROUTE_UNREACHABLE },
	};
	char path[256];
	size_t i;
	int hops;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum route_kind k = walk(cases[i].src, cases[i].target, path,
		                         sizeof(path), &hops);

		is_str(path, cases[i].path, "%06d to %06d: the path",
		       (int)cases[i].src, (int)cases[i].target);
		is_str(route_kind_name(k), route_kind_name(cases[i].kind),
		       "  ends %s", route_kind_name(cases[i].kind));
	}
}

static void
test_every_pair(void)
{
	char path[256];
	int i, j, hops, worst = 0, bad = 0;

	for (i = 0; i < NNODES; i++) {
		for (j = 0; j < NNODES; j++) {
			if (walk(topo[i].self, topo[j].self, path, sizeof(path),
			         &hops) != ROUTE_LOCAL) {
				bad++;
				printf("# %s\n", path);
			}
			worst = hops > worst ? hops : worst;
		}
	}
	is_int(bad, 0, "every region reaches every other in the tree");
	is_int(worst, 4, "  in at most 4 hops (county to a cousin county)");
}

static void
test_sideways(void)
{
	const struct region_table *t = region_builtin();
	struct node_cfg *c = (struct node_cfg *)cfg_of(370203);
	struct node_cfg *p = (struct node_cfg *)cfg_of(370000);
	struct route r;
	struct route_links l;
	char path[256];
	int hops;

	/* 市北 handles 历下's cases: a sideways peer, and 济南 as well. */
	c->peers[0] = 370100;
	c->peers[1] = 370102;
	c->n_peers = 2;
	walk(370203, 370102, path, sizeof(path), &hops);
	is_str(path, "370203 > 370102", "a peer at the target: one hop");
	walk(370203, 370103, path, sizeof(path), &hops);
	is_str(path, "370203 > 370100 > 370103",
	       "a peer above the target: sideways, then down");
	c->n_peers = 0;

	/* The province cross-certified with 北京 peers with it. */
	p->peers[0] = 110000;
	p->n_peers = 1;
	l = links_of(p);
	is_int(route_next(t, &l, 110101, &r), TB_OK, "370000 to 110101");
	ok(r.kind == ROUTE_SIDEWAYS && r.hop == 110000,
	   "  goes sideways to 110000 (%s %06d)", route_kind_name(r.kind),
	   (int)r.hop);
	p->n_peers = 0;

	l = links_of(p);
	is_int(route_next(t, &l, 370104, &r), TB_OK, "370000 to 370104");
	ok(r.kind == ROUTE_DOWN && r.hop == 370100,
	   "  goes down to 370100, the city above it");
	l = links_of(cfg_of(370100));
	route_next(t, &l, 370104, &r);
	ok(r.kind == ROUTE_UNREACHABLE && strstr(r.reason, "370104") &&
	       strstr(r.reason, "not linked"),
	   "  where the unlinked child is named: %s", r.reason);
	l.self = 999999;
	is_int(route_next(t, &l, 370104, &r), TB_EINVAL,
	       "a self not in the table is refused");
}

int
main(void)
{
	test_walks();
	test_every_pair();
	test_sideways();
	return done_testing();
}
