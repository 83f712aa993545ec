#!/usr/bin/env bash
# Writes a line, then "abc" without a newline, and crashes: its partial
# last line must not be joined to the next process's first line.
echo "first $$"
printf 'abc'
exit 1
