# lgreen — thin wrappers.  The C source list lives in the rockspec only.
ROCKSPEC = rockspec/lgreen-scm-1.rockspec
SRC     := $(shell sed -n 's/"\(c\/[^"]*\)"/\n\1\n/gp' $(ROCKSPEC) | grep '^c/')
HDR      = $(wildcard c/*.h)
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
XCFLAGS  = -std=gnu11 -fPIC -fvisibility=hidden -funwind-tables \
           -fstack-clash-protection -Wall -Wextra -Wno-unused-parameter
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

.PHONY: all build test demo bench check-valgrind check-asan check-aarch64 clean deps

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

clean:
	rm -rf $(BUILD)
