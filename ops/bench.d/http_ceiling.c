/* The HTTP ceiling of ops/bench: nng's HTTP server (the one tongban uses)
 * with a trivial handler. It is set up as node/http.c sets up tongban's
 * (one tree handler on "/", any method, the body collected) and answers
 * every request at once with 201 and a fixed JSON body of the size of
 * tongban's reply to POST /v1/cases, with the same headers. No JSON
 * parsing, no Raft, no disk.
 *
 * usage: http_ceiling PORT   (0 picks a free port)
 * prints: {"event":"listening","port":N} and serves until killed. */
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char reply_body[] =
    "{\"case\":{\"id\":\"370102-20260101-000001\",\"matter\":"
    "\"000117001000#01\",\"task_code\":null,\"matter_name\":"
    "\"\\u98df\\u54c1\\u7ecf\\u8425\\u8bb8\\u53ef\",\"state\":"
    "\"received\",\"version\":1,\"release\":1,\"matter_hash\":"
    "\"3eaff162b5260a7de240749d993159f40d8ebff9094168ef121900f25f3e941c\""
    ",\"received_at\":1795980823638}}\n";

static void
handle(nng_aio *aio)
{
	nng_http_res *res;
	nng_http_req *req = nng_aio_get_input(aio, 0);
	void *body;
	size_t len;

	nng_http_req_get_data(req, &body, &len);
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, 201);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	nng_http_res_set_header(res, "Cache-Control", "no-store");
	if (nng_http_res_copy_data(res, reply_body, sizeof(reply_body) - 1) !=
	    0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

int
main(int argc, char **argv)
{
	nng_http_server *s;
	nng_http_handler *h;
	nng_sockaddr sa;
	nng_url *u;
	char url[64];
	sigset_t set;
	int rv, sig;

	/* Block the signals before nng starts its threads, so that only
	 * sigwait below takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s",
	         argc > 1 ? argv[1] : "0");
	if ((rv = nng_url_parse(&u, url)) != 0 ||
	    (rv = nng_http_server_hold(&s, u)) != 0 ||
	    (rv = nng_http_handler_alloc(&h, "/", handle)) != 0 ||
	    (rv = nng_http_handler_set_tree(h)) != 0 ||
	    (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, true, 64u << 20)) != 0 ||
	    (rv = nng_http_server_add_handler(s, h)) != 0 ||
	    (rv = nng_http_server_start(s)) != 0 ||
	    (rv = nng_http_server_get_addr(s, &sa)) != 0) {
		fprintf(stderr, "http_ceiling: %s\n", nng_strerror(rv));
		return 1;
	}
	printf("{\"event\":\"listening\",\"port\":%d}\n",
	       ntohs(sa.s_in.sa_port));
	fflush(stdout);
	sigwait(&set, &sig);
	nng_http_server_stop(s);
	nng_http_server_release(s);
	nng_url_free(u);
	return 0;
}
