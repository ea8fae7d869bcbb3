# lgreen — thin wrappers.  The C source list lives in the rockspec only.
ROCKSPEC = rockspec/lgreen-scm-1.rockspec
SRC     := $(shell sed -n 's/"\(c\/[^"]*\)"/\n\1\n/gp' $(ROCKSPEC) | grep '^c/')
HDR      = $(wildcard c/*.h)
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# The flags every build needs (DESIGN rules 1, 3, 4), the rock's included;
# -frecord-gcc-switches keeps them in core.so for .ci/run to check.
XCFLAGS  = -std=gnu11 -fPIC -fvisibility=hidden -funwind-tables \
           -fstack-clash-protection -frecord-gcc-switches \
           -Wall -Wextra -Wno-unused-parameter
LDLIBS   = -lev -lpthread -ldl
LUA51_INC ?= /usr/include/lua5.1
LUA52_INC ?= /usr/include/lua5.2
LUA53_INC ?= /usr/include/lua5.3
LUA54_INC ?= /usr/include/lua5.4
BUILD   ?= build

# Variants: UCONTEXT=1 portable switch; ASAN=1; VALGRIND=1 stack annotations.
ifeq ($(UCONTEXT),1)
XCFLAGS += -DLG_UCONTEXT=1
endif
ifeq ($(ASAN),1)
XCFLAGS += -DLG_ASAN=1 -fsanitize=address -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address
endif
ifeq ($(VALGRIND),1)
XCFLAGS += -DLG_VALGRIND=1
endif

SO51 = $(BUILD)/5.1/lgreen/core.so
SO52 = $(BUILD)/5.2/lgreen/core.so
SO53 = $(BUILD)/5.3/lgreen/core.so
SO54 = $(BUILD)/5.4/lgreen/core.so

.PHONY: all build test check demo bench check-valgrind check-asan check-aarch64 clean deps \
	rock rock-install print-xcflags

all build: $(SO51) $(SO52) $(SO53) $(SO54)

$(SO51): $(SRC) $(HDR) Makefile $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA51_INC) -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

$(SO52): $(SRC) $(HDR) Makefile $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA52_INC) -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

$(SO53): $(SRC) $(HDR) Makefile $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA53_INC) -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

$(SO54): $(SRC) $(HDR) Makefile $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA54_INC) -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

deps:
	@sh tools/deps.sh

test: deps
	@$(MAKE) --no-print-directory build
	@sh spec/run.sh

# The quick first run: LuaJIT only, tests not tagged #slow.
check: deps
	@sh spec/run.sh --quick

demo: deps
	@$(MAKE) --no-print-directory build
	@sh examples/run.sh

bench: deps
	@$(MAKE) --no-print-directory build
	@sh bench/run.sh

check-asan: deps
	@sh spec/run.sh --asan

check-valgrind: deps
	@sh spec/run.sh --valgrind

# The aarch64 switch, cross-built and run under qemu-user.
check-aarch64:
	@sh spec/c/check_aarch64.sh

# The rock (rockspec: make backend).  luarocks runs `make rock` with its
# CFLAGS, LUA_INCDIR and LIBEV_* dirs, then `make rock-install` with LIBDIR
# and LUADIR: the rock gets XCFLAGS like every build here.
LUA_INCDIR   ?= $(LUA51_INC)
LIBEV_INCDIR ?= /usr/include
LIBEV_LIBDIR ?= /usr/lib
ROCK_SO = $(BUILD)/rock/lgreen/core.so

rock:
	@mkdir -p $(dir $(ROCK_SO))
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA_INCDIR) -I$(LIBEV_INCDIR) -shared -o $(ROCK_SO) \
	  $(SRC) -L$(LIBEV_LIBDIR) $(LDFLAGS) $(LDLIBS)

rock-install:
	install -d $(LIBDIR)/lgreen $(LUADIR)/lgreen
	install -m 755 $(ROCK_SO) $(LIBDIR)/lgreen/core.so
	install -m 644 lua/lgreen/*.lua $(LUADIR)/lgreen/

print-xcflags:
	@echo $(XCFLAGS)

clean:
	rm -rf $(BUILD)

# lgreen inside nginx (optional): build/nginx/lgreen/nginx.so, built against
# nginx-dev's configured source tree (installed, or unpacked from the .debs
# by tools/nginx-debs.sh); skipped with one line when it cannot be had.
.PHONY: nginx-module
nginx-module: $(SO51)
	@sh nginx/build.sh $(BUILD) || [ $$? = 2 ]

# The embedding library: lgreen.core's sources as a shared library a C host
# links by name (lgreen.h), one per Lua ABI: liblgreen (LuaJIT, PUC 5.1) and
# liblgreen-5.4; the host brings Lua itself.  `make install` puts them,
# lgreen.h, pkg-config files (lgreen.pc, lgreen-5.4.pc), core.so and the
# Lua modules under DESTDIR/PREFIX.
.PHONY: lib install
PREFIX  ?= /usr/local
LIBDIR_ ?= $(PREFIX)/lib
INCDIR_ ?= $(PREFIX)/include
PCDIR   ?= $(LIBDIR_)/pkgconfig
LIB51 = $(BUILD)/5.1/liblgreen.so.0
LIB54 = $(BUILD)/5.4/liblgreen-5.4.so.0

lib: $(LIB51) $(LIB54)

$(LIB51): $(SRC) $(HDR) Makefile $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA51_INC) -shared -Wl,-soname,liblgreen.so.0 -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

$(LIB54): $(SRC) $(HDR) Makefile $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -I$(LUA54_INC) -shared -Wl,-soname,liblgreen-5.4.so.0 -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

# lgreen_pc NAME LIB LUAVER: the pkg-config file of one library.
lgreen_pc = printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR_)' 'includedir=$(INCDIR_)' '' \
	'Name: $(1)' 'Description: greenlets and an event hub for Lua $(3) (embedding API)' \
	"Version: $$(sed -n 's/^\#define LGREEN_VERSION "\(.*\)"/\1/p' c/lgreen.h)" \
	'Cflags: -I$${includedir}' \
	'Libs: -L$${libdir} -l$(2)' 'Libs.private: -lev -lpthread -ldl' \
	> $(DESTDIR)$(PCDIR)/$(1).pc

install: build lib
	install -d $(DESTDIR)$(LIBDIR_) $(DESTDIR)$(INCDIR_) $(DESTDIR)$(PCDIR) \
	  $(DESTDIR)$(LIBDIR_)/lua/5.1/lgreen $(DESTDIR)$(LIBDIR_)/lua/5.4/lgreen \
	  $(DESTDIR)$(PREFIX)/share/lua/5.1/lgreen $(DESTDIR)$(PREFIX)/share/lua/5.4/lgreen
	install -m 755 $(LIB51) $(LIB54) $(DESTDIR)$(LIBDIR_)/
	ln -sf liblgreen.so.0 $(DESTDIR)$(LIBDIR_)/liblgreen.so
	ln -sf liblgreen-5.4.so.0 $(DESTDIR)$(LIBDIR_)/liblgreen-5.4.so
	install -m 644 c/lgreen.h $(DESTDIR)$(INCDIR_)/
	$(call lgreen_pc,lgreen,lgreen,5.1 / LuaJIT)
	$(call lgreen_pc,lgreen-5.4,lgreen-5.4,5.4)
	install -m 755 $(SO51) $(DESTDIR)$(LIBDIR_)/lua/5.1/lgreen/core.so
	install -m 755 $(SO54) $(DESTDIR)$(LIBDIR_)/lua/5.4/lgreen/core.so
	install -m 644 lua/lgreen/*.lua $(DESTDIR)$(PREFIX)/share/lua/5.1/lgreen/
	install -m 644 lua/lgreen/*.lua $(DESTDIR)$(PREFIX)/share/lua/5.4/lgreen/
