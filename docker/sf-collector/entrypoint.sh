#!/bin/sh
# sf-collector container entrypoint: upstream sf-collector's environment -> sfcollector flags.
#
#   SOCK_FILE    -u  unix socket the processor listens on (default /sock/sysflow.sock)
#   OUTPUT       -w  trace file, or directory when it ends in '/' (default: none, socket only)
#   INTERVAL     -G  seconds between headers on the socket / file rotations (default: none)
#   EXPORTER_ID  -e  exporter name in every SFHeader (default: the collector's, the host name)
#   NODE_IP          read by sfcollector itself: the node address in every SFHeader
#   FILTER           upstream's sysdig filter; sfcollector has no filter language: ignored, with a warning
#
# As in upstream's image, a variable set to the empty string drops its flag. Container arguments
# are extra sfcollector flags (`-v`, or `-- CMD ARGS` to trace one command's process tree instead
# of the whole host); an argument that does not start with '-' is run as a command instead.
#
# SFCOLLECTOR names the program (default /usr/local/sysflow/bin/sfcollector; tests override it).
set -eu

case "${1:-}" in
  '' | -*) ;;
  *) exec "$@" ;;
esac

SFCOLLECTOR="${SFCOLLECTOR:-/usr/local/sysflow/bin/sfcollector}"
SOCK_FILE="${SOCK_FILE-/sock/sysflow.sock}"
OUTPUT="${OUTPUT-}"
INTERVAL="${INTERVAL-}"
EXPORTER_ID="${EXPORTER_ID-}"

if [ -n "${FILTER:-}" ]; then
  echo "sf-collector: FILTER is not supported by sfcollector (no sysdig filter language); ignored: $FILTER" >&2
fi
if [ -z "$SOCK_FILE" ] && [ -z "$OUTPUT" ]; then
  echo "sf-collector: nowhere to write: set SOCK_FILE (processor socket) and/or OUTPUT (trace file)" >&2
  exit 2
fi

# Flags are prepended, so that container arguments (possibly `-- CMD ARGS`) stay last.
if [ -n "$EXPORTER_ID" ]; then set -- -e "$EXPORTER_ID" "$@"; fi
if [ -n "$INTERVAL" ]; then set -- -G "$INTERVAL" "$@"; fi
if [ -n "$OUTPUT" ]; then set -- -w "$OUTPUT" "$@"; fi
if [ -n "$SOCK_FILE" ]; then set -- -u "$SOCK_FILE" "$@"; fi

exec "$SFCOLLECTOR" "$@"
