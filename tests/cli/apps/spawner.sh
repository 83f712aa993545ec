#!/bin/bash
# A shell app that forks a grandchild ignoring SIGTERM (PM2's E2 case), and
# ignores SIGTERM itself: only the group stop with escalation ends both.
trap '' TERM
bash -c "trap '' TERM; echo grandchild \$\$; exec sleep 1000" &
echo "spawner $$"
wait
