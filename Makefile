# manabi build.  `make` builds build/manabi and build/libmanabi.a; `make test` runs every test.
# `make SAN=1 test` does the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-san/).
SAN     ?= 0
BLAS_INC ?= /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB ?= /usr/lib/x86_64-linux-gnu/openblas-openmp

ifeq ($(SAN),1)
  BUILD   := build-san
  SANFLAGS := -fsanitize=address,undefined
  OPT     := -O1 -g $(SANFLAGS) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
  BUILD   := build
  OPT     := -O3 -g
endif

# The libraries found through pkg-config (README: why each one).
PKGS    := json-c libpcre2-8 libutf8proc zlib libzstd libxxhash libxml-2.0 sqlite3

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -fopenmp $(OPT) \
           -Isrc -I$(BLAS_INC) $(shell pkg-config --cflags $(PKGS))
LDLIBS  += -fopenmp -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -lopenblas $(shell pkg-config --libs $(PKGS)) -lm
LDFLAGS += $(SANFLAGS)

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

all: $(BUILD)/manabi $(BUILD)/test_manabi

$(BUILD)/libmanabi.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/manabi: $(CLI_OBJ) $(BUILD)/libmanabi.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_manabi: $(TEST_OBJ) $(BUILD)/libmanabi.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# Every test: the C unit tests, the PyTorch reference, the command-line and end-to-end tests.
test: all
	BUILD=$(BUILD) bash tests/run_all.sh

# Benchmarks (bench/*.c), each linked against the library.
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)
bench: $(BENCH_BIN)
$(BUILD)/bench_%: $(BUILD)/bench/%.o $(BUILD)/libmanabi.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build build-san

.PHONY: all test bench clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_SRC:%.c=$(BUILD)/%.d)
