/* POST /v1/cases without jansson values: the common submission, checked
 * and encoded from its scanned body (schema/json_canon.h). Everything else
 * (any check that would refuse it, any input outside the scanner's subset)
 * goes the usual way, api_case_submit, which gives the answer. */
#include "node/api_impl.h"

#include "node/blob.h"
#include "node/node.h"
#include "schema/json_canon.h"
#include "schema/spec.h"

#include <stdlib.h>
#include <string.h>

/* Bodies larger than this go the usual way (which refuses the largest). */
#define FAST_MAX_BODY (64u << 10)

/* plain: s is printable ASCII and 1..max bytes long, so jansson takes it
 * as a string as it is. */
static bool
plain(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] > 0x7e) {
			return false;
		}
	}
	return i > 0;
}

/* materials_held: every material that names its hash as a string names
 * one this node holds, as api_case_submit requires. */
static bool
materials_held(struct node *n, const struct jdoc *d)
{
	unsigned a = jdoc_get(d, 0, "materials"), i, k, h;
	char hash[65];

	if (a == 0 || d->t[a].type != JT_ARRAY) {
		return true; /* api_case_submit checks nothing either */
	}
	for (k = 0, i = a + 1; k < d->t[a].n; k++, i = d->t[i].end) {
		if ((h = jdoc_get(d, i, "hash")) == 0 ||
		    d->t[h].type != JT_STRING) {
			continue;
		}
		if (d->t[h].len != 64) {
			return false;
		}
		memcpy(hash, d->t[h].u.s, 64);
		hash[64] = '\0';
		if (!blob_exists(n, hash)) {
			return false;
		}
	}
	return true;
}

bool
api_case_fast(struct http_call *c)
{
	const char *key = http_header(c, "Idempotency-Key");
	const char *rid = spec_str(c->token, "id");
	struct canon_buf b = { 0 };
	struct jdoc d;
	unsigned r;

	if (c->body_len == 0 || c->body_len > FAST_MAX_BODY ||
	    jdoc_parse(&d, c->body, c->body_len) != 0) {
		return false;
	}
	/* The body is a JSON object jansson takes (duplicate keys aside,
	 * which jdoc_canon finds): the usual way would check the caller
	 * first. */
	if (api_allow(c, R_STAFF, "submit cases") != 0) {
		return true;
	}
	if ((key != NULL && !plain(key, 128)) || rid == NULL ||
	    !plain(rid, 256) || !materials_held(c->node, &d)) {
		return false;
	}
	r = jdoc_get(&d, 0, "receiver");
	if (r != 0 && (d.t[r].type != JT_STRING || d.t[r].len != strlen(rid) ||
	               memcmp(d.t[r].u.s, rid, d.t[r].len) != 0)) {
		return false;
	}
	/* The receiving clerk is the token's, as api_case_submit sets it.
	 * The bytes are at most the body's and that member's. */
	if ((b.data = malloc(c->body_len + strlen(rid) + 32)) != NULL) {
		b.cap = c->body_len + strlen(rid) + 32;
	}
	if (jdoc_canon(&d, "receiver", rid, strlen(rid), &b) != TB_OK) {
		canon_buf_free(&b);
		return false;
	}
	c->fields = api_fields(CMD_CASE_CREATE);
	node_propose_bytes(c->node, c, CMD_CASE_CREATE, b.data, b.len, key);
	canon_buf_free(&b);
	return true;
}
