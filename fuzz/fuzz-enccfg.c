/*
 * libFuzzer harness for encrypted configs (lib/enccfg.c): the first
 * input byte picks the target, the rest is the data.
 *   even: enccfg_stub on the bytes as a config (libxml2 with DOCTYPE
 *         refusal, the <device> reduction, the serialiser);
 *   odd:  sgn_parse as .enc.sgn, then enccfg_decrypt with the vector
 *         device key (vectors/device.key), so mutations of the vector
 *         (IV, pad count, hash, body) reach the AES and hash checks.
 * Seeds: fuzz/corpus/fuzz-enccfg (the vector config with both leading
 * bytes, the vector .enc.sgn, hostile XML).
 *
 *	make fuzz-build && fuzz/run 60 build-fuzz/fuzz-enccfg
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "enccfg.h"
#include "sgn.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* vectors/device.crt */
static const char device_crt[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDWjCCAkKgAwIBAgICUAEwDQYJKoZIhvcNAQELBQAwQDEYMBYGA1UEAwwPU0VQ\n"
	"MDAxMTIyMzM0NEJCMRMwEQYDVQQKDAp1Y3NlYy10ZXN0MQ8wDQYDVQQLDAZQaG9u\n"
	"ZXMwHhcNMjYxMTI1MjM0ODU4WhcNMzYxMTIyMjM0ODU4WjBAMRgwFgYDVQQDDA9T\n"
	"RVAwMDExMjIzMzQ0QkIxEzARBgNVBAoMCnVjc2VjLXRlc3QxDzANBgNVBAsMBlBo\n"
	"b25lczCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKD6r8qvirLET/om\n"
	"epqRldan7niWXbfg/N1hdydyWl0/24f2/Qhh3UbULt7gHjZqO/u0971Est7r8PfY\n"
	"t2X8nGLigAhCLA4eFcgtXxf8LOZ9XQbtl7FkE4G+clm4IRmAKJfN8rrwzcs5M/2d\n"
	"7Nl1NHGnqj6jKHHbpyTX+6rgjFlIm44zK45U7ElqZ5KEVjvGFzZ1O2YPG/5/d/xT\n"
	"WVfKvAmjHkWZQOwGpnyVgSjUreqPVG4x1qdSRCZOWGwNPTBiox2yWr468xIyjqTH\n"
	"5S7R8x6a4xATzsfxQcgFBUm4QZY9frawiYkRVzshZi2HYzNHlMui/kgBNh/Ty0cA\n"
	"H6iX87MCAwEAAaNeMFwwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCBaAwHQYD\n"
	"VR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUFBwMCMB0GA1UdDgQWBBRdzcU+dzt8n/Y0\n"
	"P8VGO4W0EKstmjANBgkqhkiG9w0BAQsFAAOCAQEAFmMZ2caEp5FoPekRT2AqwCqF\n"
	"NtCEjOn9ikM8rN8JCA3lU7JnZnNxg9i8L/s7OvQ/GkwVrXDMtxTmQrhIO5XTPdfx\n"
	"h5V1yQKhG/LNtSIuqZspNeIfrYtSJ84PL4wggntgKWOFlfFy5+hOlIooIIb5lpIG\n"
	"iNO4xV/QRs5a7STMXn4gYT1oFt9vJ5WpTnHg+tz4Te7yG+LxI66MkGFsFc+jQIrt\n"
	"Dbr9K0i0XmZl7zGT5XX9c/2VuoOK3b6RSvstdiyOYrgR6fDeLrJG5kpbCZld+nTT\n"
	"y8OZH4e8OCujsxZcQ35jljEkrlBM6pKyihVd80+g5ZoU5cy6sVzSKOkD+4M3nA==\n"
	"-----END CERTIFICATE-----\n";

/* vectors/device.key: a published test key, not a secret. */
static const char device_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCg+q/Kr4qyxE/6\n"
	"JnqakZXWp+54ll234PzdYXcnclpdP9uH9v0IYd1G1C7e4B42ajv7tPe9RLLe6/D3\n"
	"2Ldl/Jxi4oAIQiwOHhXILV8X/CzmfV0G7ZexZBOBvnJZuCEZgCiXzfK68M3LOTP9\n"
	"nezZdTRxp6o+oyhx26ck1/uq4IxZSJuOMyuOVOxJameShFY7xhc2dTtmDxv+f3f8\n"
	"U1lXyrwJox5FmUDsBqZ8lYEo1K3qj1RuMdanUkQmTlhsDT0wYqMdslq+OvMSMo6k\n"
	"x+Uu0fMemuMQE87H8UHIBQVJuEGWPX62sImJEVc7IWYth2MzR5TLov5IATYf08tH\n"
	"AB+ol/OzAgMBAAECggEAALySUX576Bs5t/MmYYpbvtEURhuixzeq9z2qoT0XKJ/j\n"
	"vNTz9euCfOJpq9dc+Wx9TOR2GNDBZ2HTASASiBEN3sqGBjNHIQblnFb/UiQ9qENp\n"
	"tMshY0lpXPlXrWaVniSCkP6z0K7wPI0mM6MxVgxgD9N+mnfvH49eX7TPEXb8CnI3\n"
	"DWwYHZwyctRW8Um3Z8q1cZE1iB+08UPJaRQIobv53Q/mDo174chDsCocoFAx6+xc\n"
	"aDBa0m44JcwZ1+ZpEAkyK9IbE1ETuNgYjWPax1Zt8XvUoNqvqsJZdsVKEh7jfeQx\n"
	"/cYWP0ugX9UlOQ8cFC8ES3a6jzbihAONO+cvW9AiiQKBgQDLO5nxrLRE5wz8Mjva\n"
	"HWFe47GICTTGjtMcw9JEcYa+1slrVVEvIaHfEf6B3yqaGXdsk6BPyvCa/e+uQlPf\n"
	"iYVUaOIvDKbQ/eGLMJw/FFsb0NNNNgxWNqPY/teyaEqIE7J32LkgkJ36D6EUR36Q\n"
	"V33XvMqLTp7irS1ufttzyqrDLQKBgQDKxpdv0LlcKOTFXlS3vTdp7YO69cC/Its1\n"
	"OAaZnS9tc+RltCSPK84IgSJxN3QJWkrItkhcSBEU4ka2JzRdcxEGhxMQQQXbEvug\n"
	"VN9zBGivPGIaKSbFNzeAAppe6yvTuXwE42sxUJXK3GvTBj/WOKgTroo/4dtM3SQ8\n"
	"LDhcMyteXwKBgFRG5gLTNHoyOi9HAYzkjCFWWKNp9em1BpSyG7roPRFcbnBFFAJw\n"
	"dvjTNHBUxAzdLKno2hzcskQDs+XWeYOEOrcTO2B5ZZ/a+DHJObHq1hFF2qn1FM6X\n"
	"oAB3RaklGGsvh92tELARaIFvA8QuFazzqyrQjkmQk9C6MdHVZ1mwHHoNAoGAMOLf\n"
	"750qkwVo4gxz8Dg1+9u/PnuxFGOa5aG0NaSnooOmNL7RcZLmATbgztrHptmV3f3U\n"
	"RCs7swU6dv/MqBrtp904w1ppxv80mtrbZCdT9athG12Ac1t0jfASt3+K+Whmdec+\n"
	"GI2ND3NEq4N+MG9IVjZmLjCNZmKKMdeXXuMXOZECgYEArc/SIN7hv3MFQj5dJ65J\n"
	"f011zSzN6mttsX6nblwrh07CL7+xqVIUDR9hW5jUn+MIslWdBeVUjJC9cD+84akp\n"
	"hIo0f+FpBGtCCilL7+SI37cN1LJNWnmmq0+ae50rMzGbQygrTUUu7rVbutDGWhQc\n"
	"YzE8olsoLKkugzU5j1DFbXM=\n"
	"-----END PRIVATE KEY-----\n";

static X509	*dev;
static EVP_PKEY	*devkey;

static void
load_once(void)
{
	BIO	*b;

	if (dev != NULL)
		return;
	if ((b = BIO_new_mem_buf(device_crt, -1)) == NULL ||
	    (dev = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(b);
	if ((b = BIO_new_mem_buf(device_key, -1)) == NULL ||
	    (devkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sgn_file	*f = NULL;
	uint8_t		*out = NULL;
	size_t		 outlen = 0;

	load_once();
	if (len < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		if (enccfg_stub(data + 1, len - 1, dev, &out, &outlen) == 0 &&
		    (outlen < 40 || memcmp(out, "<?xml", 5) != 0 ||
		    out[outlen - 1] != '\n'))
			abort();
	} else if (sgn_parse(data + 1, len - 1, SGN_KIND_ENC, &f) == 0) {
		if (enccfg_decrypt(f, devkey, &out, &outlen) == 0 &&
		    outlen > f->body_len)
			abort();
	}
	free(out);
	sgn_free(f);
	return 0;
}
