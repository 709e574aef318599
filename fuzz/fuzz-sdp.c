/*
 * libFuzzer harness for SDP per call leg (ccm/sdp.c, compiled in here:
 * the generic fuzz rule links lib/ only): sdp_inspect, sdp_rewrite in
 * both modes and sdp_mask on the input, with the contract checks:
 * - inspect: at most SDP_MEDIA_MAX media and SDP_CRYPTO_MAX kept lines,
 *   kept lines have no MKI and the suite's key length, distinct tags;
 *   sdp_srtp_agreed of the body with itself is 0 or 1;
 * - PASS returns the input unchanged;
 * - STRIP output holds no k= line, no a=crypto and no a= line with
 *   "inline:" (any case), and when it parses again, no stream is
 *   RTP/SAVP and no crypto line is left;
 * - mask output has "[masked]" after every "inline:".
 * Seeds: fuzz/corpus/fuzz-sdp (spec 9.2 offer and answer, several
 * m-lines, hold, LF-only, k= lines, too many m-lines).
 *
 *	make build-fuzz/fuzz-sdp && fuzz/run 60 build-fuzz/fuzz-sdp
 */
#include "../ccm/sdp.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
check_info(const struct sdp_info *info)
{
	const struct sdp_stream	*md;
	int			 i, j, k;

	CHECK(info->nmedia >= 0 && info->nmedia <= SDP_MEDIA_MAX);
	for (i = 0; i < info->nmedia; i++) {
		md = &info->media[i];
		CHECK(md->port >= 0 && md->port <= 65535);
		CHECK(md->dir >= SDP_SENDRECV && md->dir <= SDP_INACTIVE);
		CHECK(memchr(md->type, '\0', sizeof(md->type)) != NULL &&
		    md->type[0] != '\0');
		CHECK(md->ncrypto >= 0 && md->ncrypto <= SDP_CRYPTO_MAX);
		CHECK(md->bad_crypto >= 0);
		for (j = 0; j < md->ncrypto; j++) {
			CHECK(!md->crypto[j].has_mki);
			CHECK(md->crypto[j].keysalt_len ==
			    sdes_suite_key_len(md->crypto[j].suite) +
			    sdes_suite_salt_len(md->crypto[j].suite));
			for (k = 0; k < j; k++)
				CHECK(md->crypto[k].tag != md->crypto[j].tag);
		}
	}
	i = sdp_srtp_agreed(info, info);
	CHECK(i == 0 || i == 1);
}

static void
check_strip(const char *out, size_t n)
{
	struct sdp_info	 info;
	size_t		 i;
	int		 j;

	CHECK(strlen(out) == n);
	for (i = 0; i < n; i++) {
		if (i > 0 && out[i - 1] != '\n')
			continue;
		CHECK(strncasecmp(out + i, "a=crypto", 8) != 0);
		CHECK(strncmp(out + i, "k=", 2) != 0);
		if (strncmp(out + i, "a=", 2) == 0)
			for (; i < n && out[i] != '\n'; i++)
				CHECK(strncasecmp(out + i, "inline:", 7) != 0);
	}
	if (sdp_inspect(out, n, &info) == 0) {
		for (j = 0; j < info.nmedia; j++)
			CHECK(!info.media[j].savp &&
			    info.media[j].ncrypto == 0 &&
			    info.media[j].bad_crypto == 0);
		sdp_info_clear(&info);
	}
}

static void
check_mask(const char *m)
{
	const char	*p;

	CHECK(m != NULL);
	for (p = m; *p != '\0'; p++)
		if (strncasecmp(p, "inline:", 7) == 0)
			CHECK(strncmp(p + 7, SDP_MASK, sizeof(SDP_MASK) - 1) ==
			    0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char	*body = (const char *)data;
	struct sdp_info	 info;
	char		*out = NULL;
	size_t		 n = 0;
	int		 r, in_ok;

	r = sdp_inspect(body, len, &info);
	in_ok = r == 0;
	CHECK(r == 0 || r == UC_ERR_FORMAT);
	if (r == 0)
		check_info(&info);
	else
		CHECK(info.nmedia == 0);
	sdp_info_clear(&info);

	r = sdp_rewrite(body, len, SDP_PASS, &out, &n);
	CHECK(r == 0 || r == UC_ERR_FORMAT);
	if (r == 0) {
		/* A clean body is copied exactly; otherwise PASS dropped the
		   crypto lines phones reject, and what is left is clean
		   (when we could read the input at all). */
		CHECK(out[n] == '\0');
		if (in_ok && (n != len || memcmp(out, body, len) != 0)) {
			int	 i;

			CHECK(sdp_inspect(out, n, &info) == 0);
			for (i = 0; i < info.nmedia; i++)
				CHECK(info.media[i].bad_crypto == 0);
			sdp_info_clear(&info);
		}
	}
	free(out);
	out = NULL;

	r = sdp_rewrite(body, len, SDP_STRIP, &out, &n);
	CHECK(r == 0 || r == UC_ERR_FORMAT);
	if (r == 0)
		check_strip(out, n);
	free(out);

	out = sdp_mask(body, len);
	check_mask(out);
	free(out);
	return 0;
}
