/* The group's feature level: group.feature raises it (rolling upgrades). */
#include "node/fsm.h"
#include "node/log.h"
#include "node/store_db.h"
#include "schema/spec.h"

#include <uv.h>

int
fsm_feed_level(struct fsm *f, bool *on)
{
	uint64_t level = 0;
	int rv = meta_get_u64(f->s, f->txn, "feature_level", &level);

	*on = rv == 0 && level >= FSM_FEED_LEVEL;
	return rv;
}

int
fsm_ref_level(struct fsm *f, bool *on)
{
	uint64_t level = 0;
	int rv = meta_get_u64(f->s, f->txn, "feature_level", &level);

	*on = rv == 0 && level >= FSM_REF_LEVEL;
	return rv;
}

int
fsm_group_feature(struct fsm *f)
{
	long long level = spec_int(f->cmd->body, "level", 0);
	uint64_t cur = 0, n = 0;
	int rv;

	if ((rv = meta_get_u64(f->s, f->txn, "feature_level", &cur)) != 0) {
		return rv;
	}
	cur = cur == 0 ? 1 : cur;
	if (level <= (long long)cur) {
		return fsm_refuse(f, TB_ECONFLICT, "$.body.level",
		                  "feature levels only rise: the group runs at "
		                  "level %llu",
		                  (unsigned long long)cur);
	}
	if (level > TB_FEATURE_LEVEL) {
		/* Not a refusal: the group has decided, and this member
		 * cannot follow. Applying on would diverge; stop. */
		tb_log(TB_LOG_ERROR, "TB-FEATURE-UNSUPPORTED",
		       "the group raised its feature level to %lld, beyond "
		       "this build's %d: upgrade this member",
		       level, TB_FEATURE_LEVEL);
		return TB_EFEATURE;
	}
	if ((rv = meta_put_u64(f->s, f->txn, "feature_level",
	                       (uint64_t)level)) != 0) {
		return rv;
	}
	/* The writer's catalog cache resolves by the level (FSM_CAP_LEVEL):
	 * reload it, with the answers it remembered. */
	f->s->cat.valid = false;
	/* Level 2 keeps the case summary index: build it for the cases
	 * already stored, here, in this apply (docs/STORE.md). */
	if (cur < FSM_SUM_LEVEL && level >= FSM_SUM_LEVEL) {
		uint64_t t0 = uv_hrtime();

		if ((rv = fsm_sum_backfill(f, &n)) != 0) {
			return rv;
		}
		tb_log(TB_LOG_INFO, "TB-SUM-BUILT",
		       "summary index built for %llu cases in %.3f s",
		       (unsigned long long)n, (double)(uv_hrtime() - t0) / 1e9);
	}
	f->result = json_pack("{s:I}", "feature_level", (json_int_t)level);
	if (f->result != NULL && cur < FSM_SUM_LEVEL &&
	    level >= FSM_SUM_LEVEL &&
	    json_object_set_new(f->result, "cases_indexed",
	                        json_integer((json_int_t)n)) != 0) {
		return TB_ENOMEM;
	}
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}
