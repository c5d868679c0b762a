#!/usr/bin/env bash
# One somlier command of a composite action, reported the one way every action reports it:
# stdout (the --json result) becomes the step output `result` behind a random delimiter (no
# value can end it early), stderr is the log, both are echoed, and a section of the job summary
# gives the outcome and the result (json) or the log (text). Exits with the command's status.
#
# usage: bash "$GITHUB_ACTION_PATH/../lib/run-somlier.sh" NAME TITLE json|log -- somlier ARGS...
set -uo pipefail
name=$1 title=$2 show=$3
shift 3
if [ "${1-}" = "--" ]; then shift; fi
label=""  # the command's words before its first option, e.g. "somlier online deploy"
for word in "$@"; do
  case $word in -*) break ;; esac
  label="${label:+$label }$word"
done
result="$RUNNER_TEMP/somlier-$name.json"
log="$RUNNER_TEMP/somlier-$name.log"
status=0
"$@" > "$result" 2> "$log" || status=$?
cat "$log" >&2
cat "$result"
delimiter="somlier-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
{
  echo "result<<$delimiter"
  cat "$result"
  echo "$delimiter"
} >> "$GITHUB_OUTPUT"
{
  echo "### $title"
  if [ "$status" -eq 0 ]; then
    echo "✅ \`$label\` succeeded"
  else
    echo "❌ \`$label\` failed (exit $status)"
  fi
  echo
  if [ "$show" = json ]; then echo '```json'; cat "$result"; else echo '```text'; cat "$log"; fi
  echo '```'
} >> "$GITHUB_STEP_SUMMARY"
exit "$status"
