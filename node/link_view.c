/* The operator's view of the links: GET /v1/links and the /metrics lines.
 * Any thread reads them: the list and the strings under view_mu, the
 * counters as atomics. */
#include "node/link_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
link_state_name(enum link_state st)
{
	static const char *const names[] = { "connecting", "handshaking", "up",
		                             "refused", "closed" };

	return (unsigned)st < 5 ? names[st] : "unknown";
}

const char *
link_refusal_name(enum link_refusal r)
{
	static const char *const names[LR_COUNT] = { "auth",      "oversized",
		                                     "truncated", "malformed",
		                                     "chunk",     "exhausted" };

	return (unsigned)r < LR_COUNT ? names[r] : "unknown";
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
link_json(const struct link *l)
{
	char since[CERT_TIME_LEN];
	unsigned long long rtt = l->rtt_us;
	int pattern = l->pattern;
	json_t *o;

	cert_time_format(l->since_ms, since);
	o = json_pack("{s:o, s:o, s:s, s:o, s:o, s:s, s:o, s:o, s:o}",
	              "peer_node_id",
	              str_or_null(l->node_id[0] ? l->node_id : l->cfg_node_id),
	              "peer_region",
	              str_or_null(l->region[0] ? l->region : l->cfg_region),
	              "direction", l->dir == LINK_OUT ? "out" : "in", "url",
	              str_or_null(l->dir == LINK_OUT ? l->url : NULL), "remote",
	              str_or_null(l->remote), "state",
	              link_state_name(l->state), "pattern",
	              str_or_null(pattern == NOISE_IK   ? "IK"
	                          : pattern == NOISE_XX ? "XX"
	                                                : NULL),
	              "cert_serial", str_or_null(l->serial), "cert_not_after",
	              str_or_null(l->not_after));
	if (o == NULL) {
		return NULL;
	}
	json_object_set_new(o, "frames_tx",
	                    json_integer((json_int_t)l->frames_tx));
	json_object_set_new(o, "frames_rx",
	                    json_integer((json_int_t)l->frames_rx));
	json_object_set_new(o, "bytes_tx",
	                    json_integer((json_int_t)l->bytes_tx));
	json_object_set_new(o, "bytes_rx",
	                    json_integer((json_int_t)l->bytes_rx));
	json_object_set_new(o, "handshakes",
	                    json_integer((json_int_t)l->handshakes));
	json_object_set_new(o, "rekeys_tx",
	                    json_integer((json_int_t)l->rekeys_tx));
	json_object_set_new(o, "rekeys_rx",
	                    json_integer((json_int_t)l->rekeys_rx));
	json_object_set_new(o, "rehandshakes",
	                    json_integer((json_int_t)l->rehandshakes));
	json_object_set_new(o, "last_error", str_or_null(l->last_error));
	json_object_set_new(o, "rtt_ms",
	                    rtt > 0 ? json_real((double)rtt / 1000.0)
	                            : json_null());
	json_object_set_new(o, "since", json_string(since));
	return o;
}

json_t *
links_view_json(struct links *ls)
{
	json_t *out, *root, *arr = json_array();
	struct link *l;

	if (arr == NULL) {
		return NULL;
	}
	pthread_mutex_lock(&ls->view_mu);
	for (l = ls->list; l != NULL; l = l->next) {
		json_array_append_new(arr, link_json(l));
	}
	root = json_pack("{s:I, s:s}", "version", (json_int_t)ls->root_version,
	                 "source", ls->root_stored ? "stored" : "root.json");
	pthread_mutex_unlock(&ls->view_mu);
	out = json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}", "node_id",
	                ls->node_id, "region", ls->region, "listen", ls->url,
	                "trust_root", root, "rehandshakes",
	                (json_int_t)ls->rehandshakes, "links", arr);
	return out;
}

/* A growing text buffer. */
struct tbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void tb_printf(struct tbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tb_printf(struct tbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->failed) {
		return;
	}
	if (b->p == NULL) {
		if ((b->p = malloc(4096)) == NULL) {
			b->failed = true;
			return;
		}
		b->cap = 4096;
	}
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)k < b->cap - b->len) {
			b->len += (size_t)k;
			return;
		}
		{
			size_t cap = (b->cap + (size_t)k + 1) * 2;
			char *np = realloc(b->p, cap);
			if (np == NULL) {
				b->failed = true;
				return;
			}
			b->p = np;
			b->cap = cap;
		}
	}
}

/* The per-peer sums of the metrics. */
struct peer_sum {
	char peer[256];
	unsigned long long frames[2], bytes[2];
	bool up;
};

char *
links_metrics_text(struct links *ls)
{
	struct tbuf b = { 0 };
	struct peer_sum *sums;
	unsigned long long rekeys[2] = { 0, 0 };
	size_t n = 0, cap = 0, i;
	struct link *l;
	int r;

	if (ls == NULL) {
		return NULL;
	}
	pthread_mutex_lock(&ls->view_mu);
	for (l = ls->list; l != NULL; l = l->next) {
		cap++;
	}
	sums = calloc(cap + 1, sizeof(*sums));
	for (l = ls->list; l != NULL && sums != NULL; l = l->next) {
		rekeys[0] += l->rekeys_tx;
		rekeys[1] += l->rekeys_rx;
		/* A peer is its node id; a configured peer never reached, its
		 * URL. */
		const char *peer = l->node_id[0]        ? l->node_id
		                   : l->cfg_node_id[0]  ? l->cfg_node_id
		                   : l->dir == LINK_OUT ? l->url
		                                        : NULL;
		if (peer == NULL) {
			continue;
		}
		for (i = 0; i < n && strcmp(sums[i].peer, peer) != 0; i++) {
		}
		if (i == n) {
			snprintf(sums[n++].peer, sizeof(sums[0].peer), "%s",
			         peer);
		}
		sums[i].frames[0] += l->frames_tx;
		sums[i].frames[1] += l->frames_rx;
		sums[i].bytes[0] += l->bytes_tx;
		sums[i].bytes[1] += l->bytes_rx;
		sums[i].up = sums[i].up || l->state == LS_UP;
	}
	pthread_mutex_unlock(&ls->view_mu);
	if (sums == NULL) {
		return NULL;
	}
	tb_printf(&b, "# HELP tongban_link_frames_total Sealed frames per "
	              "peer and direction.\n"
	              "# TYPE tongban_link_frames_total counter\n");
	for (i = 0; i < n; i++) {
		tb_printf(&b,
		          "tongban_link_frames_total{peer=\"%s\",dir=\"tx\"} "
		          "%llu\n"
		          "tongban_link_frames_total{peer=\"%s\",dir=\"rx\"} "
		          "%llu\n",
		          sums[i].peer, sums[i].frames[0], sums[i].peer,
		          sums[i].frames[1]);
	}
	tb_printf(&b, "# HELP tongban_link_bytes_total Frame bytes per peer "
	              "and direction.\n"
	              "# TYPE tongban_link_bytes_total counter\n");
	for (i = 0; i < n; i++) {
		tb_printf(&b,
		          "tongban_link_bytes_total{peer=\"%s\",dir=\"tx\"} "
		          "%llu\n"
		          "tongban_link_bytes_total{peer=\"%s\",dir=\"rx\"} "
		          "%llu\n",
		          sums[i].peer, sums[i].bytes[0], sums[i].peer,
		          sums[i].bytes[1]);
	}
	tb_printf(&b, "# HELP tongban_link_up Whether a peer has an up link.\n"
	              "# TYPE tongban_link_up gauge\n");
	for (i = 0; i < n; i++) {
		tb_printf(&b, "tongban_link_up{peer=\"%s\"} %d\n", sums[i].peer,
		          sums[i].up ? 1 : 0);
	}
	tb_printf(&b,
	          "# HELP tongban_link_handshakes_total Link handshakes by "
	          "result.\n"
	          "# TYPE tongban_link_handshakes_total counter\n"
	          "tongban_link_handshakes_total{result=\"ok\"} %llu\n"
	          "tongban_link_handshakes_total{result=\"refused\"} %llu\n"
	          "tongban_link_handshakes_total{result=\"revoked\"} %llu\n"
	          "tongban_link_handshakes_total{result=\"timeout\"} %llu\n"
	          "tongban_link_handshakes_total{result=\"incarnation\"} "
	          "%llu\n",
	          (unsigned long long)ls->hs_ok,
	          (unsigned long long)ls->hs_refused,
	          (unsigned long long)ls->hs_revoked,
	          (unsigned long long)ls->hs_timeout,
	          (unsigned long long)ls->hs_incarnation);
	tb_printf(&b,
	          "# HELP tongban_link_rehandshakes_total Up links closed "
	          "for a new full handshake (link_rehandshake_seconds).\n"
	          "# TYPE tongban_link_rehandshakes_total counter\n"
	          "tongban_link_rehandshakes_total %llu\n",
	          (unsigned long long)ls->rehandshakes);
	tb_printf(&b,
	          "# HELP tongban_link_rekeys_total Link keys replaced by a "
	          "REKEY frame, by direction.\n"
	          "# TYPE tongban_link_rekeys_total counter\n"
	          "tongban_link_rekeys_total{dir=\"tx\"} %llu\n"
	          "tongban_link_rekeys_total{dir=\"rx\"} %llu\n",
	          rekeys[0], rekeys[1]);
	tb_printf(&b, "# HELP tongban_link_refused_frames_total Frames "
	              "refused (each closed its pipe).\n"
	              "# TYPE tongban_link_refused_frames_total counter\n");
	for (r = 0; r < LR_COUNT; r++) {
		tb_printf(&b,
		          "tongban_link_refused_frames_total{reason=\"%s\"} "
		          "%llu\n",
		          link_refusal_name((enum link_refusal)r),
		          (unsigned long long)ls->refused[r]);
	}
	tb_printf(&b,
	          "# HELP tongban_link_cert_closes_total Open links closed "
	          "because the peer's certificate stopped verifying.\n"
	          "# TYPE tongban_link_cert_closes_total counter\n"
	          "tongban_link_cert_closes_total %llu\n"
	          "# HELP tongban_link_unhandled_total Messages of a type "
	          "without a handler.\n"
	          "# TYPE tongban_link_unhandled_total counter\n"
	          "tongban_link_unhandled_total %llu\n",
	          (unsigned long long)ls->cert_closes,
	          (unsigned long long)ls->unhandled);
	free(sums);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
