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
