/* Internals shared by node/region*.c. */
#ifndef TB_NODE_REGION_IMPL_H
#define TB_NODE_REGION_IMPL_H

#include "node/region.h"
#include "replication/outbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A report older than this says the region is unreachable. */
#define REGION_STALE_MS 5000

/* The window of the stream up (case summaries) when it travels in runs:
 * small entries, many of them (replication/outbox.h, outbox_peer). */
#define REGION_UP_WINDOW 512

/* A child as this region's leader knows it. */
struct region_child {
	uint32_t code;
	bool stream;            /* has a replicated outbox record */
	int64_t report_at;      /* monotonic ms of its last report (0: none) */
	json_t *report;         /* its last report (owned; under mu) */
	int64_t backlog_since;  /* when its backlog became non-zero (0: none) */
	int64_t child_prop_at;  /* last outbox.child proposal */
	int64_t rewind_prop_at; /* last outbox.rewind proposal */
	int64_t runs_at;        /* its last hello: it takes runs (0: none) */
	char leader[17];        /* node id its reports come from ("": none) */
	uint64_t leader_term;   /* the term a REGION_T_MEMBERS named it in */
};

/* The most members of another region's group a node dials (a group has 1,
 * 3 or 5 voters, and standbys). */
#define REGION_MEMBERS_MAX 9

/* A member of the parent's group, as its REGION_T_MEMBERS named it. */
struct region_member {
	char id[17];
	char url[264]; /* tcp://HOST:PORT */
};

/* A proposal the driver made, awaiting its apply. */
struct region_prop {
	struct raft_apply req;
	struct region_prop *next;
	struct region_flow *f;
	struct outbox_cmd c; /* payload NULL: only the position matters */
	uint64_t term;
	bool staged;
	/* If set (borrowed, for region_propose only): the canonical bytes
	 * of the body's "entry", proposed in place of its null. */
	const uint8_t *splice;
	size_t splice_len;
};

struct region_flow {
	struct node *n;
	uint32_t self, parent; /* parent 0 for a province */
	char parent_s[7];
	pthread_mutex_t mu;
	json_t *view; /* under mu */
	struct region_child kids[OUTBOX_MAX_PEERS];
	unsigned nkids;
	/* The driver, on the leader only. */
	bool on;
	uint64_t term;
	struct outbox_driver d;
	struct region_prop *props;
	uint8_t *ebuf; /* the entry env->entry_get returned last */
	/* The parent's node that sent DATA last: its leader, whom ACKs go
	 * to ("": none yet; then to any node of the parent region). */
	char parent_leader[17];
	/* The parent's group as its members said (region_members.c):
	 * dialed beside the topology's URL; pm_known once a list came (until
	 * then the entries links.json holds stay). Under mu. */
	struct region_member pm[REGION_MEMBERS_MAX];
	unsigned npm;
	bool pm_known;
	uint64_t parent_term; /* the term parent_leader was named in */
	/* Redirects this follower sent lately (at most one per sender
	 * every REGION_HINT_MS). */
	struct {
		char id[17];
		int64_t at;
	} hinted[16];
	unsigned hinted_next;
	/* The stream from the parent: the last refused entry. */
	struct outbox_pos refused_pos;
	char refused_why[300];
	int64_t refused_at;
	unsigned refused_level; /* the group's level when it was refused */
	int64_t next_report_ms, next_links_ms;
	int64_t topo_next_ms;   /* when to propose init's topology again */
	int64_t parent_runs_at; /* the parent's last hello (0: none) */
	int64_t runs_off_until; /* a run was refused: singles until then */
	int64_t next_hello_ms;
	unsigned level; /* the group's feature level, as of the last tick */
	struct region_latest *lt; /* region_latest.c */
	/* The group's incarnation: replicated (group.incarnation, feature
	 * level 5), and this node's own (its link's, node-local: raised by
	 * tongban group recover). While the node's is higher the leader
	 * proposes group.incarnation and holds its streams (inc_pending). */
	uint32_t inc, link_inc;
	_Atomic bool inc_pending;
	int64_t inc_prop_at;
	_Atomic unsigned long long tx, rx, malformed, spoofed, refused,
	    not_leader, delivered, acked, members_rx, redirects, rewinds;
};

/* region_mono_ms: the loop's monotonic milliseconds. */
int64_t region_mono_ms(struct region_flow *f);

/* region_send sends a one-way message of type to region to: to the node
 * that leads there when known, else to any node of the region (best
 * effort; TB_OK or link_send's error). */
int region_send(struct region_flow *f, uint32_t to, uint32_t type,
                const uint8_t *buf, size_t len);

/* region_kid finds (or adds, if add) the child code; NULL if full. */
struct region_child *region_kid(struct region_flow *f, uint32_t code, bool add);

/* region_propose encodes and proposes a command of type t with body on the
 * leader; p (may be NULL) is the driver's record of it, freed here on
 * failure. TB_OK or an error (nothing proposed). */
int region_propose(struct region_flow *f, int t, const json_t *body,
                   struct region_prop *p);

/* region_splice replaces the null value of the key "entry" in the
 * canonical command b with the canonical bytes e (elen): the command a
 * body holding the decoded entry would encode to, without encoding a
 * document of MiBs again. TB_OK, or TB_EINVAL (no single such null, with
 * the reason in err) or TB_ENOMEM. */
struct canon_buf;
int region_splice(struct canon_buf *b, const uint8_t *e, size_t elen, char *err,
                  size_t errlen);

/* region_driver_start makes a new driver for this leader's term (on the
 * loop): nothing of a former one survives; the records say where each
 * stream stands (region_env.c). */
void region_driver_start(struct region_flow *f);

/* region_runs_sync tells the driver which peers take runs (a hello in the
 * last REGION_STALE_MS) and whether the group proposes runs (feature level
 * 3, no run refused lately); region_hello_send says to the parent and the
 * children that this build takes runs (loop, leader; region_env.c). */
void region_runs_sync(struct region_flow *f);
void region_hello_send(struct region_flow *f);

/* region_on_hello is the REGION_T_HELLO link handler (arg: the flow). */
struct links;
struct link_msg;
void region_on_hello(struct links *ls, const struct link_msg *m, void *arg);

/* region_members_send tells region to (its leader) who this group's
 * members are and which leads (REGION_T_MEMBERS; leader, every second);
 * region_redirect answers a frame a follower cannot act on with the same
 * message, to the node that sent it (rate-limited per sender);
 * region_on_members is its link handler; region_members_sync brings
 * links.json's "by": "region-member" entries (peers, the array of the
 * loaded file) in step with the parent's members, less the one the
 * topology's parent_url reaches: true if it changed them
 * (region_members.c). */
void region_members_send(struct region_flow *f, uint32_t to);
void region_members_round(struct region_flow *f); /* parent and children */
void region_redirect(struct region_flow *f, const struct link_msg *m);
void region_on_members(struct links *ls, const struct link_msg *m, void *arg);
bool region_members_sync(struct region_flow *f, json_t *peers,
                         const char *parent_code, const char *parent_url);

/* region_members_parse checks a REGION_T_MEMBERS message's "term",
 * "leader" and "members" into ms (*n of them; *leader borrowed from h, or
 * NULL); 0, or -1 with the field and reason in why. */
int region_members_parse(const json_t *h, struct region_member *ms, unsigned *n,
                         const char **leader, char *why, size_t wlen);

/* region_view_refresh rebuilds the view (loop); region_report_send sends
 * this region's report to its parent (loop, leader). */
void region_view_refresh(struct region_flow *f);
void region_report_send(struct region_flow *f);

/* region_links_sync keeps DIR/links.json's "by": "region" entries equal
 * to the topology's parent and peers. */
void region_links_sync(struct region_flow *f);

/* region_inc_sync reads the replicated and the node's incarnation and, on
 * the leader at feature level 5, proposes group.incarnation while the
 * node's is higher (region_sync.c). */
void region_inc_sync(struct region_flow *f);

/* region_topology_init proposes init's --parent and --peer once, when
 * the replicated topology was never set (leader). */
void region_topology_init(struct region_flow *f);

/* region_latest_init / region_latest_free: the statements' state
 * (f->lt; init returns -1 when out of memory). region_latest_tick signs
 * and sends the province's statement every latest_interval_ms (its
 * leader) and compares the statement held with the applied catalog
 * (loop). region_on_latest is the REGION_T_LATEST handler (arg: the
 * flow). region_latest_view: a new reference to what the watch saw last
 * ({"latest", "withheld", "stale", "watch", "counters", "last_refusal"}),
 * or NULL; any thread. */
int region_latest_init(struct region_flow *f);
void region_latest_free(struct region_flow *f);
void region_latest_tick(struct region_flow *f);
void region_on_latest(struct links *ls, const struct link_msg *m, void *arg);
json_t *region_latest_view(struct node *n);
/* region_latest_report: this node's watch for its report up ({"state",
 * "since", "message"}: state "off" when it does not watch; null before
 * the first look); region_latest_row:
 * a reported watch checked (a new reference: the same fields, or null). */
json_t *region_latest_report(struct node *n);
json_t *region_latest_row(const json_t *w);

#endif
