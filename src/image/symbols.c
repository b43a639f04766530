// SPDX-License-Identifier: BSD-2-Clause
/*
 * Symbols of a binary: .symtab and .dynsym (and the debug file's),
 * perf's choice among aliases, Arm mapping symbols, PLT stubs named
 * SYMBOL@plt, demangling, and the lookups by address and by name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libiberty/demangle.h>

#include "sensor/image.h"
#include "sensor/log.h"
#include "sensor/error.h"
#include "image_int.h"

/* Entries scanned per symbol table by sa_elf_find_symbol(). */
#define SA_ELF_SCAN_MAX (1U << 24)

uint64_t sa_sym_end(const struct sa_sym *sym)
{
	return to_isym(sym)->end;
}

bool sa_sym_thumb(const struct sa_sym *sym)
{
	return to_isym(sym)->thumb;
}

/*
 * perf's choose_best_symbol() (tools/perf/util/symbol.c), so that where
 * two symbols share an address we name the function as perf does.
 * Returns true when @a should be kept over @b.
 */
static size_t sa_underscores(const char *s)
{
	size_t n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

static bool sa_sym_better(const struct sa_isym *a, const struct sa_isym *b)
{
	size_t na, nb;

	if (a->pub.size && !b->pub.size)
		return true;
	if (!a->pub.size && b->pub.size)
		return false;
	if ((a->bind == STB_WEAK) != (b->bind == STB_WEAK))
		return b->bind == STB_WEAK;
	if ((a->bind == STB_GLOBAL) != (b->bind == STB_GLOBAL))
		return a->bind == STB_GLOBAL;
	na = sa_underscores(a->pub.name);
	nb = sa_underscores(b->pub.name);
	if (na != nb)
		return na < nb;
	na = strlen(a->pub.name);
	nb = strlen(b->pub.name);
	if (na != nb)
		return na > nb;
	return true;
}

static int sa_isym_cmp(const void *pa, const void *pb)
{
	const struct sa_isym *a = pa, *b = pb;

	if (a->pub.start != b->pub.start)
		return a->pub.start < b->pub.start ? -1 : 1;
	/* the better symbol first, so deduplication keeps it */
	if (sa_sym_better(a, b) && !sa_sym_better(b, a))
		return -1;
	if (sa_sym_better(b, a) && !sa_sym_better(a, b))
		return 1;
	return strcmp(a->pub.name, b->pub.name);
}

/* Arm mapping symbols ($a, $t, $d, $x and their "$x.123" forms) mark
 * code and data inside functions; they are not functions.
 */
static bool sa_is_mapping_sym(const char *name)
{
	return name[0] == '$' && strchr("atdx", name[1]) &&
	       (name[2] == '\0' || name[2] == '.');
}

/* Records an Arm mapping symbol ($a, $t, $d, $x) at ELF address @addr. */
static int sa_dso_add_mapsym(struct sa_idso *d, uint64_t addr, char kind)
{
	if (d->nr_mapsyms == d->cap_mapsyms) {
		size_t ncap = d->cap_mapsyms ? d->cap_mapsyms * 2 : 64;
		void *p;

		if (d->nr_mapsyms >= SA_IMAGE_SYMS_MAX)
			return 0;	/* the rest is treated as code */
		p = reallocarray(d->mapsyms, ncap, sizeof(*d->mapsyms));
		if (!p)
			return -ENOMEM;
		d->mapsyms = p;
		d->cap_mapsyms = ncap;
	}
	d->mapsyms[d->nr_mapsyms].addr = addr;
	d->mapsyms[d->nr_mapsyms++].kind = kind;
	return 0;
}

static int sa_mapsym_cmp(const void *pa, const void *pb)
{
	const struct sa_mapsym *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Reads the function symbols of one symbol table of @elf (the binary
 * or its separate debug file, @fsize bytes) into d->syms.
 */
static int sa_dso_read_symtab(struct sa_idso *d, Elf *elf, size_t fsize,
			      Elf_Scn *scn, const GElf_Shdr *sh, size_t *cap)
{
	size_t i, n, shnum = 0, shstrndx = 0;
	Elf_Data *data;
	bool arm = d->pub.arch == SA_ARCH_ARM, shstrndx_ok;

	if (sh->sh_entsize == 0 || sh->sh_type == SHT_NOBITS ||
	    sh->sh_offset > fsize ||
	    sh->sh_size > fsize - sh->sh_offset) {
		sa_warn("%s: symbol table at offset 0x%" PRIx64 " goes past "
			"the end of the file; symbols ignored\n", d->file,
			(uint64_t)sh->sh_offset);
		return 0;
	}
	data = elf_getdata(scn, NULL);
	if (!data)
		return 0;
	if (elf_getshdrnum(elf, &shnum) < 0)
		return 0;
	shstrndx_ok = elf_getshdrstrndx(elf, &shstrndx) == 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Shdr tsh;
		Elf_Scn *tscn;
		struct sa_isym *s;
		const char *name;
		int type;
		uint64_t value;

		if (!gelf_getsym(data, i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    type != STT_NOTYPE)
			continue;
		if (sym.st_shndx == SHN_UNDEF ||
		    sym.st_shndx >= SHN_LORESERVE ||
		    sym.st_shndx >= shnum)
			continue;
		tscn = elf_getscn(elf, sym.st_shndx);
		if (!tscn || !gelf_getshdr(tscn, &tsh) ||
		    !(tsh.sh_flags & SHF_EXECINSTR) ||
		    !(tsh.sh_flags & SHF_ALLOC))
			continue;
		/*
		 * perf takes a label (STT_NOTYPE) only when it is visible
		 * and in a section named like "*text*" (elf_sym__is_label,
		 * elf_sec__is_text): _init in .init is not a symbol to perf.
		 */
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (name && sa_is_mapping_sym(name)) {
			if (arm || d->pub.arch == SA_ARCH_AARCH64) {
				int err = sa_dso_add_mapsym(d, sym.st_value &
							    ~1ULL, name[1]);

				if (err)
					return err;
			}
			continue;
		}
		if (type == STT_NOTYPE) {
			const char *sname = shstrndx_ok ?
				elf_strptr(elf, shstrndx, tsh.sh_name) :
				NULL;
			int vis = GELF_ST_VISIBILITY(sym.st_other);

			if (!sname || !strstr(sname, "text") ||
			    vis == STV_HIDDEN || vis == STV_INTERNAL)
				continue;
		}
		if (!name || !name[0])
			continue;
		value = sym.st_value;
		if (d->nr_syms >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			void *p;

			if (d->nr_syms >= SA_IMAGE_SYMS_MAX) {
				sa_warn("%s: more than %u symbols (the limit); "
					"the rest are ignored\n", d->file,
					SA_IMAGE_SYMS_MAX);
				return 0;
			}
			p = reallocarray(d->syms, ncap, sizeof(*d->syms));
			if (!p)
				return -ENOMEM;
			d->syms = p;
			*cap = ncap;
		}
		s = &d->syms[d->nr_syms++];
		memset(s, 0, sizeof(*s));
		s->thumb = arm && type == STT_FUNC && (value & 1);
		if (arm)
			value &= ~1ULL;
		s->pub.name = name;
		s->pub.start = value;	/* ELF address; biased later */
		s->pub.size = sym.st_size;
		s->pub.dso = &d->pub;
		s->bind = GELF_ST_BIND(sym.st_info);
		s->type = type;
		/* the end of the section bounds a label */
		s->end = tsh.sh_addr + tsh.sh_size;
	}
	return 0;
}

/* Keeps @str (malloc'd) until @d is freed; frees it and returns NULL
 * when it cannot.
 */
static char *sa_dso_keep(struct sa_idso *d, char *str)
{
	if (!str)
		return NULL;
	if (sa_grow((void **)&d->strs, &d->cap_strs, d->nr_strs,
		    sizeof(*d->strs), 2 * (size_t)SA_IMAGE_SYMS_MAX + 1)) {
		free(str);
		return NULL;
	}
	d->strs[d->nr_strs++] = str;
	return str;
}

/* A GOT slot and the dynamic symbol its relocation names. */
struct sa_gotsym {
	uint64_t slot;		/* ELF address */
	const char *name;	/* in the dynamic string table */
};

static int sa_gotsym_cmp(const void *pa, const void *pb)
{
	const struct sa_gotsym *a = pa, *b = pb;

	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

static bool sa_is_slot_reloc(unsigned int machine, unsigned int type)
{
	switch (machine) {
	case EM_X86_64:
		return type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT;
	case EM_AARCH64:
		return type == R_AARCH64_JUMP_SLOT ||
		       type == R_AARCH64_GLOB_DAT;
	}
	return false;
}

/*
 * Collects the GOT slots that .rela.plt (JUMP_SLOT) and .rela.dyn
 * (GLOB_DAT, the slots of .plt.got) fill with a named dynamic symbol.
 */
static int sa_dso_got_slots(struct sa_idso *d, struct sa_gotsym **out,
			    size_t *nr_out)
{
	struct sa_gotsym *g = NULL;
	size_t nr = 0, cap = 0;
	Elf_Scn *scn = NULL;
	unsigned int machine = d->ehdr.e_machine;

	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh, ssh;
		Elf_Scn *sscn;
		Elf_Data *data, *sdata;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize)
			continue;
		sscn = elf_getscn(d->elf, sh.sh_link);
		if (!sscn || !gelf_getshdr(sscn, &ssh) ||
		    ssh.sh_type != SHT_DYNSYM || !ssh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		sdata = elf_getdata(sscn, NULL);
		if (!data || !sdata)
			continue;
		n = data->d_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;

			if (!gelf_getrela(data, (int)i, &r))
				break;
			if (!sa_is_slot_reloc(machine,
					      GELF_R_TYPE(r.r_info)) ||
			    !GELF_R_SYM(r.r_info) ||
			    !gelf_getsym(sdata, (int)GELF_R_SYM(r.r_info),
					 &sym))
				continue;
			name = elf_strptr(d->elf, ssh.sh_link, sym.st_name);
			if (!name || !name[0])
				continue;
			if (sa_grow((void **)&g, &cap, nr, sizeof(*g),
				    SA_IMAGE_SYMS_MAX))
				break;	/* the rest stay unnamed */
			g[nr].slot = r.r_offset;
			g[nr++].name = name;
		}
	}
	if (nr)
		qsort(g, nr, sizeof(*g), sa_gotsym_cmp);
	*out = g;
	*nr_out = nr;
	return 0;
}

static const char *sa_got_name(const struct sa_gotsym *g, size_t nr,
			       uint64_t slot)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr && g[lo].slot == slot ? g[lo].name : NULL;
}

static uint32_t sa_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * The GOT slot a PLT stub at @addr (@len bytes at @p) jumps through, or
 * 0 when the stub does not load one (the lazy-binding header, and the
 * lazy entries of an IBT .plt that only push an index).  x86-64: the
 * stub is "jmp *disp(%rip)", possibly after endbr64 and with a bnd
 * prefix (ld's .plt, .plt.sec and .plt.got).  AArch64: "adrp x16, page;
 * ldr x17, [x16, #off]" at the start, after "bti c" or not.
 */
static uint64_t sa_plt_slot(unsigned int machine, const uint8_t *p,
			    size_t len, uint64_t addr)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t k = 0;

	if (machine == EM_X86_64) {
		if (len >= 4 && !memcmp(p, endbr64, 4))
			k = 4;
		if (k < len && p[k] == 0xf2)	/* bnd */
			k++;
		if (k + 6 > len || p[k] != 0xff || p[k + 1] != 0x25)
			return 0;
		return addr + k + 6 + (int64_t)(int32_t)sa_le32(p + k + 2);
	}
	if (machine == EM_AARCH64) {
		uint32_t adrp, ldr;
		int64_t page;

		if (len >= 4 && sa_le32(p) == 0xd503245f)	/* bti c */
			k = 4;
		if (k + 8 > len)
			return 0;
		adrp = sa_le32(p + k);
		ldr = sa_le32(p + k + 4);
		/* adrp x16 and ldr x17, [x16, #imm12 * 8] */
		if ((adrp & 0x9f00001f) != 0x90000010 ||
		    (ldr & 0xffc003ff) != 0xf9400211)
			return 0;
		page = (int64_t)(((adrp >> 29) & 3) | ((adrp >> 3) & ~3u &
							0x1ffffc));
		page = (page ^ 0x100000) - 0x100000;	/* 21-bit signed */
		/* unsigned arithmetic: a page below wraps as adrp's does */
		return ((addr + k) & ~0xfffULL) + ((uint64_t)page << 12) +
		       ((ldr >> 10) & 0xfff) * 8;
	}
	return 0;
}

/* How far apart PLT stubs start: ld's x86-64 entries are 16 bytes,
 * those of a non-IBT .plt.got 8 (its sh_entsize says which).  AArch64
 * stubs are 16 or 24 bytes (BTI, PAC): they are found by scanning each
 * instruction.
 */
static size_t sa_plt_step(unsigned int machine, const GElf_Shdr *sh)
{
	if (machine == EM_AARCH64)
		return 4;
	if (sh->sh_entsize == 8 || sh->sh_entsize == 16)
		return sh->sh_entsize;
	return 16;
}

/*
 * Names the stubs of .plt, .plt.sec and .plt.got "SYMBOL@plt", as
 * objdump -d and perf do: each stub jumps through a GOT slot, and the
 * relocation of that slot names the dynamic symbol (bfd's
 * elf_x86_64_get_synthetic_symtab reads the stubs the same way).
 * Best effort: a stub whose slot has no named relocation stays
 * unnamed, as it does for objdump.
 */
static int sa_dso_plt_syms(struct sa_idso *d, size_t *cap)
{
	unsigned int machine = d->ehdr.e_machine;
	struct sa_gotsym *g;
	size_t nr_g, shstrndx;
	Elf_Scn *scn = NULL;
	int err = 0;

	if (machine != EM_X86_64 && machine != EM_AARCH64)
		return 0;
	if (elf_getshdrstrndx(d->elf, &shstrndx))
		return 0;
	err = sa_dso_got_slots(d, &g, &nr_g);
	if (err || !nr_g) {
		free(g);
		return err;
	}
	while (!err && (scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;
		const char *sname;
		Elf_Data *data;
		size_t es, off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		sname = elf_strptr(d->elf, shstrndx, sh.sh_name);
		if (!sname || (strcmp(sname, ".plt") &&
			       strcmp(sname, ".plt.sec") &&
			       strcmp(sname, ".plt.got")))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size > sh.sh_size)
			continue;
		es = sa_plt_step(machine, &sh);
		for (off = 0; off + es <= data->d_size; off += es) {
			const uint8_t *p = (const uint8_t *)data->d_buf + off;
			size_t len = machine == EM_X86_64 ? es : data->d_size - off;
			uint64_t slot = sa_plt_slot(machine, p, len,
						    sh.sh_addr + off);
			const char *name = slot ? sa_got_name(g, nr_g, slot) :
						  NULL;
			struct sa_isym *s;
			char *pname;

			if (!name)
				continue;
			if (asprintf(&pname, "%s@plt", name) < 0 ||
			    !sa_dso_keep(d, pname)) {
				err = -ENOMEM;
				break;
			}
			if (sa_grow((void **)&d->syms, cap, d->nr_syms,
				    sizeof(*d->syms), SA_IMAGE_SYMS_MAX))
				break;	/* the symbol limit: warned above */
			s = &d->syms[d->nr_syms++];
			memset(s, 0, sizeof(*s));
			s->pub.name = pname;
			s->pub.start = sh.sh_addr + off;
			/* AArch64: up to the next stub (a label) */
			s->pub.size = machine == EM_X86_64 ? es : 0;
			s->pub.dso = &d->pub;
			s->bind = STB_GLOBAL;
			s->type = STT_FUNC;
			s->end = sh.sh_addr + sh.sh_size;
			if (machine == EM_AARCH64)	/* past adrp, ldr */
				off += sa_le32(p) == 0xd503245f ? 8 : 4;
		}
	}
	free(g);
	return err;
}

/*
 * Demangles a C++ or Rust linkage name as objdump -d -C does
 * (DMGL_PARAMS | DMGL_ANSI; libiberty's automatic style tries Rust,
 * legacy and v0, then the Itanium C++ ABI).  A "@plt" suffix is kept
 * after the demangled name.  Returns a malloc'd string or NULL when
 * @name is not mangled (or cannot be demangled: it is then shown as
 * it is).
 */
static char *sa_demangle(const char *name)
{
	size_t len = strlen(name), base = len;
	char *dm, *buf, *out;

	if (strncmp(name, "_Z", 2) && strncmp(name, "_R", 2))
		return NULL;
	if (len > 4 && !strcmp(name + len - 4, "@plt"))
		base = len - 4;
	if (base == len)
		return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
	buf = strndup(name, base);
	if (!buf)
		return NULL;
	dm = cplus_demangle(buf, DMGL_PARAMS | DMGL_ANSI);
	free(buf);
	if (!dm || asprintf(&out, "%s@plt", dm) < 0)
		out = NULL;
	free(dm);
	return out;
}

int sa_dso_read_syms(struct sa_idso *d)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0, i, n;
	int err;

	while ((scn = elf_nextscn(d->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		err = sa_dso_read_symtab(d, d->elf, d->fm.size, scn, &sh,
					 &cap);
		if (err)
			return err;
	}
	/* a stripped binary's full symbol table is in its debug file */
	while (d->dbg_elf && (scn = elf_nextscn(d->dbg_elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		err = sa_dso_read_symtab(d, d->dbg_elf, d->dbg_fm.size, scn,
					 &sh, &cap);
		if (err)
			return err;
	}
	err = sa_dso_plt_syms(d, &cap);
	if (err)
		return err;
	if (d->nr_mapsyms) {
		size_t k;

		qsort(d->mapsyms, d->nr_mapsyms, sizeof(*d->mapsyms),
		      sa_mapsym_cmp);
		for (k = 0; k < d->nr_mapsyms; k++)
			d->mapsyms[k].addr += d->pub.bias;
	}
	if (!d->nr_syms)
		return 0;
	qsort(d->syms, d->nr_syms, sizeof(*d->syms), sa_isym_cmp);
	/* one symbol per address: the first is the best (see the sort);
	 * the others stay findable by name
	 */
	d->aliases = calloc(d->nr_syms, sizeof(*d->aliases));
	if (!d->aliases)
		return -ENOMEM;
	for (i = 1, n = 1; i < d->nr_syms; i++) {
		if (d->syms[i].pub.start == d->syms[n - 1].pub.start) {
			if (strcmp(d->syms[i].pub.name,
				   d->syms[n - 1].pub.name)) {
				d->aliases[d->nr_aliases].name =
					d->syms[i].pub.name;
				d->aliases[d->nr_aliases++].sym = n - 1;
			}
			continue;
		}
		d->syms[n++] = d->syms[i];
	}
	d->nr_syms = n;
	for (i = 0; i < n; i++) {
		struct sa_isym *s = &d->syms[i];
		uint64_t next = i + 1 < n ? d->syms[i + 1].pub.start :
					    UINT64_MAX;

		if (s->pub.size) {
			s->end = s->pub.start + s->pub.size;
			if (s->end < s->pub.start)
				s->end = UINT64_MAX;
		} else if (next < s->end) {
			s->end = next;
		}
		if (s->end < s->pub.start)	/* outside its section */
			s->end = s->pub.start + 1;
		s->pub.start += d->pub.bias;
		s->end += d->pub.bias;
	}
	return 0;
}

/* The last symbol of @d starting at or below @addr, or NULL. */
static const struct sa_isym *sa_dso_sym_below(const struct sa_idso *d,
					      uint64_t addr)
{
	size_t lo = 0, hi = d->nr_syms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->syms[mid].pub.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &d->syms[lo - 1] : NULL;
}

const char *sa_sym_demangled(const struct sa_sym *sym)
{
	/*
	 * Demangling every symbol at load would cost libstdc++'s 6000 names
	 * some 50 ms per window; only the functions a trace reaches are
	 * asked for.  The image owns symbol and dso: the const is the
	 * callers' view, not the storage's.
	 */
	struct sa_isym *s;
	struct sa_idso *d;

	if (!sym)
		return NULL;
	s = (struct sa_isym *)to_isym(sym);
	if (!s->dm_tried) {
		d = (struct sa_idso *)((char *)sym->dso -
				       offsetof(struct sa_idso, pub));
		/* without memory the name is shown mangled */
		s->demangled = sa_dso_keep(d, sa_demangle(sym->name));
		s->dm_tried = true;
	}
	return s->demangled;
}

const struct sa_sym *sa_image_symbolize(const struct sa_image *img,
					uint64_t addr)
{
	const struct sa_section *s;
	const struct sa_isym *sym;

	if (!img)
		return NULL;
	s = sa_sec_find(img, addr);
	if (!s || !s->dso)
		return NULL;
	sym = sa_dso_sym_below(s->dso, addr);
	if (!sym || addr >= sym->end)
		return NULL;
	return &sym->pub;
}

char sa_image_code_kind(const struct sa_image *img, uint64_t addr,
			uint64_t *next)
{
	const struct sa_section *s = sa_sec_find(img, addr);
	const struct sa_idso *d;
	size_t lo = 0, hi;

	*next = UINT64_MAX;
	if (!s || !s->dso || !s->dso->nr_mapsyms)
		return 0;
	d = s->dso;
	hi = d->nr_mapsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->mapsyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->nr_mapsyms)
		*next = d->mapsyms[lo].addr;
	return lo ? d->mapsyms[lo - 1].kind : 0;
}

uint64_t sa_image_next_sym_start(const struct sa_image *img, uint64_t addr)
{
	const struct sa_section *s = sa_sec_find(img, addr);
	const struct sa_isym *sym;
	size_t i;

	if (!s || !s->dso || !s->dso->nr_syms)
		return UINT64_MAX;
	sym = sa_dso_sym_below(s->dso, addr);
	i = sym ? (size_t)(sym - s->dso->syms) + 1 : 0;
	return i < s->dso->nr_syms ? s->dso->syms[i].pub.start : UINT64_MAX;
}

const struct sa_sym *sa_image_find_symbol(const struct sa_image *img,
					  const char *name)
{
	size_t i, j;

	if (!img || !name)
		return NULL;
	for (i = 0; i < img->nr_dsos; i++) {
		const struct sa_idso *d = img->dsos[i];

		for (j = 0; j < d->nr_syms; j++)
			if (!strcmp(d->syms[j].pub.name, name))
				return &d->syms[j].pub;
		for (j = 0; j < d->nr_aliases; j++)
			if (!strcmp(d->aliases[j].name, name))
				return &d->syms[d->aliases[j].sym].pub;
	}
	return NULL;
}

const struct sa_dso *sa_image_dso(const struct sa_image *img, uint64_t addr)
{
	const struct sa_section *s;

	if (!img)
		return NULL;
	s = sa_sec_find(img, addr);
	return s && s->dso ? &s->dso->pub : NULL;
}

/* One symbol table of sa_elf_find_symbol(): the matches, counted. */
static size_t sa_elf_scan_named(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
				const char *name, unsigned int flags,
				struct sa_elf_sym *out, size_t max, size_t nr,
				uint64_t *last)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t i, n;

	if (!d || !sh->sh_entsize)
		return nr;
	n = sh->sh_size / sh->sh_entsize;
	if (n > SA_ELF_SCAN_MAX)
		n = SA_ELF_SCAN_MAX;
	for (i = 0; i < n; i++) {
		struct sa_elf_sym m = { .offset = UINT64_MAX };
		GElf_Sym sym;
		GElf_Shdr ts;
		Elf_Scn *tscn;
		const char *nm;
		bool func = flags & SA_ELF_SYM_FUNC;

		if (!gelf_getsym(d, (int)i, &sym) || !sym.st_name ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		m.type = GELF_ST_TYPE(sym.st_info);
		if (func ? (m.type != STT_FUNC && m.type != STT_GNU_IFUNC) ||
			   sym.st_shndx >= SHN_LORESERVE :
			   !sym.st_value)
			continue;
		nm = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!nm || strcmp(nm, name))
			continue;
		tscn = sym.st_shndx < SHN_LORESERVE ?
		       elf_getscn(e, sym.st_shndx) : NULL;
		if (tscn && gelf_getshdr(tscn, &ts))
			m.offset = sym.st_value - ts.sh_addr + ts.sh_offset;
		else if (func)
			continue;
		/* an alias at the same place as the match before */
		if (nr && m.offset == *last)
			continue;
		*last = m.offset;
		m.value = sym.st_value;
		m.size = sym.st_size;
		if (nr < max)
			out[nr] = m;
		nr++;
	}
	return nr;
}

int sa_elf_find_symbol(const char *path, const char *name,
		       unsigned int flags, struct sa_elf_sym *out, size_t max,
		       struct sa_errinfo *ei)
{
	static const uint32_t types[] = { SHT_SYMTAB, SHT_DYNSYM };
	uint64_t last = 0;
	size_t t, nr = 0;
	Elf *e;
	int fd, err;

	sa_errinfo_clear(ei);
	if (!path || !name || (!out && max))
		return sa_errinfo_set(ei, -EINVAL, SA_NO_OFFSET,
				      "symbol lookup: no path or name");
	err = sa_elf_open_path(path, &fd, &e, ei);
	if (err)
		return err;
	/* .dynsym only when .symtab has none of that name (stripped) */
	for (t = 0; t < 2 && !nr; t++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(e, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == types[t])
				nr = sa_elf_scan_named(e, scn, &sh, name,
						       flags, out, max, nr,
						       &last);
		}
	}
	elf_end(e);
	close(fd);
	return nr > INT32_MAX ? INT32_MAX : (int)nr;
}
