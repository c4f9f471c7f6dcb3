#!/bin/bash
# The README's main job: configure the sample environment noninteractively
# into a throw-away root and print the stored answers.
set -euo pipefail
cd "$(dirname "$0")/.."
confpack=${CONFPACK:-target/release/confpack}
root=$(mktemp -d /tmp/confpack-demo.XXXXXX)
echo "# throw-away root: $root"
"$confpack" validate sample-env.xml
# The database password is a user question without a default: preseed it
# from stdin (never on the command line), as an operator or Ansible would.
head -c 12 /dev/urandom | base64 | "$confpack" --root "$root" set --secret webshop/db.password -
DEBIAN_FRONTEND=noninteractive "$confpack" --root "$root" configure \
    --env-file sample-env.xml --machine 10.10.0.21
"$confpack" --root "$root" answers
