/*
 * One SIP dialog as a leg keeps it (RFC 3261 12): Call-ID, tags, the
 * From/To we put in requests, remote target, route set, our CSeq and
 * Contact.  b2bua.c (two dialogs per call) and sipleg.c (a SIP dialog
 * as one leg of an SCCP call) build on these; so do the few message
 * helpers both need (tags, From/To and URI text, Call-ID, Record-Route
 * on responses, the SDP body).
 *
 * Ownership: every string in a struct sip_dialog is malloc'd and owned
 * by it; sip_dialog_clear frees them all.  Messages returned here are
 * the caller's (osip_message_free, or hand them to sip.c).
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "ccm.h"

#define CALLID_MAX	256	/* "number@host" we keep */
#define HP_MAX		300	/* sip_contact_for output */
#define CONTACT_MAX	(HP_MAX + SIPMSG_PARTY_MAX + 16)

/* ---- message helpers --------------------------------------------- */

char *
sipmsg_take(char *s)
{
	char	*c;

	if (s == NULL)
		return NULL;
	c = strdup(s);
	osip_free(s);
	return c;
}

int
sipmsg_party_ok(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= SIPMSG_PARTY_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("+*#._-", *s) ==
		    NULL)
			return 0;
	return 1;
}

const char *
sipmsg_callinfo_word(int s)
{
	switch (s) {
	case CALL_ENCRYPTED:
		return "Encrypted";
	case CALL_AUTHENTICATED:
		return "Authenticated";
	default:
		return "NotAuthenticated";
	}
}

const char *
sipmsg_tag(osip_from_t *f)
{
	osip_generic_param_t	*p = NULL;

	if (f == NULL || osip_from_get_tag(f, &p) != 0 || p == NULL)
		return NULL;
	return p->gvalue;
}

char *
sipmsg_party_text(const osip_from_t *f, const char *tag)
{
	osip_from_t	*c = NULL;
	char		*s = NULL;

	if (f == NULL || osip_from_clone(f, &c) != 0)
		return NULL;
	if (tag != NULL && sipmsg_tag(c) == NULL)
		osip_from_set_tag(c, osip_strdup(tag));
	if (osip_from_to_str(c, &s) != 0)
		s = NULL;
	osip_from_free(c);
	return sipmsg_take(s);
}

char *
sipmsg_uri_text(const osip_uri_t *u)
{
	char	*s = NULL;

	if (u == NULL || osip_uri_to_str(u, &s) != 0)
		return NULL;
	return sipmsg_take(s);
}

char *
sipmsg_contact_uri(const osip_message_t *m)
{
	osip_contact_t	*c = NULL;

	if (osip_message_get_contact(m, 0, &c) < 0 || c == NULL)
		return NULL;
	return sipmsg_uri_text(c->url);
}

int
sipmsg_callid(const osip_message_t *m, char *buf, size_t sz)
{
	const osip_call_id_t	*c = m->call_id;
	int			 n;

	if (c == NULL || c->number == NULL)
		return -1;
	if (c->host != NULL)
		n = snprintf(buf, sz, "%s@%s", c->number, c->host);
	else
		n = snprintf(buf, sz, "%s", c->number);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

int
sipmsg_copy_rr(osip_message_t *resp, const osip_message_t *req)
{
	osip_record_route_t	*rr, *c;
	int			 i;

	if (req == NULL)
		return 0;
	for (i = 0; (rr = osip_list_get(&req->record_routes, i)) != NULL;
	    i++) {
		c = NULL;
		if (osip_record_route_clone(rr, &c) != 0 ||
		    osip_list_add(&resp->record_routes, c, -1) < 0) {
			osip_record_route_free(c);
			return -1;
		}
	}
	return 0;
}

int
sipmsg_body_sdp(const osip_message_t *m, const char **p, size_t *len)
{
	osip_body_t		*b = NULL;
	const osip_content_type_t *ct = m->content_type;

	*p = NULL;
	*len = 0;
	if (osip_message_get_body(m, 0, &b) < 0 || b == NULL ||
	    b->body == NULL || b->length == 0)
		return 0;
	if (ct == NULL || ct->type == NULL || ct->subtype == NULL ||
	    strcasecmp(ct->type, "application") != 0 ||
	    strcasecmp(ct->subtype, "sdp") != 0)
		return -1;
	*p = b->body;
	*len = b->length;
	return 1;
}

/* ---- dialogs ----------------------------------------------------- */

void
sip_dialog_clear(struct sip_dialog *d)
{
	size_t	 i;

	free(d->callid);
	free(d->ltag);
	free(d->rtag);
	free(d->lhdr);
	free(d->rhdr);
	free(d->target);
	free(d->contact);
	for (i = 0; i < d->nroutes; i++)
		free(d->routes[i]);
	memset(d, 0, sizeof(*d));
}

/* An out-of-dialog request skeleton to ruri; NULL on failure. */
static osip_message_t *
msg_request(const char *method, const char *ruri)
{
	osip_message_t	*m = NULL;
	osip_uri_t	*u = NULL;

	if (osip_message_init(&m) != 0)
		return NULL;
	if (osip_uri_init(&u) != 0 || osip_uri_parse(u, ruri) != 0) {
		osip_uri_free(u);
		osip_message_free(m);
		return NULL;
	}
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	osip_message_set_uri(m, u);
	osip_message_set_max_forwards(m, "70");
	return m;
}

/* Our Contact goes on the requests that may change the target. */
static int
method_has_contact(const char *method)
{
	return strcmp(method, "INVITE") == 0 ||
	    strcmp(method, "UPDATE") == 0 || strcmp(method, "SUBSCRIBE") == 0 ||
	    strcmp(method, "NOTIFY") == 0 || strcmp(method, "REFER") == 0;
}

osip_message_t *
sip_dialog_request(struct sip_dialog *d, const char *method, uint32_t cseq,
    const char *allow)
{
	osip_message_t	*m;
	char		 buf[64];
	size_t		 i;

	if (d->target == NULL || d->lhdr == NULL || d->rhdr == NULL ||
	    (m = msg_request(method, d->target)) == NULL)
		return NULL;
	if (cseq == 0)
		cseq = ++d->lcseq;
	snprintf(buf, sizeof(buf), "%u %s", cseq, method);
	if (osip_message_set_from(m, d->lhdr) != 0 ||
	    osip_message_set_to(m, d->rhdr) != 0 ||
	    osip_message_set_call_id(m, d->callid) != 0 ||
	    osip_message_set_cseq(m, buf) != 0) {
		osip_message_free(m);
		return NULL;
	}
	for (i = 0; i < d->nroutes; i++)
		osip_message_set_route(m, d->routes[i]);
	if (d->contact != NULL && method_has_contact(method))
		osip_message_set_contact(m, d->contact);
	if (allow != NULL && (strcmp(method, "INVITE") == 0 ||
	    strcmp(method, "UPDATE") == 0))
		osip_message_set_allow(m, allow);
	return m;
}

int
sip_dialog_routes(struct sip_dialog *d, const osip_message_t *m, int reverse)
{
	osip_record_route_t	*rr;
	char			*s;
	int			 i, n;

	for (i = 0; (size_t)i < d->nroutes; i++)
		free(d->routes[i]);
	d->nroutes = 0;
	if ((n = osip_list_size(&m->record_routes)) > SIP_DIALOG_ROUTES)
		return -1;
	for (i = 0; i < n; i++) {
		rr = osip_list_get(&m->record_routes, reverse ? n - 1 - i : i);
		s = NULL;
		if (rr == NULL || osip_record_route_to_str(rr, &s) != 0 ||
		    (d->routes[d->nroutes] = sipmsg_take(s)) == NULL)
			return -1;
		d->nroutes++;
	}
	return 0;
}

void
sip_dialog_target(struct sip_dialog *d, const osip_message_t *m)
{
	char	*u;

	if ((u = sipmsg_contact_uri(m)) == NULL)
		return;
	free(d->target);
	d->target = u;
}

int
sip_dialog_contact(struct sip_dialog *d, struct ccm *ccm,
    const struct tp_info *info, const char *user)
{
	char	 hp[HP_MAX], buf[CONTACT_MAX];

	if (sip_contact_for(ccm, info, hp, sizeof(hp)) != 0)
		return -1;
	if ((size_t)snprintf(buf, sizeof(buf), "<sip:%s@%s>",
	    user != NULL && user[0] != '\0' ? user : "ccm", hp) >= sizeof(buf))
		return -1;
	free(d->contact);
	return (d->contact = strdup(buf)) == NULL ? -1 : 0;
}

int
sip_dialog_from_2xx(struct sip_dialog *d, const osip_message_t *inv,
    const osip_message_t *resp)
{
	const char	*rt = sipmsg_tag(resp->to);
	char		 cid[CALLID_MAX];

	if (rt == NULL)
		return -1;
	free(d->rtag);
	free(d->rhdr);
	if ((d->rtag = strdup(rt)) == NULL ||
	    (d->rhdr = sipmsg_party_text(resp->to, NULL)) == NULL)
		return -1;
	if (d->lhdr == NULL &&
	    (d->lhdr = sipmsg_party_text(inv->from, NULL)) == NULL)
		return -1;
	if (d->callid == NULL && (sipmsg_callid(inv, cid, sizeof(cid)) != 0 ||
	    (d->callid = strdup(cid)) == NULL))
		return -1;
	if (d->target == NULL)
		d->target = sipmsg_uri_text(inv->req_uri);
	sip_dialog_target(d, resp);
	if (d->target == NULL)
		return -1;
	return sip_dialog_routes(d, resp, 1);
}

int
sip_dialog_from_request(struct sip_dialog *d, const osip_message_t *req,
    const char *ltag)
{
	const char	*rt = sipmsg_tag(req->from);
	char		 cid[CALLID_MAX];

	if (sipmsg_callid(req, cid, sizeof(cid)) != 0 || ltag == NULL ||
	    rt == NULL)
		return 400;
	if ((d->callid = strdup(cid)) == NULL ||
	    (d->ltag = strdup(ltag)) == NULL ||
	    (d->rtag = strdup(rt)) == NULL ||
	    (d->lhdr = sipmsg_party_text(req->to, d->ltag)) == NULL ||
	    (d->rhdr = sipmsg_party_text(req->from, NULL)) == NULL)
		return 500;
	if (sip_dialog_routes(d, req, 0) != 0)
		return 400;
	sip_dialog_target(d, req);
	return 0;
}
