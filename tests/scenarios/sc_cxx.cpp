// SPDX-License-Identifier: BSD-2-Clause
/*
 * Scenario workload in C++: a small order book.  Each request names an
 * account key and a shape whose area is the order's size; requests are
 * validated (a static check_key() here, another static check_key() of
 * the same name in sc_cxx_keys.cpp), sized through a virtual call,
 * booked in a std::map keyed by std::string (calls through the PLT into
 * libstdc++), and rejected with an exception when malformed.
 *
 * Usage: sc_cxx MODE SEED ROUNDS
 *   normal  keys of lower-case letters, 1 malformed request in 256
 *   upper   half the keys carry an upper-case letter: the decision of
 *           the account check in sc_cxx_keys.cpp flips (a bias shift);
 *           the caller only counts the flagged keys, without a branch
 *   reject  1 malformed request in 3: more throws (an error origin)
 * ROUNDS 0 runs until killed.  The planted site of each mode carries a
 * "PLANT <mode>" comment.
 */
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "sc_cxx.h"

namespace {

uint64_t rng_state = 1;

unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

struct Shape {
	virtual ~Shape() = default;
	virtual long area() const = 0;
};

struct Square : Shape {
	long side;
	explicit Square(long s) : side(s) {}
	long area() const override { return side * side; }
};

struct Strip : Shape {
	long w, h;
	Strip(long a, long b) : w(a), h(b) {}
	long area() const override { return w > h ? w * 2 : h * 2; }
};

} // namespace

/* The request check of this file: a key of 2 to 15 characters. */
__attribute__((noinline)) static int check_key(const char *key)
{
	size_t n = strlen(key);

	if (n < 2)
		return 0;
	return n < 16;
}

namespace book {

class Ledger {
public:
	long post(const std::string &key, const Shape &s);
	size_t size() const { return accounts_.size(); }

private:
	std::map<std::string, long> accounts_;
};

__attribute__((noinline)) long Ledger::post(const std::string &key,
					     const Shape &s)
{
	long a = s.area();
	auto it = accounts_.find(key);

	if (it == accounts_.end()) {
		accounts_.emplace(key, a);
		return a;
	}
	it->second += a;
	return it->second;
}

} // namespace book

__attribute__((noinline)) static long parse_size(const char *req)
{
	long v = 0;

	if (req[0] != '#') /* PLANT reject */
		throw std::invalid_argument("size without #");
	for (req++; *req >= '0' && *req <= '9'; req++)
		v = v * 10 + (*req - '0');
	return v;
}

static char keys[64][16];

int main(int argc, char **argv)
{
	unsigned long rounds, r;
	unsigned reject_every = 256, upper_every = 0;
	book::Ledger ledger;
	long total = 0, rejected = 0, refused = 0, flagged = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s normal|upper|reject SEED ROUNDS\n",
			argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "upper"))
		upper_every = 2;
	else if (!strcmp(argv[1], "reject"))
		reject_every = 3;
	else if (strcmp(argv[1], "normal")) {
		fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
		return 2;
	}
	rng_state = strtoull(argv[2], NULL, 10) | 1;
	rounds = strtoul(argv[3], NULL, 10);
	for (unsigned i = 0; i < 64; i++) {
		unsigned n = 3 + rnd(8);

		for (unsigned k = 0; k < n; k++)
			keys[i][k] = (char)('a' + rnd(26));
		if (upper_every && i % upper_every == 0)
			keys[i][rnd(n)] = (char)('A' + rnd(26));
	}
	for (r = 0; !rounds || r < rounds; r++) {
		const char *key = keys[rnd(64)];
		char req[16];
		long v = 0;

		if (!check_key(key)) {
			refused++;
			continue;
		}
		/* no branch on the result: the decision stays the callee's */
		flagged += !sa_cxx_account_ok(key);
		snprintf(req, sizeof(req), "%c%u",
			 rnd(reject_every) ? '#' : '?', rnd(100));
		try {
			v = parse_size(req);
		} catch (const std::invalid_argument &) {
			rejected++;
			continue;
		}
		if (v & 1) {
			Square sq(v);
			total += ledger.post(key, sq);
		} else {
			Strip st(v, (long)rnd(50));
			total += ledger.post(key, st);
		}
	}
	fprintf(stderr, "total %ld accounts %zu rejected %ld refused %ld "
		"flagged %ld\n", total, ledger.size(), rejected, refused,
		flagged);
	return 0;
}
