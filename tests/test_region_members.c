/* The REGION_T_MEMBERS message's checks (node/region_members.c): a
 * region's group and its leader, as another region learns them. */
#include "node/region_impl.h"
#include "tests/tap.h"

#include <stdio.h>
#include <string.h>

#define A "0123456789abcdef"
#define B "fedcba9876543210"

/* parse: region_members_parse on the JSON text s; why gets the reason. */
static int
parse(const char *s, unsigned *n, char *why, size_t wlen,
      struct region_member *ms)
{
	const char *leader = NULL;
	json_t *h = json_loads(s, 0, NULL);
	int rv;

	why[0] = '\0';
	rv = region_members_parse(h, ms, n, &leader, why, wlen);
	json_decref(h);
	return rv;
}

int
main(void)
{
	struct region_member ms[REGION_MEMBERS_MAX];
	char why[160], big[4096];
	unsigned n = 99, i;
	size_t at;

	is_int(parse("{\"term\": 3, \"leader\": \"" A "\", \"members\": ["
	             "{\"node_id\": \"" A
	             "\", \"url\": \"tcp://10.0.0.1:7401\"},"
	             "{\"node_id\": \"" B
	             "\", \"url\": \"tcp://10.0.0.2:7401\"}]}",
	             &n, why, sizeof(why), ms),
	       0, "two members, the first leading");
	is_int(n, 2, "  both kept");
	is_str(ms[1].id, B, "  the second's id");
	is_str(ms[1].url, "tcp://10.0.0.2:7401", "  and URL");
	is_int(parse("{\"term\": 0, \"leader\": null, \"members\": ["
	             "{\"node_id\": \"" A "\", \"url\": \"tcp://h:1\"}]}",
	             &n, why, sizeof(why), ms),
	       0, "no leader known (an election)");

	is_int(parse("{\"term\": 3, \"leader\": \"" B "\", \"members\": ["
	             "{\"node_id\": \"" A "\", \"url\": \"tcp://h:1\"}]}",
	             &n, why, sizeof(why), ms),
	       -1, "a leader that is not a member is refused");
	is_str(why, "$.leader: " B " is not one of the members", "  naming it");
	parse("{\"term\": 3, \"leader\": null, \"members\": ["
	      "{\"node_id\": \"" A "\", \"url\": \"tcp://h:1\"},"
	      "{\"node_id\": \"0123\", \"url\": \"tcp://h:1\"}]}",
	      &n, why, sizeof(why), ms);
	is_str(why, "$.members[1].node_id: 16 lowercase hex digits expected",
	       "a short node id, named by its index");
	parse("{\"term\": 3, \"leader\": null, \"members\": ["
	      "{\"node_id\": \"0123456789ABCDEF\", \"url\": \"tcp://h:1\"}]}",
	      &n, why, sizeof(why), ms);
	is_str(why, "$.members[0].node_id: 16 lowercase hex digits expected",
	       "an upper-case node id");
	parse("{\"term\": 3, \"leader\": null, \"members\": ["
	      "{\"node_id\": \"" A "\", \"url\": \"http://h:1\"}]}",
	      &n, why, sizeof(why), ms);
	is_str(why, "$.members[0].url: tcp://HOST:PORT expected",
	       "a URL of another scheme");
	parse("{\"term\": 3, \"leader\": null, \"members\": ["
	      "{\"node_id\": \"" A "\", \"url\": \"tcp://host\"}]}",
	      &n, why, sizeof(why), ms);
	is_str(why, "$.members[0].url: tcp://HOST:PORT expected",
	       "a URL without a port");
	parse("{\"term\": -1, \"leader\": null, \"members\": []}", &n, why,
	      sizeof(why), ms);
	is_str(why, "$.term: a Raft term (an integer >= 0)", "a negative term");
	parse("{\"leader\": null, \"members\": []}", &n, why, sizeof(why), ms);
	is_str(why, "$.term: a Raft term (an integer >= 0)", "no term");
	parse("{\"term\": 1, \"leader\": 7, \"members\": []}", &n, why,
	      sizeof(why), ms);
	is_str(why, "$.leader: a node id or null", "a leader that is a number");
	parse("{\"term\": 1, \"leader\": null, \"members\": {}}", &n, why,
	      sizeof(why), ms);
	is_str(why, "$.members: an array of at most 9", "members not an array");

	at = (size_t)snprintf(big, sizeof(big),
	                      "{\"term\": 1, \"leader\": null, \"members\": [");
	for (i = 0; i < REGION_MEMBERS_MAX + 1; i++) {
		at += (size_t)snprintf(big + at, sizeof(big) - at,
		                       "%s{\"node_id\": \"" A
		                       "\", \"url\": \"tcp://h:%u\"}",
		                       i ? "," : "", i + 1);
	}
	snprintf(big + at, sizeof(big) - at, "]}");
	is_int(parse(big, &n, why, sizeof(why), ms), -1,
	       "%d members are refused", REGION_MEMBERS_MAX + 1);
	is_str(why, "$.members: an array of at most 9", "  naming the limit");
	big[0] = '\0';
	for (i = 0, at = 0; i < 300; i++) {
		at += (size_t)snprintf(big + at, sizeof(big) - at, "h");
	}
	{
		char doc[4096];
		snprintf(doc, sizeof(doc),
		         "{\"term\": 1, \"leader\": null, \"members\": ["
		         "{\"node_id\": \"" A "\", \"url\": \"tcp://%s:1\"}]}",
		         big);
		parse(doc, &n, why, sizeof(why), ms);
		is_str(why, "$.members[0].url: tcp://HOST:PORT expected",
		       "a URL too long for the links");
	}
	return done_testing();
}
