# tests/bench/bench.mk -- the benchmark tools, built with plain gcc -O2.
# Not part of the autotools build: make -C tests/bench -f bench.mk O=outdir
# (named bench.mk because .gitignore ignores every "Makefile").
CC ?= gcc
CFLAGS ?= -O2 -g -Wall -Wextra
O ?= .
all: $(O)/popload $(O)/mkmail $(O)/tcpceil
$(O)/popload: popload.c
	$(CC) $(CFLAGS) -o $@ popload.c -lssl -lcrypto
$(O)/mkmail: mkmail.c
	$(CC) $(CFLAGS) -o $@ mkmail.c -lm
$(O)/tcpceil: tcpceil.c
	$(CC) $(CFLAGS) -o $@ tcpceil.c
clean:
	rm -f $(O)/popload $(O)/mkmail $(O)/tcpceil
.PHONY: all clean
