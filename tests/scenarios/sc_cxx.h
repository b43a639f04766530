/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SC_CXX_H
#define SC_CXX_H

/* sc_cxx_keys.cpp: whether @key may hold an account. */
bool sa_cxx_account_ok(const char *key);

#endif /* SC_CXX_H */
