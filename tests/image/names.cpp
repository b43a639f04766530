// SPDX-License-Identifier: BSD-2-Clause
/*
 * Test program of the image-names suite, never run: C++ names of every
 * kind (namespaces, classes, templates, operators, constructors, static
 * functions) and calls through the PLT into libstdc++ and libc.  Rust
 * names come from names_rust.S.
 */
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

extern "C" int names_rust_calls(void);

namespace outer {
namespace inner {
template <typename T> struct Box {
	T v;
	__attribute__((noinline)) T get() const { return v; }
	__attribute__((noinline)) bool operator<(const Box &o) const
	{
		return v < o.v;
	}
};
} // namespace inner

struct Base {
	virtual ~Base() = default;
	virtual int f(int) const = 0;
};
struct Derived : Base {
	int f(int x) const override { return x * 3; }
};
} // namespace outer

__attribute__((noinline)) static int check_key(const char *k)
{
	if (strlen(k) > 8)
		throw std::length_error("long key");
	return (int)strlen(k);
}

__attribute__((noinline)) static long overloaded(long x) { return x + 1; }
__attribute__((noinline)) static double overloaded(double x) { return x / 2; }

int main(int argc, char **argv)
{
	std::map<std::string, int> m;
	outer::inner::Box<int> a{argc}, b{2};
	outer::inner::Box<std::string> s{argv[0]};
	outer::Derived d;
	const outer::Base &base = d;

	m[s.get()] = check_key(argv[0]) + base.f(argc);
	return (int)m.size() + (a < b) + (int)overloaded(1L) +
	       (int)overloaded(2.0) + names_rust_calls() +
	       (getenv("NAMES") != nullptr);
}
