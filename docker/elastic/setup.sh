#!/bin/bash
# es-setup (compose profile "elastic"), run once Elasticsearch is healthy, in the Elasticsearch
# image (it has curl): sets the password of the built-in kibana_system user, which Kibana logs in
# with, and installs the SysFlow ECS index template (sf-processor also installs it when it starts
# with EXPORTER_ES_TEMPLATE=true and Elasticsearch is up; both are idempotent).
set -euo pipefail

: "${ELASTIC_PASSWORD:?es-setup: set ELASTIC_PASSWORD (e.g. in .env)}"
: "${KIBANA_PASSWORD:?es-setup: set KIBANA_PASSWORD (e.g. in .env)}"
es=http://elasticsearch:9200

# JSON string: escape backslashes and double quotes
pw=${KIBANA_PASSWORD//\\/\\\\}
pw=${pw//\"/\\\"}
curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
  -X POST "$es/_security/user/kibana_system/_password" -d "{\"password\":\"$pw\"}" >/dev/null
echo "es-setup: kibana_system password set"

curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
  -X PUT "$es/_index_template/sysflow-ecs" --data-binary @/sysflow-ecs-template.json >/dev/null
echo "es-setup: index template sysflow-ecs installed (indices sysflow-*)"
