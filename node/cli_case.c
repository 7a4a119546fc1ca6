/* Checks of `tongban case submit` made before anything is uploaded: the
 * case's matter must be one of the node's effective catalog, else the
 * materials would stay stored as blobs after the node refused the case. */
#include "node/cli.h"

#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* escape writes s percent-encoded (all but A-Z a-z 0-9 - _ . ~) to out;
 * false if it does not fit. */
static bool
escape(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (o + 4 > n) {
			return false;
		}
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch) != NULL) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return true;
}

int
tb_cli_case_precheck(const char *api, const char *token, const json_t *c,
                     const char *file)
{
	const char *matter = spec_str(c, "matter");
	char uri[400], code[300];
	json_t *v = NULL;
	int status = 0;

	if (matter == NULL) {
		return 0; /* a bundle, or no matter: the node says which */
	}
	if (!escape(matter, code, sizeof(code))) {
		fprintf(stderr,
		        "tongban case submit: %s: $.matter: too long (nothing "
		        "was uploaded)\n",
		        file);
		return -1;
	}
	snprintf(uri, sizeof(uri), "/v1/catalog/matters/%s", code);
	if (tb_cli_request(api, token, true, "GET", uri, NULL, false, &status,
	                   &v) != TB_EXIT_OK &&
	    status == 404) {
		fprintf(stderr,
		        "tongban case submit: %s: $.matter: \"%s\" is not a "
		        "matter of the node's catalog (nothing was uploaded; "
		        "tongban catalog matters lists them)\n",
		        file, matter);
		json_decref(v);
		return -1;
	}
	/* Any other answer (a role that may not read the catalog, an older
	 * node): the node decides at the submission, as before. A transport
	 * failure was printed; the upload would fail the same way. */
	json_decref(v);
	return status == 0 ? -1 : 0;
}
