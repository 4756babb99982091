#!/bin/sh
# sf-processor container entrypoint: upstream sf-processor's environment -> sfprocessor flags.
#
#   DRIVER       -driver     (default socket)
#   INPUT_PATH   input PATH  (default /sock/sysflow.sock: the socket the collector connects to)
#   CONFIG_PATH  -config     (default /usr/local/sysflow/conf/pipeline.json)
#   PLUGIN_DIR   -plugdir    (default /usr/local/sysflow/plugins)
#   DRIVER_DIR   -driverdir  (default /usr/local/sysflow/drivers)
#   LOG_LEVEL    -log        (default info)
#
# As in upstream's image, a variable set to the empty string drops its flag (or the input path).
# Container arguments are extra sfprocessor flags, e.g. `docker compose run --rm sf-processor -test`;
# an argument that does not start with '-' is run as a command instead (`... sf-processor sh`).
#
# Plugin settings need nothing here: sfprocessor itself reads <PROCESSOR>_<ATTR> variables
# (POLICYENGINE_MODE=enrich, EXPORTER_EXPORT=es, EXPORTER_SYSLOG_HOST=..., '.' written as '_').
# Upstream's compose file also sets EXPORTER_HOST, EXPORTER_PORT and EXPORTER_SOURCE, which name no
# attribute (sf-processor 0.7 ignores them); here they set syslog.host, syslog.port and
# syslog.source, unless EXPORTER_SYSLOG_HOST, _PORT or _SOURCE are given as well.
#
# SFPROCESSOR names the program (default /usr/local/sysflow/bin/sfprocessor; tests override it).
set -eu

case "${1:-}" in
  '' | -*) ;;
  *) exec "$@" ;;
esac

SFPROCESSOR="${SFPROCESSOR:-/usr/local/sysflow/bin/sfprocessor}"
DRIVER="${DRIVER-socket}"
INPUT_PATH="${INPUT_PATH-/sock/sysflow.sock}"
CONFIG_PATH="${CONFIG_PATH-/usr/local/sysflow/conf/pipeline.json}"
PLUGIN_DIR="${PLUGIN_DIR-/usr/local/sysflow/plugins}"
DRIVER_DIR="${DRIVER_DIR-/usr/local/sysflow/drivers}"
LOG_LEVEL="${LOG_LEVEL-info}"

if [ -n "${EXPORTER_HOST:-}" ]; then export EXPORTER_SYSLOG_HOST="${EXPORTER_SYSLOG_HOST:-$EXPORTER_HOST}"; fi
if [ -n "${EXPORTER_PORT:-}" ]; then export EXPORTER_SYSLOG_PORT="${EXPORTER_SYSLOG_PORT:-$EXPORTER_PORT}"; fi
if [ -n "${EXPORTER_SOURCE:-}" ]; then export EXPORTER_SYSLOG_SOURCE="${EXPORTER_SYSLOG_SOURCE:-$EXPORTER_SOURCE}"; fi
# mapped above; unset so that sfprocessor does not also see them as attributes 'host', 'port', 'source'
unset EXPORTER_HOST EXPORTER_PORT EXPORTER_SOURCE

# Flags first (prepended to the container arguments), the input path last.
if [ -n "$LOG_LEVEL" ]; then set -- -log "$LOG_LEVEL" "$@"; fi
if [ -n "$DRIVER_DIR" ]; then set -- -driverdir "$DRIVER_DIR" "$@"; fi
if [ -n "$PLUGIN_DIR" ]; then set -- -plugdir "$PLUGIN_DIR" "$@"; fi
if [ -n "$CONFIG_PATH" ]; then set -- -config "$CONFIG_PATH" "$@"; fi
if [ -n "$DRIVER" ]; then set -- -driver "$DRIVER" "$@"; fi
if [ -n "$INPUT_PATH" ]; then set -- "$@" "$INPUT_PATH"; fi

exec "$SFPROCESSOR" "$@"
