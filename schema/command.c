/* Commands and events: the typed, versioned envelope and its bodies. */
#include "schema/command.h"
#include "schema/json_canon.h"
#include "schema/json_fast_impl.h"

#include "schema/canon_walk.h"
#include "schema/canon_write.h"
#include "schema/spec.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Largest command: a full release with its matters (16 MiB). */
static const struct canon_limits cmd_limits = {
	.max_bytes = 16u << 20,
	.max_depth = 24,
	.max_str = 1u << 20,
	.max_items = 1u << 20,
};

static const struct spec_field body_release[] = {
	{ "release", SPEC_OBJECT, true },
};
static const struct spec_field body_overlay[] = {
	{ "overlay", SPEC_OBJECT, true },
};
static const struct spec_field body_case_create[] = {
	{ "matter", SPEC_STRING, false },   /* key or task_code, or: */
	{ "bundle", SPEC_STRING, false },   /* a bundle code (一件事) */
	{ "applicant", SPEC_OBJECT, true }, /* name, id type/number, ... */
	{ "form", SPEC_OBJECT, true },      /* field name -> value */
	{ "materials", SPEC_ARRAY, true },  /* [{code, hash, size}] */
	{ "channel", SPEC_STRING, true },   /* 1 window .. 4 post */
	{ "receiver", SPEC_STRING, false }, /* clerk who received it */
};
static const struct spec_field body_case_action[] = {
	{ "case", SPEC_STRING, true },    { "action", SPEC_STRING, true },
	{ "version", SPEC_INT, true }, /* If-Match: the case version seen */
	{ "target", SPEC_STRING, false }, { "opinion", SPEC_STRING, false },
	{ "actor", SPEC_STRING, true },   { "pause_until", SPEC_STRING, false },
	{ "epoch", SPEC_INT, false }, /* the owner's epoch the writer saw */
};
static const struct spec_field body_token_create[] = {
	{ "id", SPEC_STRING, true },    { "hash", SPEC_STRING, true },
	{ "role", SPEC_STRING, true },  { "region", SPEC_STRING, true },
	{ "expires", SPEC_INT, false }, { "name", SPEC_STRING, false },
};
static const struct spec_field body_token_revoke[] = {
	{ "id", SPEC_STRING, true },
};
static const struct spec_field body_group_feature[] = {
	{ "level", SPEC_INT, true },
};
static const struct spec_field body_join_create[] = {
	{ "id", SPEC_STRING, true },     { "hash", SPEC_STRING, true },
	{ "region", SPEC_STRING, true }, { "role", SPEC_STRING, true },
	{ "expires", SPEC_INT, true },   { "issuer", SPEC_STRING, true },
};
static const struct spec_field body_join_use[] = {
	{ "id", SPEC_STRING, true },      { "hash", SPEC_STRING, true },
	{ "region", SPEC_STRING, true },  { "role", SPEC_STRING, true },
	{ "node_id", SPEC_STRING, true },
};
static const struct spec_field body_region_topology[] = {
	{ "op", SPEC_STRING, true }, /* set-parent, add-peer, remove-peer */
	{ "code", SPEC_STRING, true },
	{ "url", SPEC_STRING, false },
};
static const struct spec_field body_outbox_child[] = {
	{ "region", SPEC_STRING, true },
};
static const struct spec_field body_outbox_deliver[] = {
	{ "origin", SPEC_STRING, true }, { "inc", SPEC_INT, true },
	{ "seq", SPEC_INT, true },       { "entry", SPEC_OBJECT, true },
	{ "by", SPEC_INT, false }, /* the sender's incarnation (level 5) */
};
static const struct spec_field body_outbox_deliver_run[] = {
	{ "origin", SPEC_STRING, true }, { "inc", SPEC_INT, true },
	{ "seq", SPEC_INT, true },       { "entries", SPEC_ARRAY, true },
	{ "by", SPEC_INT, false }, /* the sender's incarnation (level 5) */
};
static const struct spec_field body_outbox_acked[] = {
	{ "dest", SPEC_STRING, true },
	{ "inc", SPEC_INT, true },
	{ "seq", SPEC_INT, true },
};
static const struct spec_field body_crl_put[] = {
	{ "crl", SPEC_OBJECT, true },   /* the signed tongban.crl/1 */
	{ "root", SPEC_OBJECT, true },  /* the province's root metadata */
	{ "chain", SPEC_ARRAY, false }, /* the issuer key's certificates */
};
static const struct spec_field body_calendar_put[] = {
	{ "calendar", SPEC_OBJECT, true }, /* the signed tongban.calendar/1 */
	{ "root", SPEC_OBJECT, true },     /* the province's root metadata */
};
static const struct spec_field body_handoff_offer[] = {
	{ "case", SPEC_STRING, true },   { "to", SPEC_STRING, true },
	{ "mode", SPEC_STRING, true },   { "reason", SPEC_STRING, true },
	{ "actor", SPEC_STRING, false },
};
static const struct spec_field body_handoff_abort[] = {
	{ "case", SPEC_STRING, true },
	{ "after_ms", SPEC_INT,
	  true }, /* the leader's handoff_abort_after_ms */
	{ "actor", SPEC_STRING, false },
};
static const struct spec_field body_handoff_frame[] = {
	{ "frames", SPEC_ARRAY, true },
};
static const struct spec_field body_root_put[] = {
	{ "root", SPEC_OBJECT, true }, /* the signed tongban.root/1 */
};
static const struct spec_field body_handoff_request[] = {
	{ "case", SPEC_STRING, true },
	{ "reason", SPEC_STRING, true },
	{ "actor", SPEC_STRING, false },
};
static const struct spec_field body_group_incarnation[] = {
	{ "incarnation", SPEC_INT, true },
	{ "certificate", SPEC_OBJECT, true }, /* tongban.incarnation/1 */
};
static const struct spec_field body_outbox_skip[] = {
	{ "origin", SPEC_STRING, true },
	{ "inc", SPEC_INT, true },
	{ "seq", SPEC_INT, true },
	{ "by", SPEC_INT, false },
};
static const struct spec_field body_outbox_rewind[] = {
	{ "dest", SPEC_STRING, true },
	{ "by", SPEC_INT, true },
};
static const struct spec_field body_event_case[] = {
	{ "case", SPEC_STRING, true },
	{ "epoch", SPEC_INT, true },
	{ "seq", SPEC_INT, true },
	{ "action", SPEC_STRING, true },
	{ "from", SPEC_STRING, true },
	{ "to", SPEC_STRING, true },
	{ "actor", SPEC_STRING, false },
	{ "opinion", SPEC_STRING, false },
	{ "step_code", SPEC_INT, false },
	{ "completion_code", SPEC_INT, false }, /* on final states */
	{ "due", SPEC_STRING, false },          /* a new due date */
	{ "national_no", SPEC_STRING, false }, /* the 办件编号, on accept */
};

struct cmd_def {
	const char *name;
	int version; /* the newest body version this build decodes */
	int feature_level;
	const struct spec_field *fields;
	size_t nfields;
};

#define CMD_DEF_AT(name, level, fields)                                    \
	{                                                                  \
		name, 1, level, fields, sizeof(fields) / sizeof(fields[0]) \
	}
#define CMD_DEF(name, fields) CMD_DEF_AT(name, 1, fields)

/* A type proposed only once the group runs at feature level 2. */
#define CMD_DEF2(name, fields)                                         \
	{                                                              \
		name, 1, 2, fields, sizeof(fields) / sizeof(fields[0]) \
	}

static const struct cmd_def cmd_defs[CMD_TYPE_COUNT] = {
	[CMD_CATALOG_RELEASE] = CMD_DEF("catalog.release", body_release),
	[CMD_CATALOG_OVERLAY] = CMD_DEF("catalog.overlay", body_overlay),
	[CMD_CASE_CREATE] = CMD_DEF("case.create", body_case_create),
	[CMD_CASE_ACTION] = CMD_DEF("case.action", body_case_action),
	[CMD_TOKEN_CREATE] = CMD_DEF("token.create", body_token_create),
	[CMD_TOKEN_REVOKE] = CMD_DEF("token.revoke", body_token_revoke),
	[CMD_EVENT_CASE] = CMD_DEF("case.event", body_event_case),
	[CMD_GROUP_FEATURE] = CMD_DEF("group.feature", body_group_feature),
	[CMD_JOIN_CREATE] = CMD_DEF2("join.create", body_join_create),
	[CMD_JOIN_USE] = CMD_DEF2("join.use", body_join_use),
	[CMD_REGION_TOPOLOGY] =
	    CMD_DEF_AT("region.topology", 2, body_region_topology),
	[CMD_OUTBOX_CHILD] = CMD_DEF_AT("outbox.child", 2, body_outbox_child),
	[CMD_OUTBOX_DELIVER] =
	    CMD_DEF_AT("outbox.deliver", 2, body_outbox_deliver),
	[CMD_OUTBOX_ACKED] = CMD_DEF_AT("outbox.acked", 2, body_outbox_acked),
	[CMD_CRL_PUT] = CMD_DEF_AT("crl.put", 3, body_crl_put),
	[CMD_OUTBOX_DELIVER_RUN] =
	    CMD_DEF_AT("outbox.deliver_run", 3, body_outbox_deliver_run),
	[CMD_HANDOFF_OFFER] =
	    CMD_DEF_AT("handoff.offer", TB_HANDOFF_LEVEL, body_handoff_offer),
	[CMD_HANDOFF_ABORT] =
	    CMD_DEF_AT("handoff.abort", TB_HANDOFF_LEVEL, body_handoff_abort),
	[CMD_HANDOFF_FRAME] =
	    CMD_DEF_AT("handoff.frame", TB_HANDOFF_LEVEL, body_handoff_frame),
	[CMD_ROOT_PUT] = CMD_DEF_AT("root.put", 3, body_root_put),
	[CMD_HANDOFF_REQUEST] = CMD_DEF_AT("handoff.request", TB_HANDOFF_LEVEL,
	                                   body_handoff_request),
	[CMD_HANDOFF_REFUSE] = CMD_DEF_AT("handoff.refuse", TB_HANDOFF_LEVEL,
	                                  body_handoff_request),
	[CMD_GROUP_INCARNATION] =
	    CMD_DEF_AT("group.incarnation", 5, body_group_incarnation),
	[CMD_OUTBOX_SKIP] = CMD_DEF_AT("outbox.skip", 5, body_outbox_skip),
	[CMD_OUTBOX_REWIND] =
	    CMD_DEF_AT("outbox.rewind", 5, body_outbox_rewind),
	[CMD_CALENDAR_PUT] = CMD_DEF_AT("calendar.put", 5, body_calendar_put),
};

const char *
cmd_type_name(enum cmd_type t)
{
	return (unsigned)t < CMD_TYPE_COUNT ? cmd_defs[t].name : "unknown";
}

int
cmd_type_parse(const char *name, enum cmd_type *t)
{
	int i;

	for (i = 0; i < CMD_TYPE_COUNT; i++) {
		if (name != NULL && !strcmp(cmd_defs[i].name, name)) {
			*t = (enum cmd_type)i;
			return TB_OK;
		}
	}
	return TB_EUNKNOWN;
}

int
cmd_feature_level(enum cmd_type t)
{
	return (unsigned)t < CMD_TYPE_COUNT ? cmd_defs[t].feature_level : -1;
}

int
cmd_version(enum cmd_type t)
{
	return (unsigned)t < CMD_TYPE_COUNT ? cmd_defs[t].version : -1;
}

int
cmd_encode(enum cmd_type t, int64_t at, const char *key, const json_t *body,
           struct canon_buf *out, char *errmsg, size_t errlen)
{
	json_t *env;
	int rv;

	if ((unsigned)t >= CMD_TYPE_COUNT || !json_is_object(body)) {
		snprintf(errmsg, errlen, "bad command type or body");
		return TB_EINVAL;
	}
	/* The envelope set member by member (json_pack parsed its format
	 * and checked each key's UTF-8 on every write). */
	env = json_object();
	if (env == NULL ||
	    json_object_set_new_nocheck(
	        env, "type", json_string_nocheck(cmd_defs[t].name)) != 0 ||
	    json_object_set_new_nocheck(
	        env, "v", json_integer(cmd_defs[t].version)) != 0 ||
	    json_object_set_new_nocheck(env, "at", json_integer(at)) != 0 ||
	    json_object_set_nocheck(env, "body", (json_t *)body) != 0 ||
	    (key != NULL &&
	     json_object_set_new(env, "key", json_string(key)) != 0)) {
		json_decref(env);
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	rv = canon_encode(env, out, errmsg, errlen);
	json_decref(env);
	return rv;
}

/* utf8_ok: s is valid UTF-8, as json_string requires. */
static bool
utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + strlen(s);
	size_t k;

	while (p < e) {
		if (*p < 0x80) {
			p++;
		} else if ((k = jf_utf8_len(p, e)) == 0) {
			return false;
		} else {
			p += k;
		}
	}
	return true;
}

int
cmd_encode_body(enum cmd_type t, int64_t at, const char *key,
                const uint8_t *body, size_t blen, struct canon_buf *out,
                char *errmsg, size_t errlen)
{
	if ((unsigned)t >= CMD_TYPE_COUNT || blen == 0 ||
	    ((body[0] & 0xf0) != 0x80 && body[0] != 0xde && body[0] != 0xdf)) {
		snprintf(errmsg, errlen, "bad command type or body");
		return TB_EINVAL;
	}
	if (key != NULL && !utf8_ok(key)) {
		/* cmd_encode's json_string refuses it, and says this. */
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	/* The envelope's members in canonical (bytewise) order, written
	 * directly: what cmd_encode builds and encodes as a jansson value. */
	canon_put_map(out, key != NULL ? 5 : 4);
	canon_put_str(out, "at", 2);
	canon_put_int(out, at);
	canon_put_str(out, "body", 4);
	canon_put_raw(out, body, blen);
	if (key != NULL) {
		canon_put_str(out, "key", 3);
		canon_put_str(out, key, strlen(key));
	}
	canon_put_str(out, "type", 4);
	canon_put_str(out, cmd_defs[t].name, strlen(cmd_defs[t].name));
	canon_put_str(out, "v", 1);
	canon_put_int(out, cmd_defs[t].version);
	if (out->err != 0) {
		snprintf(errmsg, errlen, "out of memory encoding");
		return out->err;
	}
	return TB_OK;
}

int
cmd_splice(struct canon_buf *b, const char *key, const uint8_t *v, size_t vlen,
           char *errmsg, size_t errlen)
{
	uint8_t pat[34];
	size_t kl = strlen(key), pl = kl + 2, i, at = 0, hits = 0;
	struct canon_buf out = { 0 };

	if (kl >= 32) {
		snprintf(errmsg, errlen, "key \"%s\" is too long", key);
		return TB_EINVAL;
	}
	/* fixstr key, then nil (0xc0, which no UTF-8 string holds). */
	pat[0] = (uint8_t)(0xa0 | kl);
	memcpy(pat + 1, key, kl);
	pat[kl + 1] = 0xc0;
	for (i = 0; b->len >= pl && i <= b->len - pl; i++) {
		if (!memcmp(b->data + i, pat, pl)) {
			at = i + pl - 1;
			hits++;
		}
	}
	if (hits != 1) {
		snprintf(errmsg, errlen, "%zu places for the bytes of \"%s\"",
		         hits, key);
		return TB_EINVAL;
	}
	if (canon_buf_append(&out, b->data, at) != 0 ||
	    canon_buf_append(&out, v, vlen) != 0 ||
	    canon_buf_append(&out, b->data + at + 1, b->len - at - 1) != 0) {
		canon_buf_free(&out);
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	canon_buf_free(b);
	*b = out;
	return TB_OK;
}

void
cmd_free(struct cmd *c)
{
	json_decref(c->doc);
	memset(c, 0, sizeof(*c));
}

/* decode is cmd_decode, or cmd_decode_shallow with shallow set. */
static int
decode(const uint8_t *p, size_t n, struct cmd *c, bool shallow, char *errmsg,
       size_t errlen)
{
	static const char *const parts[CMD_CASE_PARTS] = {
		"applicant", "form", "materials", "channel", "receiver",
	};
	static const struct spec_field env_fields[] = {
		{ "type", SPEC_STRING, true }, { "v", SPEC_INT, true },
		{ "at", SPEC_INT, true },      { "key", SPEC_STRING, false },
		{ "body", SPEC_OBJECT, true },
	};
	const struct cmd_def *def;
	struct tb_diag d;
	enum cmd_type t;
	size_t made = 0;
	json_t *doc;
	int rv;

	memset(c, 0, sizeof(*c));
	rv = shallow ? canon_decode_shell(p, n, &cmd_limits, "body", parts,
	                                  CMD_CASE_PARTS, &doc, c->part, &made,
	                                  errmsg, errlen)
	             : canon_decode(p, n, &cmd_limits, &doc, errmsg, errlen);
	if (rv != 0) {
		return rv;
	}
	tb_diag_init(&d);
	if (spec_object(doc, env_fields, 5, "$", &d) != 0) {
		goto refused;
	}
	if (cmd_type_parse(spec_str(doc, "type"), &t) != 0) {
		tb_diag_add(&d, TB_EUNKNOWN, "$.type",
		            "unknown command type \"%s\"",
		            spec_str(doc, "type"));
		goto refused;
	}
	if (made != 0 && t != CMD_CASE_CREATE) {
		/* Only a case.create's members are read from the bytes. */
		json_decref(doc);
		return decode(p, n, c, false, errmsg, errlen);
	}
	def = &cmd_defs[t];
	if (spec_int(doc, "v", 0) < 1 || spec_int(doc, "v", 0) > def->version) {
		tb_diag_add(&d, TB_ECODE, "$.v",
		            "version %lld of %s is not supported (this build "
		            "decodes 1..%d)",
		            spec_int(doc, "v", 0), def->name, def->version);
		goto refused;
	}
	if (spec_object(json_object_get(doc, "body"), def->fields, def->nfields,
	                "$.body", &d) != 0) {
		goto refused;
	}
	c->type = t;
	c->version = (int)spec_int(doc, "v", 0);
	c->at = spec_int(doc, "at", 0);
	c->key = spec_str(doc, "key");
	c->doc = doc;
	c->body = json_object_get(doc, "body");
	c->raw = p;
	c->rawlen = n;
	c->shallow = made != 0;
	c->has_parts = shallow && t == CMD_CASE_CREATE;
	return TB_OK;
refused:
	snprintf(errmsg, errlen, "%s: %s", d.e[0].path, d.e[0].msg);
	json_decref(doc);
	return d.e[0].code;
}

int
cmd_decode(const uint8_t *p, size_t n, struct cmd *c, char *errmsg,
           size_t errlen)
{
	return decode(p, n, c, false, errmsg, errlen);
}

int
cmd_decode_shallow(const uint8_t *p, size_t n, struct cmd *c, char *errmsg,
                   size_t errlen)
{
	return decode(p, n, c, true, errmsg, errlen);
}

int
cmd_body_decode(const struct cmd *c, json_t **body)
{
	const uint8_t *b;
	size_t blen;

	*body = NULL;
	if (c->raw == NULL ||
	    canon_map_get(c->raw, c->rawlen, "body", &b, &blen) != 0) {
		return TB_ECORRUPT;
	}
	/* Part of the bytes cmd_decode checked. */
	return canon_decode_checked(b, body);
}
