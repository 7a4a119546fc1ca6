/* The applier's reply thread: it answers the HTTP calls of the batches
 * the writer committed (or lost), while the writer goes on. */
#include "node/applier_impl.h"

#include "node/http.h"
#include "node/node.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

/* reply_result answers c with an apply's result (stolen): a refusal by its
 * code, a success with 201 (POST) or 200 and the call's extra fields. */
static void
reply_result(struct http_call *c, json_t *res)
{
	json_t *err;

	if (res == NULL) {
		http_reply_error(
		    c, 500, "internal", NULL,
		    "the write was applied but its result is lost");
		return;
	}
	if ((err = json_object_get(res, "error")) != NULL) {
		http_reply_json(c,
		                node_error_status(json_string_value(
		                    json_object_get(err, "code"))),
		                res);
		return;
	}
	if (c->extra != NULL) {
		json_object_update(res, c->extra);
	}
	/* A handoff offered is accepted for processing (202): the other
	 * region decides; an abort is done (201). */
	http_reply_json(c,
	                strcmp(c->method, "POST") != 0 ? 200
	                : json_object_get(res, "handoff") != NULL &&
	                        json_object_get(res, "aborted") == NULL &&
	                        json_object_get(res, "refused") == NULL
	                    ? 202
	                    : 201,
	                res);
}

static void
reply_lost(struct http_call *c, int rv)
{
	http_reply_error(c, 503, "unavailable", NULL,
	                 "the write was committed but the store could not "
	                 "record it: %s (retry with the same "
	                 "Idempotency-Key)",
	                 tb_strerror(rv));
}

/* answer answers the call of job j (if any) and frees j: with its result
 * if its batch is durable (j->rv 0), 503 if not. */
static void
answer(struct job *j)
{
	if (j->c != NULL && j->rv == 0) {
		reply_result(j->c, j->res);
	} else {
		json_decref(j->res);
		if (j->c != NULL) {
			reply_lost(j->c, j->rv);
		}
	}
	free(j);
}

/* reply_main answers what commit hands over, in order, until stopped
 * with nothing left. Serialising a reply body costs about as much CPU as
 * a fifth of an apply; here it overlaps the writer's next batch. */
static void *
reply_main(void *arg)
{
	struct applier *a = arg;
	struct job *list, *j;

	prctl(PR_SET_NAME, "tb:reply", 0, 0, 0);
	for (;;) {
		pthread_mutex_lock(&a->rmu);
		while (a->rhead == NULL && !a->rstop) {
			pthread_cond_wait(&a->rwork, &a->rmu);
		}
		list = a->rhead;
		a->rhead = NULL;
		a->rtail = &a->rhead;
		a->rbusy = list != NULL;
		pthread_mutex_unlock(&a->rmu);
		if (list == NULL) {
			break;
		}
		while ((j = list) != NULL) {
			list = j->next;
			answer(j);
		}
		pthread_mutex_lock(&a->rmu);
		a->rbusy = false;
		pthread_mutex_unlock(&a->rmu);
	}
	return NULL;
}

/* At most this many calls of a batch are answered on the writer itself
 * (applier_reply_hand). */
#define INLINE_REPLIES 4

/* applier_reply_hand answers the list of n jobs: on the reply thread, or, when
 * they are few, the writer has nothing else to do (more false, nothing
 * submitted) and the reply thread nothing left either, here, which spares
 * a thread wake-up in the reply's latency (one connection; a busy
 * machine). A large batch goes to the reply thread even then: entries
 * committed meanwhile would wait for its replies. Either way the calls
 * are answered in the order of their entries. */
void
applier_reply_hand(struct applier *a, struct job *list, struct job **last,
                   unsigned n, bool more)
{
	struct job *j;

	more = more || n > INLINE_REPLIES;
	if (!more) {
		pthread_mutex_lock(&a->mu);
		more = a->head != NULL;
		pthread_mutex_unlock(&a->mu);
	}
	pthread_mutex_lock(&a->rmu);
	if (!more && a->rhead == NULL && !a->rbusy) {
		pthread_mutex_unlock(&a->rmu);
		while ((j = list) != NULL) {
			list = j->next;
			answer(j);
		}
		return;
	}
	*a->rtail = list;
	a->rtail = last;
	pthread_mutex_unlock(&a->rmu);
	pthread_cond_signal(&a->rwork);
}

/* applier_reply_stop ends the reply thread once it has answered everything
 * handed to it (nothing is handed to it afterwards). */
void
applier_reply_stop(struct applier *a)
{
	if (!a->rstarted) {
		return;
	}
	pthread_mutex_lock(&a->rmu);
	a->rstop = true;
	pthread_mutex_unlock(&a->rmu);
	pthread_cond_signal(&a->rwork);
	pthread_join(a->rthread, NULL);
	a->rstarted = false;
}

int
applier_reply_start(struct applier *a)
{
	return pthread_create(&a->rthread, NULL, reply_main, a) == 0 ? TB_OK
	                                                             : TB_EIO;
}
