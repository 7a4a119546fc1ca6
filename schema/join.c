/* Join token strings: encoding, parsing and the secret's hash. */
#include "schema/join.h"

#include "schema/canon.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define BODY_FIXED (1 + 1 + 6 + 8 + JOIN_SECRET + 8 + 32 + 8 + 1)
#define BODY_MAX   (BODY_FIXED + JOIN_ADDR_MAX + 4)

static const char *const role_names[] = { NULL, "member", "peer", "child" };

const char *
join_role_name(enum join_role r)
{
	return r >= JOIN_MEMBER && r <= JOIN_CHILD ? role_names[r] : NULL;
}

int
join_role_parse(const char *name, enum join_role *r)
{
	int i;

	for (i = JOIN_MEMBER; name != NULL && i <= JOIN_CHILD; i++) {
		if (!strcmp(name, role_names[i])) {
			*r = (enum join_role)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

static bool
digits6(const char *s)
{
	int i;

	for (i = 0; i < 6; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return s[6] == '\0';
}

static bool
addr_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > JOIN_ADDR_MAX || memchr(s, ':', n) == NULL) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] > '~') {
			return false;
		}
	}
	return true;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

int
join_encode(const struct join_token *t, char *out, size_t n)
{
	uint8_t b[BODY_MAX], sum[32];
	size_t alen = strlen(t->addr), len = 0;

	if (join_role_name(t->role) == NULL || !digits6(t->region) ||
	    strlen(t->id) != 16 || strlen(t->issuer_node) != 16 ||
	    !addr_ok(t->addr, alen) || t->expires <= 0 || n < JOIN_STRING_MAX) {
		return TB_EINVAL;
	}
	b[len++] = 1;
	b[len++] = (uint8_t)t->role;
	memcpy(b + len, t->region, 6);
	len += 6;
	if (canon_unhex(t->id, b + len, 8) != TB_OK) {
		return TB_EINVAL;
	}
	len += 8;
	memcpy(b + len, t->secret, JOIN_SECRET);
	len += JOIN_SECRET;
	if (canon_unhex(t->issuer_node, b + len, 8) != TB_OK) {
		return TB_EINVAL;
	}
	len += 8;
	memcpy(b + len, t->issuer_kx, 32);
	len += 32;
	put_be64(b + len, (uint64_t)t->expires);
	len += 8;
	b[len++] = (uint8_t)alen;
	memcpy(b + len, t->addr, alen);
	len += alen;
	crypto_generichash(sum, sizeof(sum), b, len, NULL, 0);
	memcpy(b + len, sum, 4);
	len += 4;
	memcpy(out, JOIN_PREFIX, strlen(JOIN_PREFIX));
	sodium_bin2base64(out + strlen(JOIN_PREFIX), n - strlen(JOIN_PREFIX), b,
	                  len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(b, sizeof(b));
	return TB_OK;
}

int
join_decode(const char *s, struct join_token *t, char *errmsg, size_t errlen)
{
	uint8_t b[BODY_MAX + 8], sum[32];
	size_t plen = strlen(JOIN_PREFIX), len = 0, alen;
	const char *end;
	int rv = TB_EMALFORMED;

	memset(t, 0, sizeof(*t));
	if (s == NULL || strncmp(s, JOIN_PREFIX, plen) != 0) {
		snprintf(errmsg, errlen,
		         "a join token starts with \"%s\" (tongban cert "
		         "join-token prints one)",
		         JOIN_PREFIX);
		return rv;
	}
	if (strlen(s) > JOIN_STRING_MAX ||
	    sodium_base642bin(b, sizeof(b), s + plen, strlen(s + plen), NULL,
	                      &len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    *end != '\0') {
		snprintf(errmsg, errlen,
		         "the join token is not base64url after \"%s\" "
		         "(truncated or mistyped?)",
		         JOIN_PREFIX);
		return rv;
	}
	if (len < BODY_FIXED + 4 || b[0] != 1) {
		snprintf(errmsg, errlen,
		         len < BODY_FIXED + 4
		             ? "the join token is %zu bytes, too short "
		               "(truncated?)"
		             : "the join token is of an unknown version",
		         len);
		goto out;
	}
	crypto_generichash(sum, sizeof(sum), b, len - 4, NULL, 0);
	if (sodium_memcmp(sum, b + len - 4, 4) != 0) {
		snprintf(errmsg, errlen,
		         "the join token's check does not match: it was "
		         "tampered with or mistyped");
		goto out;
	}
	alen = b[BODY_FIXED - 1];
	if (len != BODY_FIXED + alen + 4 ||
	    !addr_ok((const char *)b + BODY_FIXED, alen)) {
		snprintf(errmsg, errlen,
		         "the join token's issuer address is malformed");
		goto out;
	}
	t->role = (enum join_role)b[1];
	memcpy(t->region, b + 2, 6);
	canon_hex(b + 8, 8, t->id);
	memcpy(t->secret, b + 16, JOIN_SECRET);
	canon_hex(b + 48, 8, t->issuer_node);
	memcpy(t->issuer_kx, b + 56, 32);
	t->expires = (int64_t)get_be64(b + 88);
	memcpy(t->addr, b + BODY_FIXED, alen);
	if (join_role_name(t->role) == NULL || !digits6(t->region) ||
	    t->expires <= 0) {
		snprintf(errmsg, errlen,
		         "the join token names an unknown role or a "
		         "malformed region");
		join_token_wipe(t);
		goto out;
	}
	rv = TB_OK;
out:
	sodium_memzero(b, sizeof(b));
	return rv;
}

void
join_secret_hash(const uint8_t secret[JOIN_SECRET], char hex[65])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), secret, JOIN_SECRET, NULL, 0);
	canon_hex(h, 32, hex);
}

void
join_token_wipe(struct join_token *t)
{
	sodium_memzero(t, sizeof(*t));
}
